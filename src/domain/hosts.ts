/** The default host names of a service's public ports (see DESIGN.md conventions). */
import type { PortSpec } from './service.ts';

export function portDns(domain: string, projectId: string, serviceId: string, portName: string): string {
  return `${portName}--${serviceId}--${projectId}.${domain}`.toLowerCase();
}

export function portHosts(domain: string, projectId: string, serviceId: string, port: Pick<PortSpec, 'name' | 'domains' | 'disableNfDomain'>, isFirstHttp: boolean): string[] {
  const custom = (port.domains ?? []).map((d) => d.toLowerCase());
  const useDefault = !(port.disableNfDomain && custom.length > 0);
  const hosts = [...custom];
  if (useDefault) {
    hosts.push(portDns(domain, projectId, serviceId, port.name));
    if (isFirstHttp) hosts.push(`${serviceId}.${projectId}.${domain}`.toLowerCase());
  }
  return hosts;
}

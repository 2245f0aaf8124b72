/**
 * The running web instances of a service as the autoscaler counts them: readiness from the service
 * controller's view, where each port answers from the runtime. Stopping and exited instances are left out, as
 * the HPA leaves out pods being deleted or failed.
 */
import { instancesOfService, type RuntimeDriver } from '../runtime/driver.ts';
import { parseServiceKey } from '../domain/ids.ts';
import type { InstanceView } from '../services/ports.ts';
import type { ScaledInstance } from './autoscaler.ts';

export async function webInstances(observer: { instancesOf(key: string): Promise<InstanceView[]> }, driver: Pick<RuntimeDriver, 'list' | 'listService'>, key: string): Promise<ScaledInstance[]> {
  const { projectId, serviceId } = parseServiceKey(key);
  const [views, observed] = await Promise.all([observer.instancesOf(key), instancesOfService(driver, projectId, serviceId)]);
  const byId = new Map(observed.map((i) => [i.id, i]));
  return views
    .filter((v) => v.processType === 'web' && v.state !== 'stopping' && v.state !== 'crashed')
    .map((v) => ({ id: v.id, ready: v.ready, ports: new Map((byId.get(v.id)?.endpoints ?? []).map((e) => [e.internalPort, `${e.host}:${e.port}`])) }));
}

/**
 * HAProxy's structure on disk and the seamless reload that loads it: the configuration (route backends and
 * idle spares, see spares.ts), the host, SNI, route and endpoint maps, `/routes` and the crt-list, checked
 * with `haproxy -c` before the master is asked to reload.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { renderEndpointsMap, renderRoutesMap } from './access-log-format.ts';
import { renderConfig, renderHostsMap, ROUTE_INFO_MAX_BYTES, SERVER_PREFIX, type RouterFiles } from './config.ts';
import type { CrtList } from './crt-list.ts';
import type { HaproxyMaster } from './master.ts';
import type { HaproxyPorts } from './router-options.ts';
import type { Backend } from './slots.ts';
import { spareSpec } from './spares.ts';
import { writeAtomic } from './structure.ts';
import { renderRouteInfo } from '../metrics.ts';

export interface ReloaderOptions {
  files: RouterFiles;
  bin: string | undefined;
  host: string;
  /** the access log is on (routes.map and endpoints.map are written, see access-log-format.ts) */
  accessLog: boolean;
  slotsPerBackend: number;
  ports: HaproxyPorts;
  crtList: CrtList;
  master: HaproxyMaster;
  logger?: { debug(o: object, m: string): void };
}

export class Reloader {
  /** the loaded configuration serves `/routes` (router metrics on and routes.prom small enough) */
  routeInfoServed = false;

  constructor(private readonly opts: ReloaderOptions) {}

  private get dir(): string {
    return path.dirname(this.opts.files.config);
  }

  writeStructure(backends: Backend[], hosts: Map<string, string>, sni: Map<string, string>, spares: string[]): void {
    const { files, ports } = this.opts;
    const idle = spares.map((name) => spareSpec(name, this.opts.slotsPerBackend));
    const routeInfo = ports.metricsPort !== undefined ? renderRouteInfo(backends.map((b) => b.route)) : '';
    this.routeInfoServed = ports.metricsPort !== undefined && Buffer.byteLength(routeInfo) <= ROUTE_INFO_MAX_BYTES;
    const cfg = renderConfig({
      dir: this.dir,
      bindHost: this.opts.host,
      port: ports.port,
      backends: [...backends, ...idle],
      hardStopAfterSeconds: 60,
      accessLog: this.opts.accessLog,
      ...(ports.tlsPort !== undefined ? { tls: { port: ports.tlsPort, passthrough: sni.size > 0 } } : {}),
      ...(ports.metricsPort !== undefined ? { metrics: { port: ports.metricsPort, routeInfo: this.routeInfoServed } } : {}),
    });
    if (ports.tlsPort !== undefined) this.opts.crtList.write();
    // Read by HAProxy when it loads the configuration, so written with it (the routes change only with it).
    if (ports.metricsPort !== undefined) writeAtomic(files.routeInfo, routeInfo);
    writeAtomic(files.hostsMap, renderHostsMap(hosts));
    if (this.opts.accessLog) {
      writeAtomic(files.routesMap, renderRoutesMap([...backends, ...idle]));
      writeAtomic(files.endpointsMap, renderEndpointsMap([...backends, ...idle], SERVER_PREFIX));
    }
    writeAtomic(files.sniMap, renderHostsMap(sni));
    writeAtomic(files.config, cfg);
  }

  validate(): Promise<void> {
    return new Promise((resolve, reject) =>
      execFile(this.opts.bin!, ['-c', '-q', '-f', this.opts.files.config], (err, stdout, stderr) => (err ? reject(new Error(`generated haproxy configuration is invalid: ${(stderr || stdout).trim().slice(-1500)}`)) : resolve())),
    );
  }

  /**
   * Seamless reload: write the configuration (with every slot as it is now, see renderConfig), check it,
   * ask the master to reload, and wait until the new worker answers on the admin socket.
   */
  async reload(backends: Backend[], hosts: Map<string, string>, sni: Map<string, string>, spares: string[]): Promise<void> {
    const { files, crtList } = this.opts;
    const oldConfig = fs.readFileSync(files.config, 'utf8');
    const oldMap = fs.readFileSync(files.hostsMap, 'utf8');
    const oldSni = fs.readFileSync(files.sniMap, 'utf8');
    const oldCrtList = crtList.applied;
    this.writeStructure(backends, hosts, sni, spares);
    try {
      await this.validate();
    } catch (err) {
      writeAtomic(files.config, oldConfig);
      writeAtomic(files.hostsMap, oldMap);
      writeAtomic(files.sniMap, oldSni);
      if (this.opts.ports.tlsPort !== undefined && oldCrtList !== crtList.applied) {
        writeAtomic(files.crtList, oldCrtList);
        crtList.applied = oldCrtList;
      }
      throw err;
    }
    await this.opts.master.reload();
    // Internal-source files of routes gone or no longer looking at internal traffic (the configuration
    // that named them is no longer loaded).
    const kept = new Set(backends.filter((b) => b.internal).map((b) => `${b.name}.acl`));
    for (const f of fs.readdirSync(files.internalDir)) if (f.endsWith('.acl') && !kept.has(f)) fs.rmSync(path.join(files.internalDir, f), { force: true });
    this.opts.logger?.debug({ backends: backends.length, hosts: hosts.size }, 'haproxy reloaded');
  }
}

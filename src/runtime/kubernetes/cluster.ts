/**
 * The connection to a cluster: the official client's typed APIs for objects, and plain HTTPS requests
 * (authenticated the same way, from the same kubeconfig) for what streams: pod logs, and the kubelet's
 * summary of resource usage through the API server's node proxy.
 *
 * Credentials: a kubeconfig file when one is named, else the in-cluster service account when slipway runs
 * in a Pod, else the default kubeconfig (`$KUBECONFIG` or `~/.kube/config`), as kubectl finds them.
 */
import https from 'node:https';
import http from 'node:http';
import { CoreV1Api, Exec, KubeConfig } from '@kubernetes/client-node';

export interface ClusterOptions {
  /** path of a kubeconfig file */
  kubeconfig?: string;
  /** in-cluster credentials (`/var/run/secrets/kubernetes.io/serviceaccount`) */
  inCluster?: boolean;
}

/** An API error's HTTP status, from the typed client's ApiException or a raw request. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  return typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
}

export class Cluster {
  readonly kc = new KubeConfig();
  readonly core: CoreV1Api;
  readonly exec: Exec;

  constructor(opts: ClusterOptions = {}) {
    if (opts.kubeconfig) this.kc.loadFromFile(opts.kubeconfig);
    else if (opts.inCluster) this.kc.loadFromCluster();
    else this.kc.loadFromDefault();
    if (!this.kc.getCurrentCluster()) throw new Error('no Kubernetes cluster is configured: name a kubeconfig (SLIPWAY_KUBECONFIG) or run in a Pod');
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.exec = new Exec(this.kc);
  }

  /**
   * A GET whose answer is streamed: resolves once the response headers arrived (an error status rejects with
   * its `statusCode`), with the response to read and a way to end it early.
   */
  async stream(pathAndQuery: string, signal?: AbortSignal): Promise<http.IncomingMessage> {
    const server = this.kc.getCurrentCluster()!.server;
    const url = new URL(pathAndQuery, server);
    const opts: https.RequestOptions = { method: 'GET', hostname: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, headers: {} };
    await this.kc.applyToHTTPSOptions(opts);
    const lib = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = lib.request({ ...opts, ...(signal ? { signal } : {}) }, (res) => {
        if ((res.statusCode ?? 500) >= 400) {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => reject(Object.assign(new Error(`GET ${url.pathname} answered ${res.statusCode}: ${text.slice(0, 300)}`), { statusCode: res.statusCode })));
          res.on('error', reject);
          return;
        }
        resolve(res);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** A GET read whole. */
  async get(pathAndQuery: string, signal?: AbortSignal): Promise<string> {
    const res = await this.stream(pathAndQuery, signal);
    res.setEncoding('utf8');
    let body = '';
    for await (const chunk of res) body += chunk;
    return body;
  }
}

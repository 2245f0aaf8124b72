/**
 * What the HAProxy router is started with (haproxy-router.ts), and the ports its configuration listens on.
 */
import type { AccessLogOutputs } from './access-log.ts';
import type { TcpPortRange } from '../tcp-ports.ts';

export interface HaproxyRouterOptions {
  host: string;
  /** 0 picks a free port before starting (HAProxy cannot report an ephemeral port back). */
  port: number;
  /** The router keeps its configuration, maps, sockets and pid file in `<dataDir>/router`. */
  dataDir: string;
  /** HTTPS port (0 picks a free one); TLS is off when unset. Needs `domain`; certificates live in `<dataDir>/tls/`. */
  tlsPort?: number;
  /** Base domain: the self-signed certificate is for `*.<domain>` and `<domain>`. */
  domain?: string;
  /** Prometheus exporter on 127.0.0.1 (0 picks a free port); off when unset. See ../metrics.ts. */
  metricsPort?: number;
  /** Ports for `TCP` routes (see ../tcp-ports.ts); without it TCP routes are not served. */
  tcpPorts?: TcpPortRange;
  /**
   * The access log, when set: HAProxy writes one JSON line per HTTP request (access-log-format.ts), handed on
   * as whole lines (`lines`) and, for per-release metrics, as the fields canary analysis reads (`requests`).
   */
  accessLog?: AccessLogOutputs;
  /** Defaults to the `haproxy` found on the PATH or in /usr/sbin. */
  haproxyBin?: string;
  /** Server slots a backend starts with; it grows (with a reload) when more endpoints arrive. */
  slotsPerBackend?: number;
  /** How long `stop()` lets in-flight requests finish before stopping HAProxy hard. */
  stopTimeoutMs?: number;
  logger?: { debug(o: object, m: string): void; info?(o: object, m: string): void; warn(o: object, m: string): void };
}

/** The ports HAProxy listens on: chosen at start, or those of the HAProxy adopted (the HTTP port is 0 before). */
export interface HaproxyPorts {
  port: number;
  tlsPort?: number;
  metricsPort?: number;
}

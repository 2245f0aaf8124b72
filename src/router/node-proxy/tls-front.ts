/**
 * The TLS port: HTTPS with ALPN `h2,http/1.1` and a certificate per SNI name, and in front of it the
 * listener that passes the connections of `tlsPassthrough` hosts through untouched.
 */
import type http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import tls from 'node:tls';
import { ensureSelfSigned, loadCertificates, pickCertificate, type CertificateSet, type TlsCertificate } from '../tls/certificates.ts';
import { parseClientHello } from './client-hello.ts';
import type { HttpProxy } from './http-proxy.ts';
import type { CompiledRoute } from './routes.ts';
import type { TcpRoutes } from './tcp-routes.ts';

/** How long a connection on the TLS port may take to send its ClientHello while passthrough routes exist. */
const CLIENT_HELLO_TIMEOUT_MS = 5000;

export interface CertificatesOptions {
  /** Certificates live in `<dataDir>/tls/` (see ../tls/certificates.ts). */
  dataDir?: string;
  logger?: { warn(o: object, m: string): void };
}

/** The certificates served, by file, with a TLS context each. */
export class Certificates {
  private certs?: CertificateSet;
  private certsCheckedAt = 0;
  private readonly contexts = new Map<string, { pem: string; context: tls.SecureContext }>();

  private constructor(
    private readonly opts: CertificatesOptions,
    private readonly selfSignedFile: string,
  ) {}

  /** `domain`: the self-signed certificate (made when missing) is for `*.<domain>` and `<domain>`. */
  static async load(opts: CertificatesOptions, domain: string): Promise<Certificates> {
    return new Certificates(opts, await ensureSelfSigned(opts.dataDir!, domain));
  }

  /** The certificate set, re-read from disk at most every 2 s, so a new user certificate is served without a restart. */
  certificates(): CertificateSet {
    if (!this.certs || Date.now() - this.certsCheckedAt > 2000) {
      this.certsCheckedAt = Date.now();
      try {
        this.certs = loadCertificates(this.opts.dataDir!, this.selfSignedFile, (file, err) => this.opts.logger?.warn({ file, err: err.message }, 'TLS certificate ignored'));
      } catch (err) {
        // The self-signed certificate cannot be read (removed under us): keep serving the set last read.
        if (!this.certs) throw err;
        this.opts.logger?.warn({ err: (err as Error).message }, 'TLS certificates not re-read; the last ones stay in use');
      }
    }
    return this.certs;
  }

  contextFor(cert: TlsCertificate): tls.SecureContext {
    const had = this.contexts.get(cert.file);
    if (had?.pem === cert.pem) return had.context;
    const context = tls.createSecureContext(contextOptions(cert));
    this.contexts.set(cert.file, { pem: cert.pem, context });
    return context;
  }
}

function contextOptions(cert: TlsCertificate): tls.SecureContextOptions {
  return { cert: cert.pem, key: cert.pem };
}

/** HTTPS with ALPN `h2,http/1.1`: HTTP/2 clients get h2, others HTTP/1.1 on the same port. */
export function createTlsServer(certs: Certificates, proxy: HttpProxy): http2.Http2SecureServer {
  const initial = certs.certificates();
  return http2.createSecureServer(
    {
      allowHTTP1: true,
      ...contextOptions(initial.selfSigned),
      SNICallback: (servername, cb) => {
        try {
          cb(null, certs.contextFor(pickCertificate(certs.certificates(), servername)));
        } catch (err) {
          cb(err as Error);
        }
      },
    },
    // The compatibility API: an HTTP/2 request reads like an HTTP/1 one (`:authority` instead of Host).
    (req, res) => proxy.handle(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse),
  );
}

/**
 * A connection on the TLS port. A ClientHello naming a passthrough host goes to that route's endpoints
 * as is (refused in maintenance, with no endpoint, or when the route has access policies, which cannot
 * be checked on encrypted traffic); anything else is terminated here. The socket itself is handed on, so
 * the client's address stays for access policies and X-Forwarded-For. A ClientHello that does not
 * arrive whole within CLIENT_HELLO_TIMEOUT_MS closes the connection.
 */
export function tlsConnection(socket: net.Socket, tlsServer: http2.Http2SecureServer, passthrough: Map<string, CompiledRoute>, sockets: Set<net.Socket>, tcp: TcpRoutes): void {
  const terminate = () => void tlsServer.emit('connection', socket);
  if (passthrough.size === 0) return terminate();
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  let buf: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), CLIENT_HELLO_TIMEOUT_MS);
  socket.once('close', () => clearTimeout(timer));
  const onError = () => socket.destroy();
  const onData = (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    const hello = parseClientHello(buf);
    if (hello.kind === 'incomplete') return;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.pause();
    const compiled = hello.kind === 'hello' && hello.serverName ? passthrough.get(hello.serverName) : undefined;
    if (!compiled) {
      // node:tls reads what is already buffered on the socket before its own reads.
      socket.unshift(buf);
      return terminate();
    }
    if (compiled.route.access) return void socket.destroy();
    tcp.pipeTcp(compiled, socket, buf);
  };
  socket.on('error', onError);
  socket.on('data', onData);
}

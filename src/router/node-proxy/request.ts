/** What the proxy reads off a client request, and the pages it answers itself. */
import type http from 'node:http';
import type tls from 'node:tls';

export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);
export const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** The Host header, or an HTTP/2 request's `:authority`. */
export function authorityOf(req: http.IncomingMessage): string {
  const h = req.headers.host ?? req.headers[':authority'];
  return typeof h === 'string' ? h : '';
}

export function isTls(req: http.IncomingMessage): boolean {
  return (req.socket as tls.TLSSocket).encrypted === true;
}

export function hasBody(req: http.IncomingMessage): boolean {
  return req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
}

/** A request header's (first) value, by lower-case name. */
export function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function answer(res: http.ServerResponse, status: number, html: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store', ...extra });
  res.end(html);
}

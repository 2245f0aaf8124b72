/**
 * Upgrades (WebSocket and the like): after the route's access policies, the request line and headers go
 * to an endpoint as they came (plus X-Forwarded-For/-Proto), then bytes flow both ways untouched.
 */
import type http from 'node:http';
import net from 'node:net';
import { evaluate } from '../access.ts';
import { accessRequest } from './access-request.ts';
import { hashKeyOf, type CompiledRoute } from './routes.ts';
import { isTls } from './request.ts';

export function proxyUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer, compiled: CompiledRoute | undefined): void {
  const decision = compiled ? evaluate(compiled.route.access, accessRequest(req, compiled.route)) : 'allow';
  if (decision !== 'allow') {
    const auth = decision.status === 401 ? `www-authenticate: ${decision.wwwAuthenticate}\r\n` : '';
    socket.end(`HTTP/1.1 ${decision.status} ${decision.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\n${auth}connection: close\r\ncontent-length: 0\r\n\r\n`);
    return;
  }
  const ep = compiled && !compiled.route.maintenance ? compiled.balancer.pick(undefined, hashKeyOf(compiled.route, req)) : undefined;
  if (!ep) {
    socket.end(`HTTP/1.1 ${compiled ? 503 : 404} ${compiled ? 'Service Unavailable' : 'Not Found'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    return;
  }
  const up = net.connect({ host: ep.host, port: ep.port });
  up.once('connect', () => {
    let head_ = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) head_ += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    head_ += `x-forwarded-for: ${req.socket.remoteAddress ?? ''}\r\nx-forwarded-proto: ${isTls(req) ? 'https' : 'http'}\r\n\r\n`;
    up.write(head_);
    if (head.length) up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
  const close = () => {
    up.destroy();
    socket.destroy();
  };
  up.on('error', () => {
    if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    close();
  });
  socket.on('error', close);
  socket.on('close', () => up.destroy());
  up.on('close', () => socket.destroy());
}

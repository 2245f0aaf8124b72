import type http from 'node:http';
import type { Route } from '../table.ts';
import { isInternal, type AccessRequest } from '../access.ts';

/** What the access policy looks at; a repeated header counts by its last occurrence, as in HAProxy. */
export function accessRequest(req: http.IncomingMessage, route: Route): AccessRequest {
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers[req.rawHeaders[i].toLowerCase()] = req.rawHeaders[i + 1];
  let url = req.url ?? '/';
  // An absolute-form target (`GET http://host/path`) is matched by its path, as HAProxy's `path` does.
  if (!url.startsWith('/')) url = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '') || '/';
  const q = url.indexOf('?');
  const ip = req.socket.remoteAddress ?? '';
  return { ip, headers, path: q < 0 ? url : url.slice(0, q), authorization: req.headers.authorization, internal: isInternal(route.internalSources, ip) };
}

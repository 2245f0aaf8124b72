/**
 * The web dashboard at /ui/: the static build of web/ (`npm run build:web`, run by `npm ci`), with
 * index.html answering every other /ui/ path so the app's own routes survive a reload. Public: the app
 * asks for a token and sends it on each API call. Hashed assets are cached for good, index.html never.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

export const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

const CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export default async function dashboard(app: FastifyInstance, opts: { root?: string } = {}): Promise<void> {
  const root = opts.root ?? DASHBOARD_DIR;
  app.get('/ui', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/', 301));

  if (!fs.existsSync(path.join(root, 'index.html'))) {
    app.get('/ui/*', { schema: { hide: true } }, async (_req, reply) =>
      reply.status(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run `npm run build:web` (npm ci runs it).\n'),
    );
    return;
  }

  await app.register(fastifyStatic, { root, serve: false, cacheControl: false, dotfiles: 'deny' });
  app.get('/ui/*', { schema: { hide: true } }, async (req, reply) => {
    const rel = (req.params as { '*': string })['*'];
    reply.header('x-content-type-options', 'nosniff').header('content-security-policy', CSP);
    if (rel && isFileUnder(root, rel)) {
      reply.header('cache-control', rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      return reply.sendFile(rel);
    }
    // A missing asset is a 404, not the app: a stale page asking for an old bundle must fail plainly.
    if (rel.startsWith('assets/')) return reply.callNotFound();
    reply.header('cache-control', 'no-cache').header('referrer-policy', 'no-referrer');
    return reply.sendFile('index.html');
  });
}

function isFileUnder(root: string, rel: string): boolean {
  const file = path.resolve(root, rel);
  if (!file.startsWith(root + path.sep)) return false;
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

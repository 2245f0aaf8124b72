/**
 * This control plane's name among the replicas on one database: generated on first start and kept in
 * `<data dir>/node-id`, so a restart on the same data directory is the same replica (its routing table
 * row, its log lines) and not a new one.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function nodeIdOf(dataDir: string): string {
  const file = path.join(dataDir, 'node-id');
  try {
    const id = fs.readFileSync(file, 'utf8').trim();
    if (/^[a-z0-9-]{1,63}$/.test(id)) return id;
  } catch {}
  const id = `node-${crypto.randomBytes(6).toString('hex')}`;
  fs.writeFileSync(file, id + '\n');
  return id;
}

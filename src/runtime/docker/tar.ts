/**
 * A minimal ustar writer for the Docker archive API (`PUT /containers/{id}/archive`): regular files and the
 * directories above them, owned by root. Enough for runtime files; no links, no long-name extensions.
 */

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, opts: { size: number; mode: number; type: '0' | '5'; mtime: number }): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    // Split at a slash so that the name fits in 100 bytes and the prefix in 155.
    let at = -1;
    for (let i = name.lastIndexOf('/', name.length - 2); i > 0; i = name.lastIndexOf('/', i - 1)) {
      if (Buffer.byteLength(name.slice(i + 1)) <= 100 && Buffer.byteLength(name.slice(0, i)) <= 155) {
        at = i;
        break;
      }
    }
    if (at < 0) throw new Error(`path too long for a tar entry: ${name}`);
    prefix = name.slice(0, at);
    base = name.slice(at + 1);
  }
  h.write(base, 0, 100, 'utf8');
  h.write(octal(opts.mode, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii');
  h.write(octal(0, 8), 116, 8, 'ascii');
  h.write(octal(opts.size, 12), 124, 12, 'ascii');
  h.write(octal(opts.mtime, 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii');
  h.write(opts.type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** A tar archive, to extract at `/`, holding each file at its absolute path (made relative) and its parent directories. */
export function tarOfFiles(files: { path: string; content: Buffer; mode?: number }[]): Buffer {
  const mtime = Math.floor(Date.now() / 1000);
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  for (const f of files) {
    const rel = f.path.replace(/^\/+/, '');
    const segments = rel.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/') + '/';
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      parts.push(header(dir, { size: 0, mode: 0o755, type: '5', mtime }));
    }
    parts.push(header(rel, { size: f.content.length, mode: f.mode ?? 0o644, type: '0', mtime }));
    parts.push(f.content);
    const pad = (BLOCK - (f.content.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

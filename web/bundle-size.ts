/** A Vite plugin that prints each emitted file's size and gzip size, and the total, after a build. */
import { gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

export function bundleSize(): Plugin {
  return {
    name: 'slipway-bundle-size',
    apply: 'build',
    generateBundle(_options, bundle) {
      const rows = Object.values(bundle).map((f) => {
        const bytes = Buffer.from(f.type === 'chunk' ? f.code : typeof f.source === 'string' ? f.source : Buffer.from(f.source));
        return { name: f.fileName, size: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
      });
      const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`.padStart(10);
      const lines = rows.sort((a, b) => b.size - a.size).map((r) => `  ${r.name.padEnd(40)}${kb(r.size)}${kb(r.gzip)} gzip`);
      const total = rows.reduce((t, r) => ({ size: t.size + r.size, gzip: t.gzip + r.gzip }), { size: 0, gzip: 0 });
      console.log(`dashboard bundle:\n${lines.join('\n')}\n  ${'total'.padEnd(40)}${kb(total.size)}${kb(total.gzip)} gzip`);
    },
  };
}

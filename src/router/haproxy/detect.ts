/** Where HAProxy is installed, if it is: the first `haproxy` on the PATH, else Debian's /usr/sbin/haproxy. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function haproxyAvailable(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of [...dirs, '/usr/sbin', '/usr/local/sbin']) {
    const candidate = path.join(dir, 'haproxy');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Memory-pool options for a build made with pool debugging (Debian's: `DEBUG_MEMORY_POOLS`), which tags
 * every pooled object and leaves the shared pool cache off: `-dMglobal,no-tag` gives the usual release
 * build's behaviour back, about 3% less CPU per proxied request here (bench/router.ts). Only the settings
 * this build reports as on (`-dMhelp` marks them with `*`) are changed; a build without the keywords gets
 * no option.
 */
export function poolOptions(bin: string): string[] {
  let options = poolOptionsOf.get(bin);
  if (options) return options;
  let help = '';
  try {
    help = execFileSync(bin, ['-dMhelp'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  } catch {
    // A build that does not know `-dMhelp` refuses it: it gets no option.
  }
  const flags: string[] = [];
  if (/^\s*\*\s*no-global\s*\|\s*global\s*\|/m.test(help)) flags.push('global');
  if (/^\s*\*\s*tag\s*\|\s*no-tag\s*\|/m.test(help)) flags.push('no-tag');
  options = flags.length ? [`-dM${flags.join(',')}`] : [];
  poolOptionsOf.set(bin, options);
  return options;
}

/** Read once per binary: the answer does not change while it is installed. */
const poolOptionsOf = new Map<string, string[]>();

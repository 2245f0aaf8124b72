/** Where HAProxy is installed, if it is: the first `haproxy` on the PATH, else Debian's /usr/sbin/haproxy. */
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

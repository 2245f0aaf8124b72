/**
 * The unprivileged user every addon server runs as. slipway may run as root (PostgreSQL refuses to), and a
 * database server needs no privileges: it gets a dedicated system user, `slipway-addon`, created on first
 * use when missing, or `nobody` where it cannot be created. Not root: the servers run as slipway's own user.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export const ADDON_USER_NAME = 'slipway-addon';

export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
  /** whether the server must drop to this user (slipway runs as root) */
  drop: boolean;
}

function lookup(name: string): { uid: number; gid: number } | undefined {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

export function ensureServerUser(log?: { warn(o: object, m: string): void }): ServerUser {
  if (process.getuid?.() !== 0) return { name: 'self', uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, drop: false };
  let found = lookup(ADDON_USER_NAME);
  if (!found) {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', ADDON_USER_NAME], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // Another platform on this machine may have created it meanwhile; the lookup below tells.
    }
    found = lookup(ADDON_USER_NAME);
  }
  if (found) return { name: ADDON_USER_NAME, ...found, drop: true };
  log?.warn({ user: ADDON_USER_NAME }, 'could not create the addon system user: addon servers run as nobody');
  return { name: 'nobody', uid: 65534, gid: 65534, drop: true };
}

/**
 * TLS for addons (`tlsEnabled`): one self-signed certificate per addon, for `127.0.0.1`, `localhost` and the
 * platform's domain, generated at its first TLS start and kept in `<addon dir>/tls/` (mode 0600). Each server
 * (primary and replicas) gets a copy in its own data directory, owned by the server's user, where the server
 * reads it (`<data>/tls/server.crt`, `server.key`). slipway's own clients check the server against it; the
 * credentials ask for TLS without verification (`sslmode=require`, `rediss://`), as Northflank's do.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';
import { chown } from './engines/run.ts';

export interface ServerTls {
  /** the certificate (its own CA), on the host: for slipway's clients */
  caFile: string;
  /** where the server reads its certificate and key */
  certPath: string;
  keyPath: string;
}

/** The TLS files of a server whose data directory is `dataDir`, seen by the server at `mountPath`. */
export function serverTls(dataDir: string, mountPath: string): ServerTls {
  return { caFile: path.join(dataDir, 'tls', 'server.crt'), certPath: `${mountPath}/tls/server.crt`, keyPath: `${mountPath}/tls/server.key` };
}

/** The addon's certificate, generated once (resolves to its files in `<addonRoot>/tls`). */
export async function addonCertificate(addonRoot: string, domain: string): Promise<{ cert: string; key: string }> {
  const dir = path.join(addonRoot, 'tls');
  const cert = path.join(dir, 'server.crt');
  const key = path.join(dir, 'server.key');
  if (fs.existsSync(cert) && fs.existsSync(key)) return { cert, key };
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const notBeforeDate = new Date(Date.now() - 3600_000);
  const names = [...new Set(['localhost', domain, `*.${domain}`])];
  const pems = await generate([{ name: 'commonName', value: 'slipway addon' }, { name: 'organizationName', value: 'slipway (self-signed)' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 10 * 365 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7 as const, ip: '127.0.0.1' }, ...names.map((value) => ({ type: 2 as const, value }))] },
    ],
  });
  fs.writeFileSync(`${key}.tmp`, pems.private, { mode: 0o600 });
  fs.writeFileSync(`${cert}.tmp`, pems.cert, { mode: 0o600 });
  fs.renameSync(`${key}.tmp`, key);
  fs.renameSync(`${cert}.tmp`, cert);
  return { cert, key };
}

/** Copy the addon's certificate into a server's data directory, owned by the server's user. */
export function installCertificate(files: { cert: string; key: string }, dataDir: string, user: { uid: number; gid: number }): void {
  const dir = path.join(dataDir, 'tls');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  chown(dir, user);
  for (const [from, name] of [[files.cert, 'server.crt'], [files.key, 'server.key']] as const) {
    const to = path.join(dir, name);
    fs.copyFileSync(from, to);
    fs.chmodSync(to, 0o600);
    chown(to, user);
  }
}

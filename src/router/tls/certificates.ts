/**
 * The router's TLS certificates, the same for both data planes:
 * - `<dataDir>/tls/self-signed.pem` (certificate + key): generated on first start for `*.<domain>` and
 *   `<domain>`, kept across restarts, regenerated only when the domain changed or it is about to expire.
 *   It answers every name no user certificate covers, and clients without SNI.
 * - `<dataDir>/tls/certs/<name>.pem` (certificate chain + key, PEM): user certificates, picked by SNI
 *   against the names they hold (subjectAltName DNS entries, else the CN; wildcards as in RFC 6125). An
 *   exact name wins over a wildcard; a user certificate wins over the self-signed one. A file that does
 *   not hold a certificate and its key is ignored (and reported), so one bad file cannot stop the router.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';

export interface TlsCertificate {
  file: string;
  /** Certificate chain and key, as read (what HAProxy loads and Node's secure context takes). */
  pem: string;
  /** Lower-case DNS names the certificate is for (`*.example.com` for a wildcard). */
  names: string[];
  subject: string;
}

export interface CertificateSet {
  selfSigned: TlsCertificate;
  user: TlsCertificate[];
  /** Changes whenever a file is added, removed or rewritten: a cheap "reload needed" test. */
  signature: string;
}

const RENEW_BEFORE_MS = 30 * 24 * 3600_000;

export function tlsDir(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'tls');
}

export function userCertsDir(dataDir: string): string {
  return path.join(tlsDir(dataDir), 'certs');
}

/** Makes sure the self-signed certificate for `domain` exists (generating it if needed); returns its file. */
export async function ensureSelfSigned(dataDir: string, domain: string): Promise<string> {
  const dir = tlsDir(dataDir);
  fs.mkdirSync(userCertsDir(dataDir), { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'self-signed.pem');
  const wanted = [`*.${domain}`, domain].map((n) => n.toLowerCase());
  try {
    const cert = readCertificate(file);
    const x509 = new crypto.X509Certificate(cert.pem);
    const fresh = Date.parse(x509.validTo) - Date.now() > RENEW_BEFORE_MS;
    if (fresh && wanted.every((n) => cert.names.includes(n))) return file;
  } catch {
    // missing or unreadable: generate
  }
  const notBeforeDate = new Date(Date.now() - 3600_000);
  const pems = await generate([{ name: 'commonName', value: `*.${domain}` }, { name: 'organizationName', value: 'slipway (self-signed)' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 825 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: wanted.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${pems.cert.trim()}\n${pems.private.trim()}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}

/** Reads a PEM file holding a certificate (chain) and its private key; throws when either is missing or they do not match. */
export function readCertificate(file: string): TlsCertificate {
  const pem = fs.readFileSync(file, 'utf8');
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  const keyPem = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(pem)?.[0];
  if (!certPem || !keyPem) throw new Error(`${file}: a PEM file with the certificate and its private key is expected`);
  const x509 = new crypto.X509Certificate(certPem);
  if (!x509.checkPrivateKey(crypto.createPrivateKey(keyPem))) throw new Error(`${file}: the private key does not belong to the certificate`);
  const san = (x509.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((e) => e.startsWith('DNS:'))
    .map((e) => e.slice(4).toLowerCase());
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1]?.toLowerCase();
  return { file, pem, names: san.length ? san : cn ? [cn] : [], subject: x509.subject };
}

/** The user certificate files, in file-name order. */
function userCertFiles(dataDir: string): string[] {
  const dir = userCertsDir(dataDir);
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.pem'))
      .sort()
      .map((f) => path.join(dir, f));
  } catch {
    return []; // no directory: no user certificates
  }
}

function statPart(file: string, name: string): string {
  const st = fs.statSync(file);
  return `${name}:${st.size}:${st.mtimeMs}`;
}

/**
 * What `loadCertificates(...).signature` would be, from the files' names, sizes and times alone (nothing is
 * read or parsed): a router checks it on every change of its table and reads the certificates only when it moved.
 */
export function certificateSignature(dataDir: string, selfSignedFile: string): string {
  const parts: string[] = [];
  for (const file of userCertFiles(dataDir)) {
    try {
      parts.push(statPart(file, path.basename(file)));
    } catch {
      // gone since the listing: loadCertificates skips it too
    }
  }
  parts.push(statPart(selfSignedFile, 'self'));
  return parts.join('|');
}

/** The self-signed certificate and every readable user certificate, in file-name order. */
export function loadCertificates(dataDir: string, selfSignedFile: string, onBadFile?: (file: string, err: Error) => void): CertificateSet {
  const user: TlsCertificate[] = [];
  const parts: string[] = [];
  for (const file of userCertFiles(dataDir)) {
    try {
      parts.push(statPart(file, path.basename(file)));
      user.push(readCertificate(file));
    } catch (err) {
      onBadFile?.(file, err as Error);
    }
  }
  const selfSigned = readCertificate(selfSignedFile);
  parts.push(statPart(selfSignedFile, 'self'));
  return { selfSigned, user, signature: parts.join('|') };
}

/** Whether a certificate name covers a host: equal, or a `*.` wildcard for exactly one more label. */
export function nameCovers(name: string, host: string): 'exact' | 'wildcard' | undefined {
  if (name === host) return 'exact';
  if (name.startsWith('*.')) {
    const dot = host.indexOf('.');
    if (dot > 0 && host.slice(dot + 1) === name.slice(2)) return 'wildcard';
  }
  return undefined;
}

/** The certificate served for an SNI name (see the module comment for the order). */
export function pickCertificate(set: CertificateSet, servername: string | undefined): TlsCertificate {
  const host = (servername ?? '').toLowerCase();
  if (!host) return set.selfSigned;
  for (const kind of ['exact', 'wildcard'] as const) {
    for (const c of [...set.user, set.selfSigned]) if (c.names.some((n) => nameCovers(n, host) === kind)) return c;
  }
  return set.selfSigned;
}

/** Names of the self-signed certificate that no user certificate claims (HAProxy indexes it only for those). */
export function unclaimedSelfSignedNames(set: CertificateSet): string[] {
  const claimed = new Set(set.user.flatMap((c) => c.names));
  return set.selfSigned.names.filter((n) => !claimed.has(n));
}

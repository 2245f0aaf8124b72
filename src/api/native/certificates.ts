/**
 * User TLS certificates (native, admin only): `PUT /certificates/{name}` with the PEM certificate chain and
 * its private key, `GET /certificates` (never the keys), `DELETE /certificates/{name}`. They are kept where
 * the router reads them (`<data dir>/tls/certs/<name>.pem`, mode 0600), picked by SNI from the names inside
 * them, and served without a restart.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import { readCertificate, userCertsDir } from '../../router/tls/certificates.ts';
import { NotFoundError, ValidationError } from '../../errors/errors.ts';

const NameParams = Type.Object({ name: Type.String({ pattern: '^(\\*\\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$', maxLength: 253 }) });
const Body = Type.Object(
  {
    certificate: Type.String({ minLength: 1, maxLength: 256 * 1024, description: 'PEM certificate chain, leaf first' }),
    privateKey: Type.String({ minLength: 1, maxLength: 64 * 1024, description: 'PEM private key of the leaf' }),
  },
  { additionalProperties: false },
);

function fileOf(dataDir: string, name: string): string {
  return path.join(userCertsDir(dataDir), `${name.replace('*', '_wildcard')}.pem`);
}

function view(name: string, file: string) {
  const c = readCertificate(file);
  const x509 = new crypto.X509Certificate(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(c.pem)![0]);
  return { name, names: c.names, subject: c.subject, issuer: x509.issuer, validFrom: new Date(x509.validFrom).toISOString(), validTo: new Date(x509.validTo).toISOString(), fingerprint256: x509.fingerprint256 };
}

export function registerCertificates(app: Api, deps: ApiDeps): void {
  const dataDir = deps.dataDir;
  if (!dataDir) return;
  const { auth } = deps;

  app.put('/certificates/:name', { schema: { tags: ['certificates'], summary: 'Add or replace a TLS certificate for the router', params: NameParams, body: Body } }, async (req) => {
    auth.authorize(req.principal, null, 'own');
    const { name } = req.params as { name: string };
    const { certificate, privateKey } = req.body as { certificate: string; privateKey: string };
    // Checked exactly as the router will read it, in a private scratch file, before it goes live.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cert-'));
    const scratch = path.join(tmp, 'cert.pem');
    try {
      fs.writeFileSync(scratch, `${certificate.trim()}\n${privateKey.trim()}\n`, { mode: 0o600 });
      let names: string[];
      try {
        names = readCertificate(scratch).names;
      } catch (err) {
        throw ValidationError.one('certificate', 'pem', (err as Error).message.replace(`${scratch}: `, ''));
      }
      if (!names.some((n) => n === name || (n.startsWith('*.') && name.startsWith('*.') && n === name))) {
        throw ValidationError.one('certificate', 'names', `the certificate is for ${names.join(', ') || 'no DNS name'}, not '${name}'`);
      }
      fs.mkdirSync(userCertsDir(dataDir), { recursive: true, mode: 0o700 });
      const file = fileOf(dataDir, name);
      fs.copyFileSync(scratch, `${file}.tmp`);
      fs.chmodSync(`${file}.tmp`, 0o600);
      fs.renameSync(`${file}.tmp`, file);
      return view(name, file);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  app.get('/certificates', { schema: { tags: ['certificates'], summary: 'User TLS certificates (without their keys)' } }, async (req) => {
    auth.authorize(req.principal, null, 'own');
    const dir = userCertsDir(dataDir);
    const out = [];
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter((x) => x.endsWith('.pem')).sort() : []) {
      try {
        out.push(view(f.slice(0, -4).replace('_wildcard', '*'), path.join(dir, f)));
      } catch {
        // unreadable files are the router's to report
      }
    }
    return { certificates: out };
  });

  app.delete('/certificates/:name', { schema: { tags: ['certificates'], params: NameParams } }, async (req) => {
    auth.authorize(req.principal, null, 'own');
    const file = fileOf(dataDir, (req.params as { name: string }).name);
    if (!fs.existsSync(file)) throw new NotFoundError('certificate', (req.params as { name: string }).name);
    fs.rmSync(file);
    return { deleted: (req.params as { name: string }).name };
  });
}

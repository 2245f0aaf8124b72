/**
 * Seals secret parts of specs (runtime environment, runtime files, port credentials) before they reach the
 * store, with AES-256-GCM. The key comes from SLIPWAY_SECRET_KEY or, on one machine, a 0600 file in the
 * data directory; several control-plane replicas must share the same key. `fingerprint` names a key without
 * revealing it, so the store can refuse a replica whose key cannot open what the others sealed.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const PREFIX = 'v1:';

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static fromKey(key: Buffer): SecretBox {
    if (key.length !== 32) throw new Error('secret key must be 32 bytes');
    return new SecretBox(key);
  }

  /** Load the key file, creating it (mode 0600) on first start. */
  static fromDataDir(dataDir: string): SecretBox {
    const file = path.join(dataDir, 'secret.key');
    fs.mkdirSync(dataDir, { recursive: true });
    try {
      return SecretBox.fromKey(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const key = crypto.randomBytes(32);
    // 'wx' fails if another process created it meanwhile; then read theirs so both agree.
    try {
      fs.writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      return SecretBox.fromKey(key);
    } catch {
      return SecretBox.fromKey(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64'));
    }
  }

  /** A key's public name: HMAC-SHA256 of a fixed label, 16 hex characters (the key cannot be derived from it). */
  fingerprint(): string {
    return crypto.createHmac('sha256', this.key).update('slipway secret key fingerprint').digest('hex').slice(0, 16);
  }

  seal(value: unknown): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value ?? null), 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  open<T>(sealed: string): T {
    if (!sealed.startsWith(PREFIX)) throw new Error('unknown sealed value format');
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    return JSON.parse(text) as T;
  }
}

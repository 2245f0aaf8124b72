/**
 * SHA-512 crypt (`$6$salt$hash`), the format of glibc's crypt(3), which HAProxy's `userlist … password`
 * checks; implemented on node:crypto so the built-in router verifies the very same strings.
 *
 * Algorithm: Ulrich Drepper, "Unix crypt using SHA-256 and SHA-512" (akkadia.org/drepper/SHA-crypt.txt),
 * steps numbered as there. Checked against the specification's test vectors and `openssl passwd -6`.
 */
import crypto from 'node:crypto';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DEFAULT_ROUNDS = 5000;
const MIN_ROUNDS = 1000;
const MAX_ROUNDS = 999_999_999;
const MAX_SALT = 16;
/** What a stored password looks like once hashed: `$6$[rounds=N$]salt$86 characters`. */
const HASH = /^\$6\$(?:rounds=(\d{1,9})\$)?([^$:\n]{0,16})\$([./0-9A-Za-z]{86})$/;

export function isSha512Crypt(s: string): boolean {
  return HASH.test(s);
}

/** Hashes a password with a random 16-character salt (or the given one, for deterministic output). */
export function sha512Crypt(password: string, salt?: string, rounds?: number): string {
  const s = (salt ?? randomSalt()).replace(/[$:\n]/g, '').slice(0, MAX_SALT);
  const r = rounds === undefined ? undefined : Math.min(MAX_ROUNDS, Math.max(MIN_ROUNDS, Math.floor(rounds)));
  const prefix = r === undefined ? `$6$${s}$` : `$6$rounds=${r}$${s}$`;
  return prefix + encode(digest(Buffer.from(password, 'utf8'), Buffer.from(s, 'utf8'), r ?? DEFAULT_ROUNDS));
}

/** Whether `password` matches a `$6$` hash; false for anything that is not one. Constant time in the hash. */
export function verifySha512Crypt(password: string, hash: string): boolean {
  const m = HASH.exec(hash);
  if (!m) return false;
  const rounds = m[1] === undefined ? undefined : Number(m[1]);
  const again = sha512Crypt(password, m[2], rounds);
  const a = Buffer.from(again);
  const b = Buffer.from(hash);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function randomSalt(): string {
  const bytes = crypto.randomBytes(MAX_SALT);
  let s = '';
  for (const b of bytes) s += ITOA64[b & 63];
  return s;
}

const sha512 = (...parts: Buffer[]): Buffer => {
  const h = crypto.createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** Drepper's bytes of `source` repeated to `length`. */
function repeatTo(source: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += source.length) source.copy(out, i, 0, Math.min(source.length, length - i));
  return out;
}

function digest(p: Buffer, s: Buffer, rounds: number): Buffer {
  // Steps 4-8: digest B = P S P.
  const b = sha512(p, s, p);
  // Steps 1-3, 9-12: digest A.
  const a = crypto.createHash('sha512');
  a.update(p);
  a.update(s);
  let n = p.length;
  for (; n > 64; n -= 64) a.update(b);
  a.update(b.subarray(0, n));
  for (let i = p.length; i > 0; i >>= 1) a.update(i & 1 ? b : p);
  let c = a.digest();
  // Steps 13-16: byte sequence P (the password hashed |P| times, cut to |P|).
  const dp = crypto.createHash('sha512');
  for (let i = 0; i < p.length; i++) dp.update(p);
  const pBytes = repeatTo(dp.digest(), p.length);
  // Steps 17-20: byte sequence S (the salt hashed 16 + A[0] times, cut to |S|).
  const ds = crypto.createHash('sha512');
  for (let i = 0; i < 16 + c[0]; i++) ds.update(s);
  const sBytes = repeatTo(ds.digest(), s.length);
  // Step 21: the rounds.
  for (let r = 0; r < rounds; r++) {
    const h = crypto.createHash('sha512');
    h.update(r & 1 ? pBytes : c);
    if (r % 3) h.update(sBytes);
    if (r % 7) h.update(pBytes);
    h.update(r & 1 ? c : pBytes);
    c = h.digest();
  }
  return c;
}

/** Step 22: the custom base-64 of the 64-byte digest, in the specification's byte order. */
function encode(c: Buffer): string {
  let out = '';
  const b64 = (b2: number, b1: number, b0: number, n: number) => {
    let w = (b2 << 16) | (b1 << 8) | b0;
    for (let i = 0; i < n; i++) {
      out += ITOA64[w & 63];
      w >>= 6;
    }
  };
  for (let i = 0; i < 21; i++) {
    const [x, y, z] = [i, i + 21, i + 42];
    if (i % 3 === 0) b64(c[x], c[y], c[z], 4);
    else if (i % 3 === 1) b64(c[y], c[z], c[x], 4);
    else b64(c[z], c[x], c[y], 4);
  }
  b64(0, 0, c[63], 2);
  return out;
}

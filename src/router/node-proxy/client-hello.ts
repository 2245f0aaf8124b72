/**
 * Reads the server name (SNI) from the first bytes a TLS client sends, without terminating TLS: just enough
 * of the record layer and the ClientHello (RFC 8446 §4.1.2, RFC 6066 §3) to route a connection by name.
 * The handshake message may span several records. Never throws: bytes that cannot be a ClientHello are
 * `invalid`, and a prefix of one is `incomplete` (the caller waits for more, with a deadline).
 */

export type ClientHello =
  | { kind: 'incomplete' }
  | { kind: 'invalid' }
  /** `serverName`: the lower-cased host name without a trailing dot; absent when the client sent none. */
  | { kind: 'hello'; serverName?: string };

/** A ClientHello larger than this is refused as invalid (real ones are a few kilobytes at most). */
export const MAX_CLIENT_HELLO = 64 * 1024;

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const NAME_TYPE_HOST = 0;

export function parseClientHello(buf: Buffer): ClientHello {
  // Reassemble the handshake bytes from consecutive handshake records.
  const parts: Buffer[] = [];
  let have = 0;
  let need = -1;
  let at = 0;
  while (need < 0 || have < need) {
    if (buf.length < at + 5) return incompleteUnlessTooBig(buf);
    if (buf[at] !== RECORD_HANDSHAKE || buf[at + 1] !== 3) return { kind: 'invalid' };
    const len = buf.readUInt16BE(at + 3);
    if (len === 0 || len > 16384 + 2048) return { kind: 'invalid' };
    if (buf.length < at + 5 + len) return incompleteUnlessTooBig(buf);
    parts.push(buf.subarray(at + 5, at + 5 + len));
    have += len;
    at += 5 + len;
    if (need < 0 && have >= 4) {
      const head = Buffer.concat(parts);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'invalid' };
      need = 4 + head.readUIntBE(1, 3);
      if (need > MAX_CLIENT_HELLO) return { kind: 'invalid' };
    }
  }
  const hello = Buffer.concat(parts).subarray(4, need);
  return readHello(hello);
}

function incompleteUnlessTooBig(buf: Buffer): ClientHello {
  return buf.length > MAX_CLIENT_HELLO + 1024 ? { kind: 'invalid' } : { kind: 'incomplete' };
}

/** The ClientHello body: version, random, session id, cipher suites, compression methods, extensions. */
function readHello(b: Buffer): ClientHello {
  let p = 2 + 32;
  const skip = (lenBytes: 1 | 2): boolean => {
    if (p + lenBytes > b.length) return false;
    const n = lenBytes === 1 ? b[p] : b.readUInt16BE(p);
    p += lenBytes + n;
    return p <= b.length;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return { kind: 'invalid' };
  // No extensions at all (an old client): a valid hello without a name.
  if (p === b.length) return { kind: 'hello' };
  if (p + 2 > b.length) return { kind: 'invalid' };
  const end = p + 2 + b.readUInt16BE(p);
  if (end > b.length) return { kind: 'invalid' };
  p += 2;
  while (p + 4 <= end) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    p += 4;
    if (p + len > end) return { kind: 'invalid' };
    if (type === EXT_SERVER_NAME) return readServerName(b.subarray(p, p + len));
    p += len;
  }
  return p === end ? { kind: 'hello' } : { kind: 'invalid' };
}

function readServerName(ext: Buffer): ClientHello {
  if (ext.length < 2) return { kind: 'invalid' };
  const end = 2 + ext.readUInt16BE(0);
  if (end > ext.length) return { kind: 'invalid' };
  let p = 2;
  while (p + 3 <= end) {
    const type = ext[p];
    const len = ext.readUInt16BE(p + 1);
    p += 3;
    if (p + len > end) return { kind: 'invalid' };
    if (type === NAME_TYPE_HOST) {
      const name = ext.toString('latin1', p, p + len).toLowerCase().replace(/\.$/, '');
      // A host name is ASCII letters, digits, hyphens and dots; anything else names no route.
      if (!/^[a-z0-9._-]{1,253}$/.test(name)) return { kind: 'invalid' };
      return { kind: 'hello', serverName: name };
    }
    p += len;
  }
  return { kind: 'hello' };
}

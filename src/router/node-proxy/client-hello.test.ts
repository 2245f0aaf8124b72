import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { parseClientHello } from './client-hello.ts';

/** The first bytes a real TLS client (node:tls, OpenSSL) sends, captured on a plain TCP server. */
async function capture(opts: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const got = new Promise<Buffer>((resolve) =>
      server.once('connection', (s) => {
        let buf = Buffer.alloc(0);
        s.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (parseClientHello(buf).kind !== 'incomplete') {
            resolve(buf);
            s.destroy();
          }
        });
      }),
    );
    const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
    client.on('error', () => undefined);
    const buf = await got;
    client.destroy();
    return buf;
  } finally {
    server.close();
  }
}

/** The same handshake message re-cut into records of at most `size` bytes. */
function refragment(record: Buffer, size: number): Buffer {
  const body = record.subarray(5, 5 + record.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const part = body.subarray(i, i + size);
    const head = Buffer.from([22, 3, 1, 0, 0]);
    head.writeUInt16BE(part.length, 3);
    out.push(head, part);
  }
  return Buffer.concat(out);
}

test('reads the server name of a real ClientHello, lower-cased, and none when the client sends none', async () => {
  const hello = await capture({ servername: 'App.Example.TEST' });
  assert.deepEqual(parseClientHello(hello), { kind: 'hello', serverName: 'app.example.test' });
  const h2 = await capture({ servername: 'h2.example.test', ALPNProtocols: ['h2', 'http/1.1'] });
  assert.deepEqual(parseClientHello(h2), { kind: 'hello', serverName: 'h2.example.test' });
  // node:tls sends no SNI for an IP address.
  assert.deepEqual(parseClientHello(await capture({})), { kind: 'hello' });
});

test('every prefix of a ClientHello is incomplete, and a hello cut into several records still reads', async () => {
  const hello = await capture({ servername: 'split.example.test' });
  for (let n = 0; n < hello.length; n++) assert.equal(parseClientHello(hello.subarray(0, n)).kind, 'incomplete', `prefix of ${n} bytes`);
  for (const size of [1, 7, 100]) {
    const cut = refragment(hello, size);
    assert.deepEqual(parseClientHello(cut), { kind: 'hello', serverName: 'split.example.test' }, `records of ${size} bytes`);
    assert.equal(parseClientHello(cut.subarray(0, cut.length - 1)).kind, 'incomplete');
  }
});

test('refuses what is not a ClientHello, and never throws on damaged bytes', async () => {
  assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n')).kind, 'invalid');
  assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0, 0])).kind, 'invalid', 'an empty record');
  assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0])).kind, 'invalid', 'a ServerHello');
  const hello = await capture({ servername: 'fuzz.example.test' });
  const kinds = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const bad = Buffer.from(hello);
    for (let k = 0; k < 1 + (i % 4); k++) bad[crypto.randomInt(bad.length)] = crypto.randomInt(256);
    kinds.add(parseClientHello(bad).kind);
    kinds.add(parseClientHello(bad.subarray(0, crypto.randomInt(bad.length))).kind);
  }
  assert.ok(kinds.has('hello') && kinds.has('incomplete'), `kinds seen: ${[...kinds].join(', ')}`);
  // A record claiming a huge handshake is refused instead of waited for.
  const huge = Buffer.from([22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]);
  assert.equal(parseClientHello(huge).kind, 'invalid');
});

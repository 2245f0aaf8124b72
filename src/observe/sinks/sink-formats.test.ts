import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nanos, redactSinkData, sinkDataProblems, sinkRequest } from './sink-formats.ts';
import type { LogEntry } from '../logs/log-query.ts';

const line = (n: number, instance = 'web-1'): LogEntry => ({ ts: `2026-12-06T10:00:00.${String(n).padStart(3, '0')}Z`, project: 'p', service: 's', instance, stream: 'stdout', line: `line ${n}` });

describe('log sink formats', () => {
  it('pushes to Loki one stream per instance, labelled, in nanoseconds', () => {
    const r = sinkRequest('loki', { endpoint: 'http://loki:3100/', auth: { user: 'u', password: 'pw' } }, [line(1), line(2), line(3, 'web-2')]);
    assert.equal(r.url, 'http://loki:3100/loki/api/v1/push');
    assert.equal(r.headers.authorization, `Basic ${Buffer.from('u:pw').toString('base64')}`);
    const body = JSON.parse(r.body);
    assert.equal(body.streams.length, 2);
    assert.deepEqual(body.streams[0].stream, { project: 'p', service: 's', instance: 'web-1', stream: 'stdout' });
    assert.deepEqual(body.streams[0].values[0], [String(Date.parse(line(1).ts) * 1_000_000), JSON.stringify({ message: 'line 1', stream: 'stdout' })]);
  });
  it('keeps sub-millisecond digits in Loki timestamps', () => assert.equal(nanos('2026-12-06T10:00:00.123456Z'), `${BigInt(Date.parse('2026-12-06T10:00:00.123Z')) * 1_000_000n + 456000n}`));
  it('sends HTTP batches as a JSON array, as NDJSON with newline framing, or as text', () => {
    const base = { uri: 'http://h/in', auth: { strategy: 'bearer', token: 't' } };
    const json = sinkRequest('http', { ...base, encoding: { codec: 'json' } }, [line(1)]);
    assert.equal(json.headers.authorization, 'Bearer t');
    assert.deepEqual(JSON.parse(json.body)[0], { timestamp: line(1).ts, message: 'line 1', project: 'p', service: 's', instance: 'web-1', stream: 'stdout' });
    const nd = sinkRequest('http', { ...base, framing: { method: 'newline' } }, [line(1), line(2)]);
    assert.equal(nd.body.trim().split('\n').length, 2);
    assert.equal(sinkRequest('http', { ...base, encoding: { codec: 'text' } }, [line(1), line(2)]).body, 'line 1\nline 2\n');
  });
  it('names each bad setting', () => {
    assert.deepEqual(sinkDataProblems('http', { uri: 'ftp://x', auth: { strategy: 'basic' } }).map((p) => p.field), ['sinkData.uri', 'sinkData.auth.password']);
    assert.deepEqual(sinkDataProblems('loki', {}).map((p) => p.field), ['sinkData.endpoint']);
    assert.deepEqual(sinkDataProblems('loki', { endpoint: 'https://l' }), []);
  });
  it('never answers a password or token', () => {
    assert.deepEqual(redactSinkData({ uri: 'http://h', auth: { strategy: 'basic', user: 'u', password: 'pw' } }), { uri: 'http://h', auth: { strategy: 'basic', user: 'u' } });
  });
});

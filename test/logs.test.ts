/**
 * Logs end to end: search by text, time range and instance; a live stream over Server-Sent Events; log sinks
 * (Loki push and Northflank's HTTP sink, created through the official client) that receive every line of a
 * known burst, lines written while their receiver was down for 10 s included, and count what a full buffer
 * drops. The receivers are small HTTP servers in this test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiClient } from '@northflank/js-client';
import { api, fixtureRepo, northflankClient, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

const HOST = 'app.logs.localhost';

/** A log receiver: a Loki push endpoint and an HTTP sink endpoint, keeping every line it was sent. */
class Receiver {
  loki: { labels: Record<string, string>; line: string }[] = [];
  http: { message: string; instance: string; project: string; service: string }[] = [];
  authorizations = new Set<string>();
  private server?: http.Server;
  port = 0;

  async listen(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        this.authorizations.add(String(req.headers.authorization));
        if (req.url === '/loki/api/v1/push') {
          for (const s of JSON.parse(body).streams) for (const [, line] of s.values) this.loki.push({ labels: s.stream, line: JSON.parse(line).message });
        } else if (req.url === '/ingest') this.http.push(...JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }

  lokiLines(tag: string): string[] {
    return this.loki.filter((l) => l.line.startsWith(`${tag} `)).map((l) => l.line);
  }
  httpLines(tag: string): string[] {
    return this.http.filter((l) => l.message.startsWith(`${tag} `)).map((l) => l.message);
  }
}

const numbered = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag} ${i}`);
const sorted = (lines: string[]) => [...lines].sort((a, b) => Number(a.split(' ')[1]) - Number(b.split(' ')[1]));

describe('logs: search, streams and sinks', () => {
  let p: RunningPlatform;
  let nf: ApiClient;
  const receiver = new Receiver();
  const burst = async (tag: string, n: number) => {
    const res = await viaRouter(p, HOST, `/burst?n=${n}&tag=${tag}`);
    assert.equal(res.status, 200);
    await res.text();
  };

  before(async () => {
    await receiver.listen();
    p = await startTestPlatform({ SLIPWAY_LOG_SINK_BUFFER_LINES: '1000' });
    nf = await northflankClient(p);
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'logs' })).status, 200);
    const repo = fixtureRepo('log-burst');
    const created = await api(p, 'POST', '/v1/projects/logs/services/combined', {
      name: 'app',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 2 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/logs/services/app')).body.data.status.deployment.status === 'COMPLETED', 180_000, 'deployed');
  });
  after(async () => {
    await p?.stop();
    await receiver.close();
  });

  it('finds lines by text, by instance and by time range', async () => {
    await burst('alpha', 5);
    const found = await waitFor(async () => {
      const r = await api(p, 'GET', '/projects/logs/services/app/logs?search=ALPHA');
      return r.body.lines.length === 5 && r.body.lines;
    }, 30_000, 'five alpha lines');
    assert.deepEqual(found.map((l: { line: string }) => l.line), numbered('alpha', 5));
    const instance = found[0].instance as string;
    const mine = await api(p, 'GET', `/projects/logs/services/app/logs?search=alpha&instance=${instance}`);
    assert.equal(mine.body.lines.length, 5);
    const containers = (await api(p, 'GET', '/v1/projects/logs/services/app/containers')).body.data.containers as { name?: string; id?: string }[];
    const other = containers.map((c) => c.name ?? c.id).find((id) => id && id !== instance);
    if (other) assert.equal((await api(p, 'GET', `/projects/logs/services/app/logs?search=alpha&instance=${other}`)).body.lines.length, 0);
    const since = new Date(Date.parse(found[4].ts) + 1).toISOString();
    assert.equal((await api(p, 'GET', `/projects/logs/services/app/logs?search=alpha&since=${since}`)).body.lines.length, 0);
    const ranged = await api(p, 'GET', `/projects/logs/services/app/logs?search=alpha&since=10m&until=${encodeURIComponent(found[4].ts)}`);
    assert.equal(ranged.body.lines?.length, 5, JSON.stringify({ ranged: ranged.body, found }));
    assert.equal((await api(p, 'GET', '/projects/logs/services/app/logs?search=alpha&tail=2')).body.lines.length, 2);
    const bad = await api(p, 'GET', '/projects/logs/services/app/logs?since=yesterday');
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /since/);
  });

  it('streams new lines over Server-Sent Events, after the newest matching ones', async () => {
    const abort = new AbortController();
    const res = await fetch(`${p.apiUrl}/projects/logs/services/app/logs/stream?search=beta&tail=10`, { headers: { authorization: `Bearer ${p.token}` }, signal: abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const got: string[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true });
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const ev = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = ev.split('\n').find((l) => l.startsWith('data: '));
            if (ev.includes('event: line') && data) got.push(JSON.parse(data.slice(6)).line);
          }
        }
      } catch {}
    })();
    await burst('beta', 20);
    await waitFor(() => got.length >= 20, 30_000, 'twenty streamed lines');
    abort.abort();
    await reading;
    assert.deepEqual(got, numbered('beta', 20));
    const refused = await api(p, 'GET', '/projects/logs/services/app/logs/stream?until=5m');
    assert.equal(refused.status, 400);
    assert.match(JSON.stringify(refused.body), /until/);
  });

  it('ships every line of a burst to a Loki and an HTTP sink, lines written while the receiver was down for 10 s included', async () => {
    const loki = await nf.create.logSink({ data: { name: 'loki sink', sinkType: 'loki', sinkData: { endpoint: `http://127.0.0.1:${receiver.port}`, encoding: { codec: 'json' }, auth: { strategy: 'basic', user: 'slipway', password: 'loki-password-1' } } } });
    assert.equal(loki.error, undefined, JSON.stringify(loki.error));
    const web = await nf.create.logSink({
      data: { name: 'http sink', sinkType: 'http', restricted: true, projects: ['logs'], sinkData: { uri: `http://127.0.0.1:${receiver.port}/ingest`, encoding: { codec: 'json' }, auth: { strategy: 'bearer', token: 'http-token-2' } } },
    });
    assert.equal(web.error, undefined, JSON.stringify(web.error));
    await burst('gamma', 200);
    await waitFor(() => receiver.lokiLines('gamma').length >= 200 && receiver.httpLines('gamma').length >= 200, 60_000, 'gamma at both sinks');
    assert.deepEqual(sorted(receiver.lokiLines('gamma')), numbered('gamma', 200));
    assert.deepEqual(sorted(receiver.httpLines('gamma')), numbered('gamma', 200));
    const labelled = receiver.loki.find((l) => l.line === 'gamma 0')!;
    assert.equal(labelled.labels.project, 'logs');
    assert.equal(labelled.labels.service, 'app');
    assert.match(labelled.labels.instance, /^.+$/);
    assert.ok(receiver.authorizations.has(`Basic ${Buffer.from('slipway:loki-password-1').toString('base64')}`));
    assert.ok(receiver.authorizations.has('Bearer http-token-2'));

    // The receiver goes down for 10 s; 300 lines are written meanwhile.
    const port = receiver.port;
    await receiver.close();
    const downAt = Date.now();
    await burst('delta', 300);
    const failing = await waitFor(async () => {
      const s = (await nf.get.logSink({ parameters: { logSinkId: loki.data.id } })).data as any;
      return s.status === 'failing' && s;
    }, 30_000, 'the Loki sink failing');
    assert.ok(failing.delivery.bufferedLines > 0);
    assert.ok(failing.delivery.lastError);
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - downAt))));
    await receiver.listen(port);
    await waitFor(() => receiver.lokiLines('delta').length >= 300 && receiver.httpLines('delta').length >= 300, 60_000, 'delta at both sinks');
    assert.deepEqual(sorted(receiver.lokiLines('delta')), numbered('delta', 300));
    assert.deepEqual(sorted(receiver.httpLines('delta')), numbered('delta', 300));
    const back = await waitFor(async () => {
      const s = (await nf.get.logSink({ parameters: { logSinkId: loki.data.id } })).data as any;
      return s.status === 'running' && s;
    }, 30_000, 'the Loki sink running again');
    assert.equal(back.delivery.droppedLines, 0);

    // Reads never carry the password or the token.
    const reads = JSON.stringify([(await nf.get.logSink({ parameters: { logSinkId: loki.data.id } })).data, (await nf.get.logSink({ parameters: { logSinkId: web.data.id } })).data, (await nf.list.logSinks({})).data]);
    assert.ok(!reads.includes('loki-password-1') && !reads.includes('http-token-2'), reads);
    assert.match(reads, /"user":"slipway"/);
  });

  it('keeps at most the buffer while the receiver is down, and reports what it dropped', async () => {
    const sinks = (await nf.list.logSinks({})).data.logSinks;
    const web = sinks.find((s) => s.sinkType === 'http')!;
    const port = receiver.port;
    await receiver.close();
    await burst('eps', 1500);
    const full = await waitFor(async () => {
      const s = (await nf.get.logSink({ parameters: { logSinkId: web.id } })).data as any;
      return s.delivery.droppedLines >= 500 && s;
    }, 60_000, 'dropped lines counted');
    assert.equal(full.delivery.droppedLines, 500);
    await receiver.listen(port);
    await waitFor(() => receiver.httpLines('eps').length >= 1000, 60_000, 'the newest 1000 lines');
    assert.deepEqual(sorted(receiver.httpLines('eps')), numbered('eps', 1500).slice(500));
  });

  it('pauses, resumes, updates and deletes a sink through the client', async () => {
    const sinks = (await nf.list.logSinks({})).data.logSinks;
    const loki = sinks.find((s) => s.sinkType === 'loki')!;
    await nf.pause.logSink({ parameters: { logSinkId: loki.id } });
    assert.equal(((await nf.get.logSink({ parameters: { logSinkId: loki.id } })).data as any).status, 'paused');
    await nf.update.logSink({ parameters: { logSinkId: loki.id }, data: { sinkType: 'loki', resumeLogSink: true, sinkData: { auth: { user: 'other' } } } });
    const after = (await nf.get.logSink({ parameters: { logSinkId: loki.id } })).data as any;
    assert.notEqual(after.status, 'paused');
    assert.equal(after.sinkData.auth.user, 'other');
    const wrong = await api(p, 'POST', `/v1/integrations/log-sinks/${loki.id}/settings`, { sinkType: 'http', sinkData: {} });
    assert.equal(wrong.status, 400);
    assert.match(JSON.stringify(wrong.body), /sinkType/);
    const unsupported = await api(p, 'POST', '/v1/integrations/log-sinks', { name: 'dd sink', sinkType: 'datadog_logs', sinkData: { apiKey: 'x' } });
    assert.equal(unsupported.status, 422);
    assert.match(JSON.stringify(unsupported.body), /sinkType/);
    const badUri = await api(p, 'POST', '/v1/integrations/log-sinks', { name: 'bad sink', sinkType: 'http', sinkData: { uri: 'nowhere', encoding: { codec: 'json' }, auth: { strategy: 'none' } } });
    assert.equal(badUri.status, 400);
    assert.match(JSON.stringify(badUri.body), /sinkData\.uri/);
    await nf.delete.logSink({ parameters: { logSinkId: loki.id } });
    assert.equal((await api(p, 'GET', `/v1/integrations/log-sinks/${loki.id}`)).status, 404);
  });

  it('ends open streams when the control plane stops, so the stop does not wait for clients', async () => {
    const res = await fetch(`${p.apiUrl}/projects/logs/services/app/logs/stream?tail=1`, { headers: { authorization: `Bearer ${p.token}` } });
    assert.equal(res.status, 200);
    const reading = (async () => {
      try {
        for await (const _ of res.body as unknown as AsyncIterable<Uint8Array>);
        return 'ended';
      } catch {
        return 'ended';
      }
    })();
    await p.sigterm();
    assert.equal(await reading, 'ended');
  });
});

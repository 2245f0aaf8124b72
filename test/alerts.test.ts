/**
 * Alerts end to end: a notification integration created through the official client receives a signed alert
 * (Northflank's headers plus an HMAC-SHA256 signature of the body) when a rollout fails and returns; an
 * uptime check of the service's public port alerts when it goes down and when it recovers; a webhook that
 * fails is retried, and every attempt is in the delivery history. The webhook is a small HTTP server here.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ApiClient } from '@northflank/js-client';
import { api, fixtureRepo, northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';

const SECRET = 'webhook-secret-0123';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: { event: string; data: Record<string, any> };
}

describe('alerts', () => {
  let p: RunningPlatform;
  let nf: ApiClient;
  const received: Received[] = [];
  /** answers this status to the next requests while it is above 0 */
  let failNext = 0;
  const hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (failNext > 0) {
        failNext--;
        return res.writeHead(503).end('not now');
      }
      received.push({ headers: req.headers, body, json: JSON.parse(body) });
      res.writeHead(200).end('ok');
    });
  });
  let hookUrl = '';
  const status = async () => (await api(p, 'GET', '/v1/projects/alerts/services/web')).body.data.status.deployment;

  before(async () => {
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    p = await startTestPlatform({ SLIPWAY_PROGRESS_DEADLINE_SECONDS: '20', SLIPWAY_UPTIME_TIME_SCALE: '0.1' });
    nf = await northflankClient(p);
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'alerts' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/alerts/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: fixtureRepo('hello').dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 }],
      runtimeEnvironment: { GREETING: 'v1' },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await status()).status === 'COMPLETED', 180_000, 'v1 COMPLETED');
  });
  after(async () => {
    await p?.stop();
    await new Promise<void>((resolve) => hook.close(() => resolve()));
  });

  it('creates a webhook integration through the client and never reads its secret back', async () => {
    const created = await nf.create.notification({
      parameters: {} as never,
      data: { name: 'Ops hook', type: 'RAW_WEBHOOK', webhook: hookUrl, secret: SECRET, restricted: true, projects: ['alerts'], events: { 'trigger:service:deployment:status-update': true, 'trigger:build:failure': true } },
    });
    assert.equal(created.error, undefined, JSON.stringify(created.error));
    assert.equal(created.data.id, 'ops-hook');
    const read = await nf.get.notification({ parameters: { notificationId: 'ops-hook' } });
    const list = await nf.list.notifications({});
    const text = JSON.stringify([created.data, read.data, list.data]);
    assert.ok(!text.includes(SECRET), text);
    assert.equal(list.data.notificationIntegrations.length, 1);
    const bad = await api(p, 'POST', '/v1/integrations/notifications', { name: 'Bad hook', type: 'DISCORD', webhook: 'not a url', secret: 'x', events: {} });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /webhook/);
    assert.match(JSON.stringify(bad.body), /secret/);
  });

  it('sends a signed alert when a rollout fails and the service returns to its last good release', async () => {
    failNext = 1; // the first attempt fails: the alert is retried
    await api(p, 'PATCH', '/v1/projects/alerts/services/combined/web', { runtimeEnvironment: { GREETING: 'broken', HEALTH_STATUS: '500' } });
    await waitFor(async () => (await status()).status === 'FAILED', 120_000, 'FAILED');
    const alert = await waitFor(() => received.find((r) => r.json.event === 'service:deployment:status-update'), 60_000, 'the rollout alert');
    assert.equal(alert.json.data.status, 'FAILED');
    assert.equal(alert.json.data.projectId, 'alerts');
    assert.equal(alert.json.data.serviceId, 'web');
    assert.match(alert.json.data.message, /release 2 did not become ready/);
    assert.equal(alert.headers['x-northflank-notification-integration-id'], 'ops-hook');
    assert.equal(alert.headers['x-northflank-notification-integration-name'], 'Ops hook');
    assert.equal(alert.headers['x-northflank-notification-integration-token'], SECRET);
    assert.equal(alert.headers['x-northflank-notification-integration-event-type'], 'service:deployment:status-update');
    assert.equal(alert.headers['x-slipway-signature'], `sha256=${createHmac('sha256', SECRET).update(alert.body).digest('hex')}`);
    const history = await api(p, 'GET', '/notifications/ops-hook/deliveries');
    assert.equal(history.status, 200);
    const d = history.body.deliveries.find((x: { event: string }) => x.event === 'service:deployment:status-update');
    assert.equal(d.status, 'delivered');
    assert.equal(d.attempts, 2);
    assert.equal(d.lastStatusCode, 200);
    assert.ok(!JSON.stringify(history.body).includes(SECRET));
  });

  it('alerts when an uptime check of the public port fails, and again when it recovers', async () => {
    await waitFor(async () => (await status()).status !== 'IN_PROGRESS', 60_000, 'settled');
    const check = await api(p, 'POST', '/projects/alerts/uptime-checks', { serviceId: 'web', port: 'p01', path: '/', intervalSeconds: 5, timeoutSeconds: 2, failureThreshold: 2, notificationIds: ['ops-hook'] });
    assert.equal(check.status, 201, JSON.stringify(check.body));
    await waitFor(async () => (await api(p, 'GET', `/projects/alerts/uptime-checks/${check.body.id}`)).body.state === 'up', 60_000, 'up');
    assert.equal((await api(p, 'POST', '/v1/projects/alerts/services/web/pause', {})).status, 200);
    const down = await waitFor(() => received.find((r) => r.json.event === 'uptime:down'), 60_000, 'the down alert');
    assert.equal(down.json.data.state, 'down');
    assert.equal(down.json.data.consecutiveFailures, 2);
    assert.equal(down.headers['x-slipway-signature'], `sha256=${createHmac('sha256', SECRET).update(down.body).digest('hex')}`);
    assert.equal((await api(p, 'POST', '/v1/projects/alerts/services/web/resume', {})).status, 200);
    const up = await waitFor(() => received.find((r) => r.json.event === 'uptime:up'), 120_000, 'the recovery alert');
    assert.equal(up.json.data.state, 'up');
    assert.equal(received.filter((r) => r.json.event === 'uptime:down').length, 1);
    const events = (await api(p, 'GET', '/projects/alerts/services/web/events')).body.events as { kind: string; reason: string }[];
    assert.deepEqual(events.filter((e) => e.kind === 'uptime').map((e) => e.reason), ['Down', 'Up']);
    const bad = await api(p, 'POST', '/projects/alerts/uptime-checks', { serviceId: 'web', port: 'p99', notificationIds: ['nobody'] });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /port/);
    assert.match(JSON.stringify(bad.body), /notificationIds\.0/);
  });

  it('updates and deletes the integration through the client', async () => {
    await nf.update.notification({ parameters: { notificationId: 'ops-hook' }, data: { events: { 'trigger:addon-backup:failure': true } } });
    const read = (await nf.get.notification({ parameters: { notificationId: 'ops-hook' } })).data;
    assert.equal(read.events['trigger:addon-backup:failure'], true);
    assert.equal(read.events['trigger:service:deployment:status-update'], true);
    await nf.delete.notification({ parameters: { notificationId: 'ops-hook' } });
    assert.equal((await api(p, 'GET', '/v1/integrations/notifications/ops-hook')).status, 404);
  });
});

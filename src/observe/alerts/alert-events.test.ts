import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { alertOf, isCrashLoopRestart, type SlipwayEvent } from './alert-events.ts';
import { signBody, webhookRequest } from './webhook-request.ts';

const ev = (kind: string, reason: string, message = ''): SlipwayEvent => ({ id: 7, projectId: 'p', serviceId: 's', kind, reason, message, createdAt: '2026-12-06T10:00:00Z' });

describe('alerts from events', () => {
  const cases: [string, SlipwayEvent, string | undefined][] = [
    ['a canceled rollout', ev('rollout', 'Canceled', 'rollout 2 canceled; returning to release 1'), 'trigger:service:deployment:status-update'],
    ['a rollback', ev('release', 'RolledBack'), 'trigger:service:deployment:status-update'],
    ['an OOM kill', ev('instance', 'OOMKilled', 'instance s-web-1 went over; restart 1 in 50 ms'), 'trigger:infrastructure:service:container-crash'],
    ['a first crash', ev('instance', 'Crashed', 'instance x exited (code 3); restart 1 in 50 ms'), undefined],
    ['a third crash (crash-looping)', ev('instance', 'Crashed', 'instance x exited (code 3); restart 3 in 200 ms'), 'trigger:infrastructure:service:container-crash'],
    ['an autoscaling event', ev('autoscale', 'Scaled', 'rps 240/instance > target 100: 1 -> 3'), 'trigger:service:autoscaling:event'],
    ['a failed build', ev('build', 'Failed'), 'trigger:build:failure'],
    ['a failed addon backup', ev('backup', 'Failed'), 'trigger:addon-backup:failure'],
    ['a completed rollout', ev('rollout', 'Completed'), undefined],
  ];
  for (const [name, e, trigger] of cases) it(`maps ${name}`, () => assert.equal(alertOf(e)?.trigger, trigger));
  it('reads the release a canceled rollout returns to', () => assert.equal(alertOf(cases[0][1])?.data.returnsToRelease, 1));
  it('reports crash loops at the 3rd restart and every 10th after', () => assert.deepEqual([1, 2, 3, 4, 10, 11, 20].filter(isCrashLoopRestart), [3, 10, 20]));
});

describe('webhook requests', () => {
  const payload = { event: 'build:failure', data: { message: 'boom' } };
  it('signs the raw body with HMAC-SHA256 and sends the secret as Northflank does', () => {
    const r = webhookRequest({ id: 'hook', name: 'Hook', type: 'RAW_WEBHOOK', secret: 's3cret' }, { id: 'd1' }, payload);
    assert.equal(r.headers['x-northflank-notification-integration-token'], 's3cret');
    assert.equal(r.headers['x-slipway-signature'], `sha256=${createHmac('sha256', 's3cret').update(r.body).digest('hex')}`);
    assert.equal(signBody('s3cret', r.body), r.headers['x-slipway-signature']);
    assert.deepEqual(JSON.parse(r.body), payload);
  });
  it('sends no signature without a secret, and words to Discord', () => {
    assert.equal(webhookRequest({ id: 'h', name: 'H', type: 'RAW_WEBHOOK', secret: null }, { id: 'd' }, payload).headers['x-slipway-signature'], undefined);
    assert.match(JSON.parse(webhookRequest({ id: 'h', name: 'H', type: 'DISCORD', secret: null }, { id: 'd' }, payload).body).content, /build:failure.*boom/);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesLogQuery, parseLogTime, type LogEntry } from './log-query.ts';

const NOW = Date.parse('2026-12-06T12:00:00.000Z');
const entry = (over: Partial<LogEntry> = {}): LogEntry => ({ ts: '2026-12-06T11:30:00.000Z', project: 'p', service: 's', instance: 's-web-r1-0-ab12cd', stream: 'stdout', line: 'GET /health 200', ...over });

describe('log times', () => {
  const cases: [string, number | undefined][] = [
    ['90s', NOW - 90_000],
    ['15m', NOW - 900_000],
    ['2h', NOW - 7_200_000],
    ['7d', NOW - 604_800_000],
    ['2026-12-06T10:00:00Z', Date.parse('2026-12-06T10:00:00Z')],
    ['2026-12-06T10:00:00.123+01:00', Date.parse('2026-12-06T10:00:00.123+01:00')],
    ['yesterday', undefined],
    ['10', undefined],
    ['-5m', undefined],
  ];
  for (const [text, want] of cases) it(`reads '${text}'`, () => assert.equal(parseLogTime(text, NOW), want));
});

describe('log queries', () => {
  it('matches text case-insensitively', () => {
    assert.ok(matchesLogQuery(entry(), { search: 'health' }));
    assert.ok(matchesLogQuery(entry(), { search: 'HEALTH' }));
    assert.ok(!matchesLogQuery(entry(), { search: 'metrics' }));
  });
  it('matches an instance by id or by its suffix', () => {
    assert.ok(matchesLogQuery(entry(), { instance: 's-web-r1-0-ab12cd' }));
    assert.ok(matchesLogQuery(entry(), { instance: '0-ab12cd' }));
    assert.ok(!matchesLogQuery(entry(), { instance: '1-ab12cd' }));
  });
  it('keeps lines inside the time range, ends included', () => {
    const t = Date.parse('2026-12-06T11:30:00.000Z');
    assert.ok(matchesLogQuery(entry(), { sinceMs: t, untilMs: t }));
    assert.ok(!matchesLogQuery(entry(), { sinceMs: t + 1 }));
    assert.ok(!matchesLogQuery(entry(), { untilMs: t - 1 }));
  });
});

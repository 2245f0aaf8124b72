import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addonInstanceId, camelKey, connectionKeys, isSlot, lastSlot, resolveVersion, scheduleProblems, type BackupScheduleSpec } from './addons.ts';

const spec = (scheduling: BackupScheduleSpec['scheduling']): BackupScheduleSpec => ({ scheduling, backupType: 'dump', retentionTime: 7 });

describe('addon versions', () => {
  const installed = ['15.20', '16.4', '16.10'];
  for (const [asked, want] of [
    ['latest', '16.10'],
    ['16', '16.10'],
    ['16-latest', '16.10'],
    ['15', '15.20'],
    ['16.4', '16.4'],
    ['1', undefined],
    ['9', undefined],
    ['16.1', undefined],
  ] as const) {
    it(`'${asked}' resolves to ${want ?? 'nothing'}`, () => assert.equal(resolveVersion(asked, installed), want));
  }
});

describe('backup schedule slots (UTC; day 0 is Monday)', () => {
  // 2026-12-07 is a Monday.
  const monday1030 = new Date('2026-12-07T10:30:00Z');
  const cases: [string, BackupScheduleSpec, Date, boolean][] = [
    ['hourly at :30', spec({ interval: 'hourly', minute: [30] }), monday1030, true],
    ['hourly at :15', spec({ interval: 'hourly', minute: [15] }), monday1030, false],
    ['daily at 10:30', spec({ interval: 'daily', minute: [30], hour: [10] }), monday1030, true],
    ['daily at 11:30', spec({ interval: 'daily', minute: [30], hour: [11] }), monday1030, false],
    ['weekly Monday 10:30', spec({ interval: 'weekly', minute: [30], hour: [10], day: [0] }), monday1030, true],
    ['weekly Sunday 10:30', spec({ interval: 'weekly', minute: [30], hour: [10], day: [6] }), monday1030, false],
  ];
  for (const [name, s, at, want] of cases) it(`${name}: ${want}`, () => assert.equal(isSlot(s, at), want));

  it('finds the latest slot since the last run, and none when none passed', () => {
    const s = spec({ interval: 'hourly', minute: [0, 30] });
    assert.equal(lastSlot(s, new Date('2026-12-07T09:45:00Z'), new Date('2026-12-07T10:40:12Z'))?.toISOString(), '2026-12-07T10:30:00.000Z');
    assert.equal(lastSlot(s, new Date('2026-12-07T10:30:00Z'), new Date('2026-12-07T10:40:00Z')), undefined);
  });

  it('names the fields a schedule breaks for its interval', () => {
    assert.deepEqual(scheduleProblems(spec({ interval: 'daily', minute: [0] }), 's').map((p) => p.field), ['s.scheduling.hour']);
    assert.deepEqual(scheduleProblems(spec({ interval: 'hourly', minute: [0], hour: [1], day: [1] }), 's').map((p) => p.field), ['s.scheduling.hour', 's.scheduling.day']);
    assert.deepEqual(scheduleProblems(spec({ interval: 'weekly', minute: [0], hour: [1] }), 's').map((p) => p.field), ['s.scheduling.day']);
  });
});

describe('addon connection keys', () => {
  it('escapes credentials in URIs and names them as Northflank does', () => {
    const k = connectionKeys('postgresql', { host: '127.0.0.1', port: 5433, username: 'u1', password: 'p@ss/word', database: 'app', tlsEnabled: false });
    assert.equal(k.POSTGRES_URI, 'postgresql://u1:p%40ss%2Fword@127.0.0.1:5433/app');
    assert.equal(camelKey('POSTGRES_URI_ADMIN'), 'postgresUriAdmin');
    assert.equal(connectionKeys('redis', { host: 'h', port: 1, username: 'x', password: 'p', tlsEnabled: false }).USERNAME, 'default');
  });
  it('keeps instance ids of different project/addon splits apart', () => {
    assert.notEqual(addonInstanceId('a-b', 'c'), addonInstanceId('a', 'b-c'));
  });
});

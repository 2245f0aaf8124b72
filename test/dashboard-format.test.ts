/** The dashboard's words for cron schedules (UTC) and their next runs, as the job pages show them. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cronInWords, duration, nextCronRuns } from '../web/src/components/format.ts';

describe('cron in words', () => {
  it('says common schedules plainly', () => {
    assert.equal(cronInWords('* * * * *'), 'every minute');
    assert.equal(cronInWords('*/15 * * * *'), 'every 15 minutes');
    assert.equal(cronInWords('5 * * * *'), 'every hour at minute 5');
    assert.equal(cronInWords('30 4 * * *'), 'every day at 04:30 UTC');
    assert.equal(cronInWords('30 4 * * 1'), 'at 04:30 UTC on Monday');
    assert.equal(cronInWords('0 9 1 * *'), 'at 09:00 UTC on day 1 of the month');
    assert.equal(cronInWords('0 0 * 1,7 *'), 'at 00:00 UTC in January, July');
    assert.equal(cronInWords('*/5 * * * * *'), 'every 5 seconds');
    assert.equal(cronInWords('every day'), '“every day” is not a cron schedule');
  });

  it('lists the next runs in UTC terms (the page shows them in the viewer’s zone)', () => {
    const from = new Date('2026-03-02T10:07:30Z'); // a Monday
    assert.deepEqual(nextCronRuns('30 4 * * 1', 2, from).map((d) => d.toISOString()), ['2026-03-09T04:30:00.000Z', '2026-03-16T04:30:00.000Z']);
    assert.deepEqual(nextCronRuns('*/20 * * * *', 3, from).map((d) => d.toISOString()), ['2026-03-02T10:20:00.000Z', '2026-03-02T10:40:00.000Z', '2026-03-02T11:00:00.000Z']);
    assert.deepEqual(nextCronRuns('0 0 29 2 *', 1, from).map((d) => d.toISOString()), ['2028-02-29T00:00:00.000Z']);
    // Day of month and day of week both restricted: either matches (as cron does).
    assert.deepEqual(nextCronRuns('0 12 15 * 5', 2, from).map((d) => d.toISOString()), ['2026-03-06T12:00:00.000Z', '2026-03-13T12:00:00.000Z']);
    assert.deepEqual(nextCronRuns('*/5 * * * * *', 3, from), []);
    assert.deepEqual(nextCronRuns('nonsense', 3, from), []);
  });

  it('measures durations', () => {
    assert.equal(duration('2026-03-02T10:00:00Z', '2026-03-02T10:00:42Z'), '42 s');
    assert.equal(duration('2026-03-02T10:00:00Z', '2026-03-02T10:03:05Z'), '3 min 5 s');
    assert.equal(duration('2026-03-02T10:00:00Z', '2026-03-02T12:10:00Z'), '2 h 10 min');
    assert.equal(duration(null), '—');
  });
});

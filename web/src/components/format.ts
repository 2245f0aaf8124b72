/** Durations, times and cron schedules in words (schedules are UTC, as the API runs them). */

export function duration(fromIso: string | null | undefined, toIso?: string | null): string {
  if (!fromIso) return '—';
  const ms = (toIso ? new Date(toIso).getTime() : Date.now()) - new Date(fromIso).getTime();
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function localTime(d: Date | string): string {
  return new Date(d).toLocaleString(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** The values a cron field allows, or undefined for a field it cannot read. */
function values(field: string, min: number, max: number): Set<number> | undefined {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) return undefined;
    const step = m[4] ? Number(m[4]) : 1;
    const lo = m[1] === '*' ? min : Number(m[2]);
    const hi = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] ? max : lo;
    if (step < 1 || lo < min || hi > max || lo > hi) return undefined;
    for (let v = lo; v <= hi; v += step) out.add(v === 7 && max === 7 ? 0 : v);
  }
  return out;
}

function fields(schedule: string): string[] | undefined {
  const f = schedule.trim().split(/\s+/);
  if (f.length === 6) return f.slice(1);
  return f.length === 5 ? f : undefined;
}

const two = (n: number) => String(n).padStart(2, '0');

/** "every 5 minutes", "every day at 03:30 UTC", … or the fields spelled out. */
export function cronInWords(schedule: string): string {
  const f = fields(schedule);
  if (!f) return `“${schedule}” is not a cron schedule`;
  const secs = schedule.trim().split(/\s+/);
  if (secs.length === 6 && secs[0] !== '0' && f.every((x) => x === '*')) return /^\*\/(\d+)$/.test(secs[0]) ? `every ${secs[0].slice(2)} seconds` : `at second ${secs[0]} of every minute`;
  const [min, hour, dom, mon, dow] = f;
  const any = (x: string) => x === '*';
  const every = /^\*\/(\d+)$/;
  let when: string;
  if (any(min) && any(hour)) when = 'every minute';
  else if (every.test(min) && any(hour)) when = `every ${every.exec(min)![1]} minutes`;
  else if (/^\d+$/.test(min) && any(hour)) when = `every hour at minute ${min}`;
  else if (/^\d+$/.test(min) && every.test(hour)) when = `every ${every.exec(hour)![1]} hours at minute ${min}`;
  else if (/^\d+$/.test(min) && /^\d+$/.test(hour)) when = `at ${two(Number(hour))}:${two(Number(min))} UTC`;
  else when = `at minute ${min} of hour ${hour} (UTC)`;
  const days: string[] = [];
  if (!any(dom)) days.push(`on day ${dom} of the month`);
  if (!any(dow)) {
    const d = values(dow, 0, 7);
    days.push(d ? `on ${[...d].sort().map((x) => DAYS[x]).join(', ')}` : `on weekdays ${dow}`);
  }
  if (!any(mon)) {
    const m = values(mon, 1, 12);
    days.push(m ? `in ${[...m].sort((a, b) => a - b).map((x) => MONTHS[x - 1]).join(', ')}` : `in months ${mon}`);
  }
  if (days.length === 0 && /UTC$/.test(when)) return `every day ${when}`;
  return [when, ...days].join(' ');
}

/** The next `count` times the schedule fires (UTC fields), as Dates (shown in the viewer's zone). */
export function nextCronRuns(schedule: string, count = 3, from = new Date()): Date[] {
  const f = fields(schedule);
  // Sub-minute schedules (6 fields, seconds first) fire too often to list.
  if (!f || (schedule.trim().split(/\s+/).length === 6 && schedule.trim().split(/\s+/)[0] !== '0')) return [];
  const [mi, ho, dm, mo, dw] = [values(f[0], 0, 59), values(f[1], 0, 23), values(f[2], 1, 31), values(f[3], 1, 12), values(f[4], 0, 7)];
  if (!mi || !ho || !dm || !mo || !dw) return [];
  const domAny = f[2] === '*';
  const dowAny = f[4] === '*';
  const out: Date[] = [];
  const t = new Date(from.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  for (let guard = 0; out.length < count && guard < 200_000; guard++) {
    if (!mo.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0);
      continue;
    }
    const dayOk = domAny && dowAny ? true : domAny ? dw.has(t.getUTCDay()) : dowAny ? dm.has(t.getUTCDate()) : dm.has(t.getUTCDate()) || dw.has(t.getUTCDay());
    if (!dayOk) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0);
      continue;
    }
    if (!ho.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0);
      continue;
    }
    if (!mi.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1);
      continue;
    }
    out.push(new Date(t.getTime()));
    t.setUTCMinutes(t.getUTCMinutes() + 1);
  }
  return out;
}

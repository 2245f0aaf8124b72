/**
 * What the benchmarks read of processes from Linux's /proc: CPU time and resident memory, and the processes
 * a measurement counts (a master's workers, the HAProxy a platform runs).
 */
import fs from 'node:fs';
import path from 'node:path';

/** Clock ticks per second of /proc's times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** user + system CPU time of these processes, in ms (ticks of 10 ms); a process gone counts 0. */
export function cpuMs(...pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += ((Number(f[11]) + Number(f[12])) * 1000) / USER_HZ;
    } catch {
      // gone, or not Linux
    }
  }
  return total;
}

/** Resident memory of a process, in MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A process and its direct children (nginx's and HAProxy's masters hold no traffic; their workers do). */
export function withChildren(pid: number): number[] {
  const kids: number[] = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) kids.push(...fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
  } catch {
    // not Linux
  }
  return [pid, ...kids];
}

/** The HAProxy master a platform started in its data directory, and its workers. */
export function haproxyPids(dataDir: string): number[] {
  const master = Number(fs.readFileSync(path.join(dataDir, 'router', 'haproxy.pid'), 'utf8').trim().split('\n')[0]);
  return withChildren(master);
}

/** The runtime's supervisor of a platform's process runtime (its pid file), if one runs. */
export function supervisorPid(dataDir: string): number | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dataDir, 'runtime', 'supervisor.json'), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

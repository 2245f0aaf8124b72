/**
 * An instance's processes, as the process driver sees them in /proc: whether they live, signalling them,
 * yielding the CPU while they stop, and finding the app inside its sandbox.
 */
import fs from 'node:fs';
import os from 'node:os';
import { groupMembers, stopTargets } from './process-group.mjs';

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether any live (non-zombie) process remains in the group. kill(-pgid, 0) alone would count zombies,
 * which linger when nothing reaps them and would make a stop wait forever.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return groupMembers(pgid).length > 0;
}

/**
 * Signal an instance's process group; in a sandbox only the members `stopTargets` names (see there why), of
 * `members` when the caller has just listed them.
 */
export function signalInstance(pgid: number, sig: NodeJS.Signals, sandboxed: boolean, members?: ReturnType<typeof groupMembers>): void {
  if (!sandboxed || sig === 'SIGKILL') {
    try {
      process.kill(-pgid, sig);
    } catch {}
    return;
  }
  for (const m of stopTargets(members ?? groupMembers(pgid))) {
    try {
      process.kill(m.pid, sig);
    } catch {}
  }
}

/** The lowest CPU priority (nice 19). */
const STOPPING_NICE = 19;

/**
 * A stopping instance yields the CPU to everything else, the instances replacing it first: its session's
 * autogroup (by which the kernel shares the CPU between sessions, where it groups them) and each process's
 * nice (by which it shares it within a group) go to the lowest priority. It is out of the routing table and
 * drained by then: what it still does is its own shutdown, which now runs in the time the others leave.
 * Best effort: a kernel without autogroups, or a process gone meanwhile, changes nothing else.
 */
export function yieldCpu(pgid: number, members: ReturnType<typeof groupMembers>): void {
  try {
    fs.writeFileSync(`/proc/${pgid}/autogroup`, String(STOPPING_NICE));
  } catch {}
  for (const m of members) {
    try {
      os.setPriority(m.pid, STOPPING_NICE);
    } catch {}
  }
}

/** PID reuse guard for an earlier version's per-instance supervisor: its command line names its instance directory. */
export function isSupervisorOf(pid: number, dir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}

/** A child of `parent` living in another mount namespace than ours. */
function childInOtherNs(parent: number, ownNs: string): number | undefined {
  for (const pid of fs.readdirSync('/proc')) {
    if (pid.charCodeAt(0) > 57) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && fs.readlinkSync(`/proc/${pid}/ns/mnt`) !== ownNs) return Number(pid);
    } catch {}
  }
  return undefined;
}

/**
 * The app's process inside an instance's sandbox: bwrap forks its PID-namespace init, which forks the app
 * once the mounts are in place. The init alone may still be building them, so only the app will do.
 */
export function sandboxedProcess(bwrapPid: number | undefined): number | undefined {
  if (!bwrapPid) return undefined;
  let ownNs: string;
  try {
    ownNs = fs.readlinkSync('/proc/self/ns/mnt');
  } catch {
    return undefined;
  }
  const init = childInOtherNs(bwrapPid, ownNs);
  return init ? childInOtherNs(init, ownNs) : undefined;
}

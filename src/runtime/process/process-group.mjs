// An instance's process group as /proc shows it, and which of its members a stop signal goes to (plain
// JavaScript beside the supervisor's modules). Linux only, as the process runtime is.
import fs from 'node:fs';

const SHELLS = new Set(['sh', 'dash', 'bash']);

/** The live (non-zombie) processes of a process group: pid, parent pid and command name. */
export function groupMembers(pgid) {
  const out = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (pid.charCodeAt(0) > 57) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') {
        out.push({ pid: Number(pid), ppid: Number(fields[1]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
      }
    } catch {}
  }
  return out;
}

/**
 * The members of a sandboxed instance that a stop signal (SIGTERM, SIGINT, SIGHUP) goes to:
 * - not bwrap: it would die of the signal at once, and its end is the instance's recorded end (its exit
 *   code is the app's) while the app's handler still runs;
 * - not a shell that waits for a live child of the group: `sh -c 'node server.js'` (a Procfile line; dash
 *   does not exec the last command) would die of SIGTERM at once, bwrap would follow its only child out, and
 *   the PID namespace would take the app down with it while its handler still ran. Such a shell exits by itself
 *   when its child does. A shell that keeps starting children (a loop) then outlives the signal and is ended by
 *   the grace period's SIGKILL, as `sh -c` as a container's PID 1 is.
 */
export function stopTargets(members) {
  const parents = new Set(members.map((m) => m.ppid));
  return members.filter((m) => m.comm !== 'bwrap' && !(SHELLS.has(m.comm) && parents.has(m.pid)));
}

// An instance's process group as /proc shows it, and which of its members a stop signal goes to (plain
// JavaScript beside the supervisor's modules). Linux only, as the process runtime is.
import fs from 'node:fs';

const SHELLS = new Set(['sh', 'dash', 'bash']);

function member(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(fields[1]), pgrp: Number(fields[2]), zombie: fields[0] === 'Z', comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) };
  } catch {
    return undefined;
  }
}

/** A process's children, from /proc/<pid>/task/<tid>/children of each of its threads; undefined if unreadable. */
function childrenOf(pid) {
  const out = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (c) out.push(Number(c));
    }
  } catch {
    return undefined;
  }
  return out;
}

/**
 * The live members of a group found from its leader down through its descendants (a few reads, where a scan of
 * /proc reads every process of the machine); undefined when the leader is gone or the kernel cannot tell,
 * or when the walk finds no live member (the caller then scans, which alone is sure of "none").
 */
function walkFromLeader(pgid) {
  const leader = member(pgid);
  if (!leader || leader.zombie) return undefined;
  const out = [];
  const queue = [leader];
  for (let i = 0; i < queue.length && i < 4096; i++) {
    const p = queue[i];
    if (p.pgrp === pgid && !p.zombie) out.push({ pid: p.pid, ppid: p.ppid, comm: p.comm });
    const kids = childrenOf(p.pid);
    if (kids === undefined) return undefined;
    for (const k of kids) {
      const m = member(k);
      if (m) queue.push(m);
    }
  }
  return out.length ? out : undefined;
}

/**
 * The live (non-zombie) processes of a process group: pid, parent pid and command name. Walked down from the
 * group's leader while it runs (every member of an instance's group descends from it: in a sandbox the PID
 * namespace's init adopts orphans); a scan of /proc otherwise.
 */
export function groupMembers(pgid) {
  const walked = walkFromLeader(pgid);
  if (walked) return walked;
  const out = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (pid.charCodeAt(0) > 57) continue;
    const m = member(Number(pid));
    if (m && m.pgrp === pgid && !m.zombie) out.push({ pid: m.pid, ppid: m.ppid, comm: m.comm });
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

/** How long one reading of every process in /proc serves (a metrics pass asks once per instance). */
const TABLE_FRESH_MS = 500;
let table;

/**
 * Every process of the machine from one pass over /proc: parent, group, CPU ticks (its own and its reaped
 * children's) and resident pages, with the time it was read. A reading younger than half a second is reused:
 * a scan reads every process's stat file, and the usage of N instances asked in a row took N scans.
 */
export function procTable(fresh = false) {
  const now = Date.now();
  if (!fresh && table && now - table.at < TABLE_FRESH_MS && now >= table.at) return table;
  const procs = new Map();
  for (const pid of fs.readdirSync('/proc')) {
    if (pid.charCodeAt(0) > 57) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(pid), { ppid: Number(f[1]), pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]), rssPages: Number(f[21]) });
    } catch {}
  }
  table = { at: now, procs };
  return table;
}


/**
 * Process bookkeeping from /proc (Linux). Signalling a service's process group is not always
 * enough: Jupyter starts each kernel in a new session (its own process group), so the agent also
 * finds the descendants of a service and signals those left behind. A process is identified by pid
 * AND start time so a recycled pid is never signalled. Elsewhere than Linux these return nothing
 * and the agent relies on the process group alone.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcId {
  pid: number;
  /** Start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  startTime: string;
}

interface Stat {
  pid: number;
  ppid: number;
  pgrp: number;
  startTime: string;
}

function readStat(pid: number): Stat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): ppid is field 4, pgrp field 5, starttime field 22.
    if (fields[0] === 'Z' || fields[0] === 'X') return null; // a zombie is already gone
    return { pid, ppid: Number(fields[1]), pgrp: Number(fields[2]), startTime: fields[19] ?? '' };
  } catch {
    return null;
  }
}

/** Live (non-zombie) processes, or null where /proc is not available. */
function allProcs(): Stat[] | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const out: Stat[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st) out.push(st);
  }
  return out;
}

/** Every live descendant of `root` (children, grandchildren, …), whatever their process group. */
export function descendants(root: number): ProcId[] {
  const children = new Map<number, Stat[]>();
  for (const st of allProcs() ?? []) {
    const list = children.get(st.ppid);
    if (list) list.push(st);
    else children.set(st.ppid, [st]);
  }
  const out: ProcId[] = [];
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const c of children.get(pid) ?? []) {
      out.push({ pid: c.pid, startTime: c.startTime });
      queue.push(c.pid);
    }
  }
  return out;
}

/** True while the very process `p` (not a later one with its pid) exists and is not a zombie. */
export function isAlive(p: ProcId): boolean {
  const st = readStat(p.pid);
  return st !== null && st.startTime === p.startTime;
}

/** Sends a signal to `p` if it is still the same process; never throws. */
export function signalProc(p: ProcId, signal: NodeJS.Signals): void {
  if (!isAlive(p)) return;
  try {
    process.kill(p.pid, signal);
  } catch {
    // exited in between
  }
}

/**
 * True while any process of the group `pgid` is alive. Zombies do not count: an orphan that died
 * waits for init to reap it, and some container inits never do.
 */
export function groupAlive(pgid: number): boolean {
  const procs = allProcs();
  if (procs) return procs.some((p) => p.pgrp === pgid);
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    // EPERM means it exists but belongs to someone else: still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends a signal to a whole process group; never throws. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // group already empty
  }
}

/**
 * CPU time of other processes from Linux /proc, in nanoseconds: on-CPU time
 * and time spent runnable but waiting for a CPU (the scheduler's run queue),
 * summed over every thread (`/proc/<pid>/task/<tid>/schedstat`). Unlike wall
 * clock latency, CPU time per request barely moves when other work shares the
 * machine, and the run-queue wait says how much of a latency was queueing for
 * a core.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface SchedTime {
  cpuNs: number;
  waitNs: number;
}

/** On-CPU and run-queue time of `pid` (all its threads). A process that is gone counts as zero. */
export function schedTime(pid: number): SchedTime {
  let cpuNs = 0;
  let waitNs = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { cpuNs, waitNs };
  }
  for (const tid of tids) {
    try {
      const [cpu, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
      cpuNs += cpu ?? 0;
      waitNs += wait ?? 0;
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return { cpuNs, waitNs };
}

/** Sum over several processes. */
export function schedTimeOf(pids: readonly number[]): SchedTime {
  return pids.map(schedTime).reduce((a, b) => ({ cpuNs: a.cpuNs + b.cpuNs, waitNs: a.waitNs + b.waitNs }), { cpuNs: 0, waitNs: 0 });
}

/** Direct children of `ppid` (e.g. an nginx master's workers). */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid …": comm may hold spaces or parentheses, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

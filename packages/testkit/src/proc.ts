// Reading /proc: process trees and CPU time (for benchmarks).
import { readFileSync, readdirSync } from "node:fs";

/** Clock ticks per second for /proc/PID/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" that closes the command name start at field 3 (state).
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** utime + stime of the process (all its threads), in seconds; undefined if it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  const fields = statFields(pid);
  if (fields === undefined) return undefined;
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS;
}

/** Direct children of a process. */
export function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const tid of tasks) {
    try {
      for (const field of readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ")) {
        if (field.trim() !== "") children.push(Number(field));
      }
    } catch {
      // task gone
    }
  }
  return children;
}

export function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** The first process in the tree under `root` (root included) whose name starts with `name`. */
export function findDescendant(root: number, name: string): number | undefined {
  const queue = [root];
  for (let seen = 0; queue.length > 0 && seen < 500; seen++) {
    const pid = queue.shift();
    if (pid === undefined) break;
    if (commandName(pid).startsWith(name)) return pid;
    queue.push(...childrenOf(pid));
  }
  return undefined;
}

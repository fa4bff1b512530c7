/**
 * Task-lease owner ids that name this process (host, boot, pid namespace, pid, start time) and a
 * check that another such id names a process of this host that has ended, so a server restarted
 * after a SIGKILL takes over its predecessor's task leases at once instead of waiting them out.
 *
 * Only Linux's /proc tells all of it cheaply. Anywhere else, or for another host, boot or pid
 * namespace, a holder is never said to have ended: its lease is waited out as before.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import type { ProcessIdentity } from "../contracts/types.ts";

const PREFIX = "proc1";

/**
 * `/proc/<pid>/stat`'s state and start time (clock ticks after boot), or null when it cannot be
 * read: no such process, or one /proc hides (mounted `hidepid`, a process of another user).
 */
export function processStat(pid: number | "self"): { state: string; start: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: fields count from its last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0] ?? "", start: fields[19] ?? "" };
}

function readOr(read: () => string): string {
  try {
    return read().trim();
  } catch {
    return "";
  }
}

interface Parsed {
  place: string;
  pid: number;
  start: string;
}

function parse(owner: string): Parsed | null {
  const parts = owner.split("|");
  if (parts.length !== 7 || parts[0] !== PREFIX) return null;
  const pid = Number(parts[4]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  return { place: parts.slice(1, 4).join("|"), pid, start: parts[5] ?? "" };
}

/** Whether `pid` names a process, whatever /proc shows: signal 0 checks without sending (EPERM: it exists). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

/** `probe` reads a process's /proc stat (injected by tests to stand for a /proc that hides processes). */
export function createProcessIdentity(probe: { stat: typeof processStat } = { stat: processStat }): ProcessIdentity {
  const bootId = readOr(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8"));
  const pidNamespace = readOr(() => readlinkSync("/proc/self/ns/pid")).replace(/\D/g, "");
  const start = probe.stat("self")?.start ?? "";
  // Without all three, an ended holder is never recognised (as on a host without /proc).
  const known = bootId !== "" && pidNamespace !== "" && start !== "";
  const place = [encodeURIComponent(hostname()), bootId, pidNamespace].join("|");
  return {
    ownerId: () => [PREFIX, place, process.pid, start, crypto.randomUUID()].join("|"),
    ended(owner) {
      const holder = parse(owner);
      if (!known || !holder || holder.place !== place || holder.start === "") return false;
      if (holder.pid === process.pid) return holder.start !== start;
      const stat = probe.stat(holder.pid);
      // Unreadable: ended only when no process has the pid (a live one /proc hides keeps its lease).
      if (stat === null) return !isRunning(holder.pid);
      // A zombie, or the pid now names a later process.
      return stat.state === "Z" || stat.state === "X" || stat.start !== holder.start;
    },
  };
}

/**
 * Files that say which process owns something (a data directory, an Azurite location): `<pid> <start time>`. The
 * start time (Linux: field 22 of /proc/<pid>/stat) tells a live owner from a process that got its pid later, after
 * the owner died; where there is no /proc the pid alone decides.
 */
import * as fs from "node:fs";

/** What this process writes into an owner file. */
export function ownerLine(pid = process.pid): string {
  const start = startTimeOf(pid);
  return start === undefined ? String(pid) : `${pid} ${start}`;
}

/** The pid an owner file names when that very process still lives, else undefined (no file, unreadable, or stale). */
export function liveOwner(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const [pidText, start] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  const now = startTimeOf(pid);
  if (start !== undefined && now !== undefined && start !== now) return undefined; // the pid was reused
  return pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // After the command name, which may hold spaces and parentheses: fields 3 onwards, the start time 22nd.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * One local host per data directory. Two hosts on one directory would both resume its instances and append to the
 * same logs (each episode twice, histories interleaved), and their Azurites would overwrite each other's metadata.
 * The host that starts writes its pid to `<dataDir>/local-host.pid` and removes it when it stops; a later host refuses
 * to start while that process lives. A file left by a host that died (kill -9, a crash) names a dead process and is
 * taken over, so a restart after a crash resumes at once.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const LOCK_FILE = "local-host.pid";
/** Data directories held by hosts of this process (a pid file cannot tell them apart). */
const heldHere = new Set<string>();

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, LOCK_FILE);
  fs.mkdirSync(dir, { recursive: true });
  const holder = heldHere.has(dir) ? process.pid : livePidIn(file);
  if (holder !== undefined)
    throw new Error(
      `Another local host (pid ${holder}) uses the data directory ${dir}. Stop it, or start this one with another --data-dir.`,
    );
  fs.writeFileSync(file, String(process.pid));
  heldHere.add(dir);
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      heldHere.delete(dir);
      if (livePidIn(file) === process.pid) fs.rmSync(file, { force: true });
    },
  };
}

/** The pid the file names when that process lives (another host), else undefined (no file, unreadable, or dead). */
function livePidIn(file: string): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(file, "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (pid === process.pid) return pid;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? pid : undefined;
  }
}

/**
 * One local host per data directory. Two hosts on one directory would both resume its instances and append to the
 * same logs (each episode twice, histories interleaved), and their Azurites would overwrite each other's metadata.
 * The host that starts creates `<dataDir>/local-host.pid` (pid-file.ts) and removes it when it stops; a later host
 * refuses to start while that process lives. A file left by a host that died (kill -9, a crash), or naming a pid
 * another process got since, is taken over, so a restart after a crash resumes at once.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { liveOwner, ownerLine } from "./pid-file";

const LOCK_FILE = "local-host.pid";
/** How long a host that replaced a stale file waits for others doing the same at that moment: the last one wins. */
const TAKEOVER_SETTLE_MS = 100;
/** Data directories held by hosts of this process (a pid file cannot tell them apart). */
const heldHere = new Set<string>();

/** A start refused for a reason the user can act on: its message says it all (the CLI prints no stack). */
export class HostStartRefused extends Error {
  override readonly name = "HostStartRefused";
}

export interface DataDirLock {
  release(): void;
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, LOCK_FILE);
  fs.mkdirSync(dir, { recursive: true });
  const line = ownerLine();
  const refuse = (holder: number) =>
    new HostStartRefused(
      `Another local host (pid ${holder}) uses the data directory ${dir}. Stop it, or start this one with another --data-dir.`,
    );
  if (heldHere.has(dir)) throw refuse(process.pid);
  heldHere.add(dir); // a second host of this process starting meanwhile is refused above
  try {
    if (!createExclusive(file, line)) {
      // Taken: by a live host (refused), or stale. Stale files are replaced atomically (rename); hosts doing so at the
      // same moment all do, the last rename stands, and each keeps the directory only if the file is still its own.
      const holder = otherLiveOwner(file);
      if (holder !== undefined) throw refuse(holder);
      const temp = `${file}.${randomUUID()}`;
      fs.writeFileSync(temp, line);
      const now = otherLiveOwner(file);
      if (now !== undefined) {
        fs.rmSync(temp, { force: true });
        throw refuse(now);
      }
      fs.renameSync(temp, file);
      await new Promise((resolve) => setTimeout(resolve, TAKEOVER_SETTLE_MS));
      if (readText(file) !== line) throw refuse(otherLiveOwner(file) ?? Number(readText(file)?.split(" ")[0]));
    }
  } catch (error) {
    heldHere.delete(dir);
    throw error;
  }
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      heldHere.delete(dir);
      if (readText(file) === line) fs.rmSync(file, { force: true });
    },
  };
}

/** Creates the file with `line` unless it exists. */
function createExclusive(file: string, line: string): boolean {
  try {
    fs.writeFileSync(file, line, { flag: "wx" });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/** The live process the file names, unless it is this one (a file an earlier process with this pid left). */
function otherLiveOwner(file: string): number | undefined {
  const pid = liveOwner(file);
  return pid === process.pid ? undefined : pid;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

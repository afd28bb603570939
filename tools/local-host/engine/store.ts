/**
 * Durability: one append-only JSON-lines log per instance under `${dataDir}/${taskHubName}/`.
 * Every state change is a record; the in-memory instance is the fold of its records (applyRecord), so
 * what the engine does live and what start() rebuilds after a crash are the same code.
 * Appends are group-committed per file: records queued while a write+fsync is in flight go out together
 * in the next single write+fsync, and each append resolves only once its records are on disk.
 */
import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import type { ParentInstanceInfo } from "./history";
import { recordProblem } from "./log-records";
import type { HistoryEvent, RuntimeStatus } from "./types";
import type { Backend } from "./backend";

export interface MailboxEntry {
  seq: number;
  event: HistoryEvent;
}

/** One instance as the engine knows it: the current execution's history plus messages not yet processed. */
export interface InstanceData {
  instanceId: string;
  name: string;
  executionId: string;
  /** The current execution's input as a JSON string (null when none). */
  input: string | null;
  parent: ParentInstanceInfo | null;
  createdTime: number;
  lastUpdatedTime: number;
  status: RuntimeStatus;
  /** ExecutionCompleted's Result (JSON string, or a raw reason string for failures/terminations). */
  output: string | null;
  customStatus: string | null;
  /** Events already processed by an episode, in order (the worker sees them with IsPlayed=true). */
  history: HistoryEvent[];
  /** Messages received and durably logged but not yet processed by an episode. */
  mailbox: MailboxEntry[];
  nextSeq: number;
}

export type LogRecord =
  | {
      t: "create";
      instanceId: string;
      name: string;
      executionId: string;
      input: string | null;
      parent: ParentInstanceInfo | null;
      createdTime: number;
    }
  | { t: "msg"; seq: number; event: HistoryEvent; at: number }
  | {
      t: "episode";
      consumed: number[];
      events: HistoryEvent[];
      status: RuntimeStatus;
      output: string | null;
      customStatus: string | null;
      at: number;
      /** Set when the episode continued the orchestration as new: the next execution starts from this event. */
      continueAsNew?: { executionId: string; input: string | null; startEvent: HistoryEvent };
    }
  | { t: "rewrite"; history: HistoryEvent[]; status: RuntimeStatus; output: string | null; at: number };

export function applyRecord(current: InstanceData | undefined, rec: LogRecord): InstanceData {
  if (rec.t === "create") {
    return {
      instanceId: rec.instanceId,
      name: rec.name,
      executionId: rec.executionId,
      input: rec.input,
      parent: rec.parent,
      createdTime: rec.createdTime,
      lastUpdatedTime: rec.createdTime,
      status: "Pending",
      output: null,
      customStatus: null,
      history: [],
      mailbox: [],
      nextSeq: 0,
    };
  }
  if (!current) throw new Error(`log record '${rec.t}' before the instance's create record`);
  switch (rec.t) {
    case "msg":
      current.mailbox.push({ seq: rec.seq, event: rec.event });
      current.nextSeq = Math.max(current.nextSeq, rec.seq + 1);
      break;
    case "episode": {
      if (rec.consumed.length > 0) {
        const consumed = new Set(rec.consumed);
        current.mailbox = current.mailbox.filter((m) => !consumed.has(m.seq));
      }
      for (const e of rec.events) current.history.push(e);
      current.status = rec.status;
      current.output = rec.output;
      current.customStatus = rec.customStatus;
      current.lastUpdatedTime = rec.at;
      if (rec.continueAsNew) {
        // A new execution: fresh history, same instance; messages not yet processed carry over.
        current.executionId = rec.continueAsNew.executionId;
        current.input = rec.continueAsNew.input;
        current.history = [];
        current.output = null;
        current.mailbox.unshift({ seq: current.nextSeq++, event: rec.continueAsNew.startEvent });
      }
      break;
    }
    case "rewrite":
      current.history = rec.history;
      current.status = rec.status;
      current.output = rec.output;
      current.lastUpdatedTime = rec.at;
      break;
  }
  return current;
}

/** A file name for any instance id: safe characters kept, others %XX-escaped, long ids shortened with a hash. */
export function fileNameFor(instanceId: string): string {
  let safe = "";
  for (const byte of Buffer.from(instanceId, "utf8")) {
    const c = String.fromCharCode(byte);
    safe += /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (safe.length > 180) {
    const hash = createHash("sha256").update(instanceId).digest("hex").slice(0, 32);
    safe = `${safe.slice(0, 120)}~${hash}`;
  }
  return `${safe}.jsonl`;
}

interface FileQueue {
  lines: string[];
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
  flushing: Promise<void> | null;
}

/** The JSON-lines backend: one append-only, group-committed, fsync'd log per instance. */
export class InstanceStore implements Backend {
  readonly dir: string;
  private readonly queues = new Map<string, FileQueue>();
  /** Quarantined log file names -> why (see loadAll). */
  private readonly quarantined = new Map<string, string>();

  constructor(dataDir: string, taskHubName: string) {
    this.dir = path.join(dataDir, taskHubName);
  }

  async open(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
  }

  private fileOf(instanceId: string): string {
    return path.join(this.dir, fileNameFor(instanceId));
  }

  /** Appends records to the instance's log; resolves once they are written and fsync'd. */
  append(instanceId: string, records: LogRecord[]): Promise<void> {
    const file = this.fileOf(instanceId);
    let q = this.queues.get(file);
    if (!q) {
      q = { lines: [], waiters: [], flushing: null };
      this.queues.set(file, q);
    }
    for (const r of records) q.lines.push(JSON.stringify(r));
    const done = new Promise<void>((resolve, reject) => q!.waiters.push({ resolve, reject }));
    if (!q.flushing) q.flushing = this.flush(file, q);
    return done;
  }

  private async flush(file: string, q: FileQueue): Promise<void> {
    while (q.lines.length > 0) {
      const lines = q.lines;
      const waiters = q.waiters;
      q.lines = [];
      q.waiters = [];
      try {
        const fh = await fsp.open(file, "a");
        try {
          await fh.write(lines.join("\n") + "\n");
          await fh.sync();
        } finally {
          await fh.close();
        }
        for (const w of waiters) w.resolve();
      } catch (e) {
        for (const w of waiters) w.reject(e);
      }
    }
    q.flushing = null;
    if (q.lines.length === 0) this.queues.delete(file);
  }

  /** Waits for pending appends of every file (used by stop()). */
  async drain(): Promise<void> {
    const pending = [...this.queues.values()].map((q) => q.flushing).filter((p): p is Promise<void> => p !== null);
    await Promise.allSettled(pending);
  }

  async remove(instanceId: string): Promise<void> {
    const file = this.fileOf(instanceId);
    const q = this.queues.get(file);
    if (q?.flushing) await q.flushing.catch(() => undefined);
    await fsp.rm(file, { force: true });
  }

  /** Why an id's log is quarantined (a message for the client), or undefined. */
  quarantineOf(instanceId: string): string | undefined {
    return this.quarantined.get(fileNameFor(instanceId));
  }

  get quarantinedCount(): number {
    return this.quarantined.size;
  }

  /**
   * Rebuilds every instance from its log. Only a torn LAST line is an interrupted write: it is dropped and
   * cut off the file so that later appends start on a clean line. Any other damage (a bad line before the
   * last, a record of the wrong shape or before `create`, a non-file named *.jsonl, an unreadable file)
   * quarantines that one log: it moves to `quarantine/`, its id is refused, the other instances load.
   */
  async loadAll(log: StoreLog): Promise<InstanceData[]> {
    this.quarantined.clear();
    await this.rememberEarlierQuarantine(log);
    const result: InstanceData[] = [];
    for (const name of (await fsp.readdir(this.dir)).filter((n) => n.endsWith(".jsonl")).sort()) {
      const file = path.join(this.dir, name);
      const loaded = await this.loadFile(file, name, log).catch((e: unknown): Damage => ({ problem: `unreadable: ${errorText(e)}` }));
      if ("problem" in loaded) await this.quarantine(name, loaded, log);
      else if (loaded.data) result.push(loaded.data);
    }
    return result;
  }

  private async loadFile(file: string, name: string, log: StoreLog): Promise<Damage | { data?: InstanceData }> {
    if (!(await fsp.stat(file)).isFile()) return { problem: "not a regular file (a directory or other entry named *.jsonl)" };
    const text = await fsp.readFile(file, "utf8");
    const lines = text.split("\n");
    let last = lines.length - 1;
    while (last >= 0 && lines[last].trim() === "") last--;
    let data: InstanceData | undefined;
    for (let i = 0; i <= last; i++) {
      if (lines[i].trim() === "") continue;
      let rec: unknown;
      try {
        rec = JSON.parse(lines[i]);
      } catch (e) {
        if (i < last)
          return { line: i + 1, problem: `not valid JSON (${errorText(e)}), and not the last line`, instanceId: data?.instanceId };
        await this.cutTornTail(file, lines, i, log);
        return { data };
      }
      const shape = recordProblem(rec);
      const problem = shape ? `wrong record shape: ${shape}` : orderProblem(rec as LogRecord, data, name);
      if (problem) return { line: i + 1, problem, instanceId: data?.instanceId };
      data = applyRecord(data, rec as LogRecord);
    }
    // A complete last record without its newline (the write stopped right before it): keep it, end the line.
    if (last >= 0 && last === lines.length - 1) await fsp.appendFile(file, "\n");
    return { data };
  }

  private async cutTornTail(file: string, lines: string[], tornIndex: number, log: StoreLog): Promise<void> {
    const keep = tornIndex === 0 ? 0 : Buffer.byteLength(lines.slice(0, tornIndex).join("\n"), "utf8") + 1;
    const chars = lines.slice(tornIndex).join("\n").length;
    log(
      "warn",
      `Instance log ${file}: line ${tornIndex + 1}: ignored an incomplete last record (${chars} chars) left by an interrupted write.`,
    );
    await fsp.truncate(file, keep);
  }

  /** Moves a damaged log into quarantine/ (kept for inspection) and remembers its id as refused. */
  private async quarantine(name: string, damage: Damage, log: StoreLog): Promise<void> {
    const from = path.join(this.dir, name);
    const what = `Instance log ${from}${damage.line !== undefined ? `, line ${damage.line}` : ""}: ${damage.problem}`;
    let where: string;
    try {
      const qdir = path.join(this.dir, QUARANTINE_DIR);
      await fsp.mkdir(qdir, { recursive: true });
      const to = await freePath(qdir, name);
      await fsp.rename(from, to);
      where = `moved to ${to}`;
    } catch (e) {
      where = `could not be moved aside (${errorText(e)}); left in place`;
    }
    const who = damage.instanceId !== undefined ? `instance '${damage.instanceId}'` : "its instance";
    this.quarantined.set(name, `its log is corrupt: ${what}; the log was ${where}`);
    log("error", `${what}. Quarantined: ${where}; ${who} will not run and its id is refused; the other instances keep serving.`);
  }

  /** Logs set aside by an earlier start stay quarantined until someone removes them from quarantine/. */
  private async rememberEarlierQuarantine(log: StoreLog): Promise<void> {
    const qdir = path.join(this.dir, QUARANTINE_DIR);
    const names = await fsp.readdir(qdir).catch(() => [] as string[]);
    for (const n of names) {
      const m = /^(.*\.jsonl)(\.\d+)?$/.exec(n);
      if (m) this.quarantined.set(m[1], `its log was set aside as corrupt in ${path.join(qdir, n)}; remove that file to reuse the id`);
    }
    if (this.quarantined.size > 0) {
      log("warn", `${this.quarantined.size} instance log(s) remain in ${qdir}: those instances do not run and their ids are refused.`);
    }
  }
}

export const QUARANTINE_DIR = "quarantine";

export type StoreLog = (level: "info" | "warn" | "error", message: string) => void;

/** A log that cannot be loaded: where (1-based line) and what. */
interface Damage {
  line?: number;
  problem: string;
  instanceId?: string;
}

/** Records must start with `create`, and a log holds only the instance its file name is for. */
function orderProblem(rec: LogRecord, data: InstanceData | undefined, fileName: string): string | undefined {
  if (rec.t !== "create") return data ? undefined : `a '${rec.t}' record before the instance's create record`;
  if (fileNameFor(rec.instanceId) !== fileName)
    return `a create record for instance '${rec.instanceId}', whose log is ${fileNameFor(rec.instanceId)}, not this file`;
  return undefined;
}

async function freePath(dir: string, name: string): Promise<string> {
  for (let n = 0; ; n++) {
    const candidate = path.join(dir, n === 0 ? name : `${name}.${n}`);
    try {
      await fsp.lstat(candidate);
    } catch {
      return candidate;
    }
  }
}

function errorText(e: unknown): string {
  const message = (e as { message?: unknown } | null)?.message; // fs errors may come from another realm (jest)
  return typeof message === "string" ? message : String(e);
}

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
import type { HistoryEvent, RuntimeStatus } from "./types";

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

export class InstanceStore {
  readonly dir: string;
  private readonly queues = new Map<string, FileQueue>();

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

  /**
   * Rebuilds every instance from its log. A last line that does not parse (torn write of a killed process)
   * is dropped and cut off the file so that later appends start on a clean line.
   */
  async loadAll(log: (level: "info" | "warn" | "error", message: string) => void): Promise<InstanceData[]> {
    const result: InstanceData[] = [];
    const names = (await fsp.readdir(this.dir)).filter((n) => n.endsWith(".jsonl"));
    for (const name of names) {
      const file = path.join(this.dir, name);
      const text = await fsp.readFile(file, "utf8");
      let data: InstanceData | undefined;
      let offset = 0;
      let goodLength = 0;
      let torn = false;
      while (offset < text.length) {
        const nl = text.indexOf("\n", offset);
        const end = nl === -1 ? text.length : nl;
        const line = text.slice(offset, end);
        if (line.trim().length > 0) {
          let rec: LogRecord;
          try {
            rec = JSON.parse(line) as LogRecord;
          } catch {
            torn = true;
            break;
          }
          if (nl === -1) {
            // A complete JSON value without its newline: the write stopped right before it; keep it.
            data = applyRecord(data, rec);
            goodLength = text.length;
            break;
          }
          data = applyRecord(data, rec);
        }
        offset = end + 1;
        goodLength = Math.min(offset, text.length);
      }
      if (torn || goodLength !== Buffer.byteLength(text, "utf8")) {
        const keep = Buffer.byteLength(text.slice(0, goodLength), "utf8");
        const rest = text.slice(goodLength);
        if (rest.length > 0) {
          log("warn", `Instance log ${name}: ignored an incomplete last record (${rest.length} chars) left by an interrupted write.`);
          await fsp.truncate(file, keep);
        }
        if (goodLength > 0 && !text.slice(0, goodLength).endsWith("\n")) {
          await fsp.appendFile(file, "\n");
        }
      }
      if (data) result.push(data);
    }
    return result;
  }
}

/**
 * Answers are stored in groups: a worker process writes the answers that arrive while its earlier writes
 * are still in flight together, as one blob. A lone answer is written at once (no wait is ever added),
 * while a large fan-out costs a few hundred writes instead of one per recipient: Azurite handles one
 * request at a time at about 2 ms of CPU each (10,000 single-answer writes took longer than the whole
 * gather did without them), and Azure bills and throttles per transaction.
 *
 * A group blob (`answers/<group>.json`, keys.ts) is NDJSON, one `{ index, ...StoredAnswer }` per line;
 * its metadata lists every answer's index and byte range, so a listing says which answers are stored
 * and where (the responses route while the gather runs) without reading them. Whoever stored an answer
 * holds its `AnswerRef` and reads exactly its bytes back (a range read), never the whole group.
 *
 * Activities run at least once: a second run of an attempt stores its answer again, in another group,
 * and returns that ref; the orchestrator keeps the ref of the run it saw complete, so facts and stored
 * value always belong together. The copy of the other run is an orphan, deleted with the instance.
 */
import { newGroupId, type GatherKeys } from "../payload/keys";
import type { PayloadStore } from "../payload/store";

/** Where one answer lives: its group and its byte range there. */
export interface AnswerRef {
  group: string;
  offset: number;
  length: number;
  /**
   * The run folder that holds the group, when it is not the run reading it: a redriven gather's result keeps
   * the answers of earlier runs where they were stored (gather/redrive.ts).
   */
  run?: string;
}

export interface AnswerGroupLimits {
  /** Group writes a process keeps in flight per gather run; answers arriving meanwhile wait and group. */
  maxInFlight: number;
  /** Answers in one group (bounds the metadata, which Blob Storage caps at 8 KB). */
  maxAnswers: number;
  /** Bytes of one group (an answer larger than this is written alone). */
  maxBytes: number;
}

export const ANSWER_GROUP_LIMITS: Readonly<AnswerGroupLimits> = Object.freeze({
  maxInFlight: 4,
  maxAnswers: 256,
  maxBytes: 4_194_304,
});

/** Metadata name of the answer directory: `index.offset.length` in base 36, comma-separated. */
const DIRECTORY = "answers";
const NDJSON = "application/x-ndjson; charset=utf-8";
const NEWLINE = Buffer.from("\n");
const CLOSE = Buffer.from("}");

interface Waiting {
  index: number;
  /** The line's pieces (head, value, tail: the value is not copied until the group is assembled). */
  pieces: Uint8Array[];
  bytes: number;
  resolve(ref: AnswerRef): void;
  reject(error: unknown): void;
}

interface RunQueue {
  keys: GatherKeys;
  waiting: Waiting[];
  inFlight: number;
}

export class AnswerGroupWriter {
  private readonly runs = new Map<string, RunQueue>();

  constructor(
    private readonly store: PayloadStore,
    private readonly limits: AnswerGroupLimits = ANSWER_GROUP_LIMITS,
  ) {}

  /**
   * Stores the answer of recipient `index` (with the answers stored alongside it) and says where it is:
   * one line `{ index, ...fields, "value": <valueJson> }`, the value spliced in as the caller's bytes.
   */
  write(keys: GatherKeys, index: number, fields: object, valueJson: Uint8Array): Promise<AnswerRef> {
    const head = Buffer.from(`${JSON.stringify({ index, ...fields }).slice(0, -1)},"value":`, "utf8");
    const pieces = [head, valueJson, CLOSE];
    const bytes = head.length + valueJson.byteLength + CLOSE.length;
    let queue = this.runs.get(keys.prefix);
    if (!queue) this.runs.set(keys.prefix, (queue = { keys, waiting: [], inFlight: 0 }));
    const run = queue;
    return new Promise<AnswerRef>((resolve, reject) => {
      run.waiting.push({ index, pieces, bytes, resolve, reject });
      this.pump(run);
    });
  }

  private pump(queue: RunQueue): void {
    while (queue.inFlight < this.limits.maxInFlight && queue.waiting.length > 0) {
      const group = this.takeGroup(queue);
      queue.inFlight++;
      void this.writeGroup(queue.keys, group).finally(() => {
        queue.inFlight--;
        if (queue.inFlight === 0 && queue.waiting.length === 0) this.runs.delete(queue.keys.prefix);
        else this.pump(queue);
      });
    }
  }

  /** The next group: waiting answers in arrival order up to the limits, each index at most once. */
  private takeGroup(queue: RunQueue): Waiting[] {
    const taken: Waiting[] = [];
    const kept: Waiting[] = [];
    const indexes = new Set<number>();
    let bytes = 0;
    for (const entry of queue.waiting) {
      const fits =
        taken.length === 0 ||
        (taken.length < this.limits.maxAnswers && bytes + 1 + entry.bytes <= this.limits.maxBytes && !indexes.has(entry.index));
      if (fits) {
        taken.push(entry);
        indexes.add(entry.index);
        bytes += entry.bytes + (taken.length > 1 ? 1 : 0);
      } else kept.push(entry);
    }
    queue.waiting = kept;
    return taken;
  }

  private async writeGroup(keys: GatherKeys, entries: Waiting[]): Promise<void> {
    const group = newGroupId();
    const refs: AnswerRef[] = [];
    let offset = 0;
    for (const entry of entries) {
      refs.push({ group, offset, length: entry.bytes });
      offset += entry.bytes + 1;
    }
    const body = entries.flatMap((entry, i) => (i === 0 ? entry.pieces : [NEWLINE, ...entry.pieces]));
    const directory = formatDirectory(entries.map((entry, i) => ({ index: entry.index, ...refs[i] })));
    try {
      // Kept in this process's cache when small: the aggregation reads the answers back, often here.
      await this.store.putText(keys.answerGroup(group), body, { contentType: NDJSON, metadata: { [DIRECTORY]: directory }, cache: true });
      entries.forEach((entry, i) => entry.resolve(refs[i]));
    } catch (error) {
      for (const entry of entries) entry.reject(error);
    }
  }
}

/**
 * A group of one answer under a chosen id (a callback or queue recipient's reply, gather/replies.ts replyGroup):
 * its line, its metadata (a directory, so listings see it, only when it holds a value) and its ref.
 */
export function singleAnswerGroup(
  group: string,
  index: number,
  fields: object,
  valueJson: Uint8Array | undefined,
): { body: Uint8Array[]; options: { contentType: string; metadata: Record<string, string> }; ref: AnswerRef } {
  const line = JSON.stringify({ index, ...fields });
  const body = valueJson ? [Buffer.from(`${line.slice(0, -1)},"value":`, "utf8"), valueJson, CLOSE] : [Buffer.from(line, "utf8")];
  const ref = { group, offset: 0, length: body.reduce((sum, piece) => sum + piece.byteLength, 0) };
  const metadata: Record<string, string> = valueJson ? { [DIRECTORY]: formatDirectory([{ index, ...ref }]) } : {};
  return { body, options: { contentType: NDJSON, metadata }, ref };
}

/** `index.offset.length` of every answer in a group, base 36, comma-separated (≈ 13 characters each). */
export function formatDirectory(entries: readonly (AnswerRef & { index: number })[]): string {
  return entries.map((e) => [e.index, e.offset, e.length].map((n) => n.toString(36)).join(".")).join(",");
}

/** The answers a group's metadata lists (nothing for metadata it did not write). */
export function parseDirectory(group: string, metadata: Readonly<Record<string, string>> | undefined): Map<number, AnswerRef> {
  const refs = new Map<number, AnswerRef>();
  const directory = metadata?.[DIRECTORY];
  if (!directory) return refs;
  for (const entry of directory.split(",")) {
    const [index, offset, length] = entry.split(".").map((part) => parseInt(part, 36));
    if ([index, offset, length].every((n) => Number.isSafeInteger(n) && n >= 0)) refs.set(index, { group, offset, length });
  }
  return refs;
}

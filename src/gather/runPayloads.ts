/**
 * One gather run's payloads in the payload store (layout in src/payload/keys.ts): the request and the
 * recipient list (written once by the starter, read by every call: cached per process), the answers (in
 * groups, answerGroups.ts), auction answers by responder, the auction's arrival order, and the result
 * document. Durable messages carry the RunRef, indexes and AnswerRefs; this is where the data behind
 * them lives.
 */
import { answerGroupOf, gatherKeys, INDEX_DIGITS, type GatherKeys } from "../payload/keys";
import {
  describeRange,
  PayloadFormatError,
  PayloadNotFoundError,
  PayloadRangeError,
  type PayloadStore,
  type PutResult,
} from "../payload/store";
import { AnswerGroupWriter, parseDirectory, singleAnswerGroup, type AnswerRef } from "./answerGroups";
import { replyGroup, type Reply } from "./replies";
import type { RecipientOutcome } from "./outcomes";
import type { RedriveDocument } from "./redrive";
import type { GatherResult, Json, Recipient, RunRef } from "./types";

/** An answer as stored: the value and who gave it, with what the responses route shows beside it. */
export interface StoredAnswer {
  recipientId: string;
  value: Json;
  attempts?: number;
  durationMs?: number;
}

/** The result document: the summary, and every outcome with its recipient id (values stay in the answers). */
export interface ResultDocument extends Omit<GatherResult, "responses" | "aggregate"> {
  aggregate: GatherResult["aggregate"];
  /** In recipient-list (or arrival) order. */
  outcomes: (RecipientOutcome & { recipientId: string })[];
  /** How the answers are found: by index, or by responder name (auctions). */
  answersBy: "index" | "responder";
}

/**
 * A stored answer that cannot be read back: its blob is gone, ends before the answer's bytes, or holds
 * something else there. Names the blob and the answer's range; never read as a null value.
 */
export class AnswerUnreadableError extends Error {
  readonly code = "AnswerUnreadable";
  constructor(
    readonly key: string,
    /** The answer's range in its group (undefined for a blob of its own: an auction answer). */
    readonly range: { offset: number; length: number } | undefined,
    cause: PayloadNotFoundError | PayloadRangeError | PayloadFormatError,
  ) {
    const why =
      cause instanceof PayloadNotFoundError
        ? `the blob does not exist (in container '${cause.container}')`
        : cause instanceof PayloadRangeError
          ? `the blob holds only ${cause.received} of the ${describeRange(cause)}`
          : cause.message.replace(/^payload '[^']*' /, "it ");
    super(`stored answer '${key}'${range ? ` (${describeRange(range)})` : ""} cannot be read: ${why}`, { cause });
    this.name = "AnswerUnreadableError";
  }
}

/** One answer read back: its value, or why it cannot be read (the other answers of a page still can). */
export type AnswerRead = { answer: StoredAnswer; error?: undefined } | { answer?: undefined; error: AnswerUnreadableError };

/** The store's answer for data that is not there or not what it should be (as opposed to a store failure). */
function isUnreadable(error: unknown): error is PayloadNotFoundError | PayloadRangeError | PayloadFormatError {
  return error instanceof PayloadNotFoundError || error instanceof PayloadRangeError || error instanceof PayloadFormatError;
}

/** Bytes of other answers a spanning read may take along before single reads are cheaper. */
const SPAN_SLACK_BYTES = 65_536;
const READ_GROUPS_AT_ONCE = 16;

/** One group writer per store and process: answers of concurrent calls in this process group together. */
const writers = new WeakMap<PayloadStore, AnswerGroupWriter>();

/** Which redrive claimed a run, and when (RunPayloads.claimRedrive). */
interface RedriveClaim {
  runId: string;
  at: string;
}

export class RunPayloads {
  readonly keys: GatherKeys;

  constructor(
    private readonly store: PayloadStore,
    readonly run: RunRef,
  ) {
    this.keys = gatherKeys(run.instanceId, run.runId);
  }

  private get recipientsKey(): string {
    return `${this.keys.prefix}recipients.json`;
  }

  private auctionKey(responder: string): string {
    return `${this.keys.prefix}auction/${responder}.json`;
  }

  private arrivalsKey(chunk: number): string {
    return `${this.keys.prefix}arrivals/${String(chunk).padStart(INDEX_DIGITS, "0")}.json`;
  }

  storeRequest(request: Json): Promise<PutResult> {
    return this.store.putJson(this.keys.request, request);
  }

  storeRecipients(recipients: readonly Recipient[]): Promise<PutResult> {
    return this.store.putJson(this.recipientsKey, recipients);
  }

  /** The gather's request, fetched once per process. */
  request(): Promise<Json> {
    return this.store.getJson<Json>(this.keys.request, { cache: true });
  }

  /** The stored recipient list, fetched once per process. */
  recipients(): Promise<readonly Recipient[]> {
    return this.store.getJson<Recipient[]>(this.recipientsKey, { cache: true });
  }

  /**
   * Stores the answer of recipient `index` (its fields, and its value as UTF-8 JSON, serialized once by
   * the caller or as received), grouped with answers stored meanwhile; says where it is.
   */
  storeAnswer(index: number, fields: Omit<StoredAnswer, "value">, valueJson: Uint8Array): Promise<AnswerRef> {
    let writer = writers.get(this.store);
    if (!writer) writers.set(this.store, (writer = new AnswerGroupWriter(this.store)));
    return writer.write(this.keys, index, fields, valueJson);
  }

  /**
   * The stored answer at `ref` (exactly its bytes, not its whole group). Throws AnswerUnreadableError,
   * naming the group blob and the range, when it cannot be read.
   */
  async answer(ref: AnswerRef): Promise<StoredAnswer> {
    const [read] = await this.readAnswers([ref]);
    if (read.error) throw read.error;
    return read.answer;
  }

  /**
   * Many stored answers (what the inline result shows, small in total), in `refs` order; throws the first
   * AnswerUnreadableError when one of them cannot be read (see readAnswers).
   */
  async answersAt(refs: readonly AnswerRef[]): Promise<StoredAnswer[]> {
    return (await this.readAnswers(refs)).map((read) => {
      if (read.error) throw read.error;
      return read.answer;
    });
  }

  /**
   * Stored answers in `refs` order, each read back or marked with why it cannot be (its blob missing, or
   * shorter than its range): an AnswerUnreadableError naming the blob and the range, never a null value.
   * Any other failure of the store (after its retries) is thrown. The answers of one group come in one
   * range read spanning them, unless that span is mostly other answers (then one range read each): never
   * one request per answer when they sit together, never a group's worth of bytes for a few small answers.
   * The aggregation and the responses route both read answers through here.
   */
  async readAnswers(refs: readonly AnswerRef[]): Promise<AnswerRead[]> {
    const byGroup = new Map<string, AnswerRef[]>();
    for (const ref of refs) {
      const key = this.groupKey(ref);
      const members = byGroup.get(key);
      if (members) members.push(ref);
      else byGroup.set(key, [ref]);
    }
    const found = new Map<AnswerRef, AnswerRead>();
    const readOne = async (ref: AnswerRef) => {
      const key = this.groupKey(ref);
      try {
        found.set(ref, { answer: await this.store.getJsonRange<StoredAnswer>(key, ref.offset, ref.length) });
      } catch (error) {
        if (!isUnreadable(error)) throw error;
        found.set(ref, { error: new AnswerUnreadableError(key, ref, error) });
      }
    };
    const readGroup = async ([key, members]: [string, AnswerRef[]]) => {
      const start = Math.min(...members.map((r) => r.offset));
      const end = Math.max(...members.map((r) => r.offset + r.length));
      const needed = members.reduce((sum, r) => sum + r.length, 0);
      if (members.length === 1 || end - start > 4 * needed + SPAN_SLACK_BYTES) {
        await Promise.all(members.map(readOne));
        return;
      }
      let span: Uint8Array;
      try {
        span = await this.store.getRange(key, start, end - start);
      } catch (error) {
        if (!isUnreadable(error)) throw error;
        // A group that ends early may still hold the first answers: say which ones, answer by answer.
        if (error instanceof PayloadRangeError) await Promise.all(members.map(readOne));
        else for (const ref of members) found.set(ref, { error: new AnswerUnreadableError(key, ref, error) });
        return;
      }
      for (const ref of members) {
        const text = Buffer.from(span.subarray(ref.offset - start, ref.offset - start + ref.length)).toString("utf8");
        try {
          found.set(ref, { answer: JSON.parse(text) as StoredAnswer });
        } catch (error) {
          found.set(ref, { error: new AnswerUnreadableError(key, ref, new PayloadFormatError(key, error)) });
        }
      }
    };
    // A few groups at a time: bounded requests in flight, like any other read of many answers.
    const groups = [...byGroup];
    for (let i = 0; i < groups.length; i += READ_GROUPS_AT_ONCE) await Promise.all(groups.slice(i, i + READ_GROUPS_AT_ONCE).map(readGroup));
    return refs.map((ref) => found.get(ref)!);
  }

  /** The blob of a ref's answer group: in this run's folder, or in the earlier run the ref names (redrive). */
  private groupKey(ref: AnswerRef): string {
    const keys = ref.run && ref.run !== this.run.runId ? gatherKeys(this.run.instanceId, ref.run) : this.keys;
    return keys.answerGroup(ref.group);
  }

  /**
   * Where each answer stored so far is, by index, from one listing of the groups' metadata (no answer is
   * read). An index stored twice (a repeated activity run) maps to one of its copies.
   */
  async storedAnswers(): Promise<Map<number, AnswerRef>> {
    const refs = new Map<number, AnswerRef>();
    for await (const blob of this.store.list(this.keys.answersPrefix, { metadata: true })) {
      const group = answerGroupOf(blob.key);
      if (group) for (const [index, ref] of parseDirectory(group, blob.metadata)) refs.set(index, ref);
    }
    return refs;
  }

  /**
   * A callback or queue recipient's reply, stored once as an answer group of its own: the first reply wins
   * (`created: false` for any later one). A value is listed and read like any answer (`ref`); an error is kept
   * only so a second reply is known as one.
   */
  async storeReply(index: number, recipientId: string, reply: Reply): Promise<{ created: boolean; ref: AnswerRef }> {
    const valueJson = "value" in reply ? Buffer.from(JSON.stringify(reply.value), "utf8") : undefined;
    const fields = "error" in reply ? { recipientId, error: reply.error } : { recipientId };
    const group = singleAnswerGroup(replyGroup(index), index, fields, valueJson);
    const put = await this.store.putText(this.keys.answerGroup(group.ref.group), group.body, group.options);
    return { created: put.created, ref: group.ref };
  }

  /** Deletes the reply stored for recipient `index`: one that came too late counts for nothing and must not stay. */
  async forgetReply(index: number): Promise<void> {
    await this.store.deleteByPrefix(this.keys.answerGroup(replyGroup(index)));
  }

  /** The reply stored for recipient `index` (storeReply), with where its value is. */
  async storedReply(index: number): Promise<{ reply: Reply; ref: AnswerRef } | undefined> {
    const key = this.keys.answerGroup(replyGroup(index));
    const text = await orUndefined(this.store.getText(key));
    if (text === undefined) return undefined;
    const stored = JSON.parse(text) as { value?: Json; error?: string };
    const ref = { group: replyGroup(index), offset: 0, length: Buffer.byteLength(text, "utf8") };
    return { reply: typeof stored.error === "string" ? { error: stored.error } : { value: stored.value ?? null }, ref };
  }

  /** An auction answer; the first one of a responder wins (`created: false` for a later one). */
  storeAuctionAnswer(responder: string, answer: StoredAnswer): Promise<PutResult> {
    return this.store.putJson(this.auctionKey(responder), answer);
  }

  /** A responder's stored answer; throws AnswerUnreadableError, naming the blob, when it cannot be read. */
  async auctionAnswer(responder: string): Promise<StoredAnswer> {
    const [read] = await this.readAuctionAnswers([responder]);
    if (read.error) throw read.error;
    return read.answer;
  }

  /** Responders' stored answers in `responders` order, each read back or marked (see readAnswers). */
  async readAuctionAnswers(responders: readonly string[]): Promise<AnswerRead[]> {
    const reads: AnswerRead[] = new Array<AnswerRead>(responders.length);
    const readOne = async (responder: string, i: number) => {
      const key = this.auctionKey(responder);
      try {
        reads[i] = { answer: await this.store.getJson<StoredAnswer>(key) };
      } catch (error) {
        if (!isUnreadable(error)) throw error;
        reads[i] = { error: new AnswerUnreadableError(key, undefined, error) };
      }
    };
    for (let i = 0; i < responders.length; i += READ_GROUPS_AT_ONCE) {
      await Promise.all(responders.slice(i, i + READ_GROUPS_AT_ONCE).map((responder, j) => readOne(responder, i + j)));
    }
    return reads;
  }

  /** Auction responders stored so far, in name order (arrival order is known once the auction closes). */
  async auctionResponders(): Promise<string[]> {
    const names: string[] = [];
    const prefix = `${this.keys.prefix}auction/`;
    for await (const ref of this.store.list(prefix)) names.push(ref.key.slice(prefix.length, -".json".length));
    return names;
  }

  storeArrivals(chunk: number, responders: readonly string[]): Promise<PutResult> {
    return this.store.putJson(this.arrivalsKey(chunk), responders);
  }

  /** Responder names in arrival order, from `chunks` chunks. */
  async arrivals(chunks: number): Promise<string[]> {
    const names: string[] = [];
    for (let chunk = 0; chunk < chunks; chunk++) names.push(...(await this.store.getJson<string[]>(this.arrivalsKey(chunk))));
    return names;
  }

  /** A redrive run's document (gather/redrive.ts): written once by the redrive route, read by its activities. */
  storeRedrive(doc: RedriveDocument): Promise<PutResult> {
    return this.store.putJson(`${this.keys.prefix}redrive.json`, doc);
  }

  redrive(): Promise<RedriveDocument> {
    return this.store.getJson<RedriveDocument>(`${this.keys.prefix}redrive.json`, { cache: true });
  }

  /**
   * Claims this (finished) run for the redrive that will become run `by`: one redrive per run, so two redrive
   * requests that read the same result cannot both start (the second would plan from a result the first has
   * replaced). Put-if-absent makes it atomic. A claim older than `staleMs` whose run never started (the caller
   * planned from this run, so it is still the latest) is a crashed attempt's, and is taken over.
   */
  async claimRedrive(by: string, now: Date, staleMs: number): Promise<{ claimed: true } | { claimed: false; by: string }> {
    const claim: RedriveClaim = { runId: by, at: now.toISOString() };
    const put = await this.store.putJson(this.redriveClaimKey, claim);
    if (put.identical) return { claimed: true };
    const held = await this.store.getJson<RedriveClaim>(this.redriveClaimKey);
    if (now.getTime() - Date.parse(held.at) <= staleMs) return { claimed: false, by: held.runId };
    await this.store.deleteByPrefix(this.redriveClaimKey);
    return (await this.store.putJson(this.redriveClaimKey, claim)).identical ? { claimed: true } : { claimed: false, by: held.runId };
  }

  /** Gives the claim up (the redrive it was for did not start). */
  async releaseRedriveClaim(): Promise<void> {
    await this.store.deleteByPrefix(this.redriveClaimKey);
  }

  private get redriveClaimKey(): string {
    return `${this.keys.prefix}redriven-by.json`;
  }

  storeResult(result: ResultDocument): Promise<PutResult> {
    return this.store.putJson(this.keys.result, result);
  }

  /** The result document of a finished run, cached per process (it never changes). */
  result(): Promise<ResultDocument | undefined> {
    return orUndefined(this.store.getJson<ResultDocument>(this.keys.result, { cache: true }));
  }
}

async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof PayloadNotFoundError) return undefined;
    throw error;
  }
}

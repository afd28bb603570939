/**
 * One gather run's payloads in the payload store (layout in src/payload/keys.ts): the request and the
 * recipient list (written once by the starter, read by every call: cached per process), each answer,
 * auction answers by responder, the auction's arrival order, and the result document. Durable
 * messages carry the RunRef and indexes; this is where the data behind them lives.
 */
import { answerIndex, gatherKeys, INDEX_DIGITS, type GatherKeys } from "../payload/keys";
import { PayloadNotFoundError, type PayloadStore, type PutResult } from "../payload/store";
import type { RecipientOutcome } from "./outcomes";
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

  storeAnswer(index: number, answer: StoredAnswer): Promise<PutResult> {
    return this.store.putJson(this.keys.answer(index), answer);
  }

  answer(index: number): Promise<StoredAnswer | undefined> {
    return orUndefined(this.store.getJson<StoredAnswer>(this.keys.answer(index)));
  }

  /** The indexes of the answers stored so far, in order. */
  async answeredIndexes(): Promise<Set<number>> {
    const indexes = new Set<number>();
    for await (const ref of this.store.list(this.keys.answersPrefix)) {
      const index = answerIndex(ref.key);
      if (index !== undefined) indexes.add(index);
    }
    return indexes;
  }

  /** An auction answer; the first one of a responder wins (`created: false` for a later one). */
  storeAuctionAnswer(responder: string, answer: StoredAnswer): Promise<PutResult> {
    return this.store.putJson(this.auctionKey(responder), answer);
  }

  auctionAnswer(responder: string): Promise<StoredAnswer | undefined> {
    return orUndefined(this.store.getJson<StoredAnswer>(this.auctionKey(responder)));
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

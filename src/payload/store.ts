/**
 * The payload store: where a gather keeps its request, its answers and its result, out of durable history
 * (the Durable Task Scheduler refuses any payload over 1 MiB, and every history byte is replayed).
 *
 * This file is the contract. It names no storage SDK, so the domain and the orchestrators can depend on
 * it without importing @azure/storage-blob; `BlobPayloadStore` (blobStore.ts) implements it on Azure Blob
 * Storage, Azurite locally. Keys are laid out by keys.ts.
 *
 * Semantics every implementation keeps:
 * - Blobs are immutable. A write creates the blob only if the key is free (put-if-absent). Activities run
 *   at least once, so writing a key again is not an error: the call returns the stored blob's ref, with
 *   `created: false`, and `identical` says whether the stored bytes are the ones just offered. The first
 *   write wins; a caller whose second run produced different content must carry on with the stored one.
 * - Because blobs never change, a process may cache them: `get*(key, { cache: true })` fetches a key once
 *   per process (concurrent first reads share one request) and keeps it in a byte-bounded LRU cache; a
 *   small blob written with `{ cache: true }` is kept as written, and range reads of it are served from there.
 * - `list(prefix)` yields in key order (lexicographic), page by page: aggregation can stream answers.
 * - A write may carry metadata (a few short ASCII name/value pairs, as Blob Storage allows: names are
 *   identifiers, 8 KB in all); `list(prefix, { metadata: true })` hands it back with each blob, so a
 *   listing can say what blobs hold without reading them.
 * - Reads are whole or fail: a read hands back every byte it asked for (the whole blob, or exactly `length`
 *   bytes of a range), never fewer. A key without a blob is a PayloadNotFoundError, a range that runs past
 *   the blob's end a PayloadRangeError; both name the key (and the range). Neither is ever turned into an
 *   empty or null value by the store.
 * - Transient failures (connection refused, reset or cut mid-body, a stalled request, 408/429/500/502/503/
 *   504) are retried inside the store, with back-off, for up to about 2 minutes (retry.ts), so an outage
 *   shorter than that costs time, not data. Any other failure (404, 409, 412, 403, ...) is final at once.
 *   A write retried after a failure may meet its own first attempt, which did land: that is the taken-key
 *   case above (`created: false`, `identical` by comparing the bytes' MD5), never an error.
 * - It is I/O: call it from activities and HTTP functions, never from orchestrator code (replays).
 */

/** What a durable message carries instead of a payload: small, JSON-serialisable. */
export interface BlobRef {
  /** The blob's key inside the payload container (see keys.ts for the layout). */
  readonly key: string;
  /** Stored size in bytes (UTF-8 JSON). */
  readonly bytes: number;
  /** Base64 MD5 of the stored bytes ("" when the store does not know it). */
  readonly md5: string;
  /** The blob's metadata, from a listing asked for it (`ListOptions.metadata`). */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface PutOptions {
  contentType?: string;
  /** Name/value pairs kept with the blob (names: lower-case identifiers; values: printable ASCII). */
  metadata?: Record<string, string>;
  /**
   * Keep the bytes just written in the per-process cache when the blob is small, so that range reads of it
   * in this process need no request: an answer group is read back by the aggregation, often in the worker
   * that wrote it. A store without a cache ignores it.
   */
  cache?: boolean;
}

/** The answer of a write. */
export interface PutResult extends BlobRef {
  /** true: this call created the blob; false: the key was taken already (an earlier run of the same work). */
  readonly created: boolean;
  /** true when the stored bytes are the bytes of this call (always true when created). */
  readonly identical: boolean;
}

export interface GetOptions {
  /**
   * Keep the blob in the per-process cache (for blobs read many times, such as a gather's request). The
   * value handed back from the cache is shared: getJson deep-freezes it, never mutate it.
   */
  cache?: boolean;
}

export interface ListOptions {
  /** Blobs per listing request (the service's maximum, and default, is 5000). */
  pageSize?: number;
  /** Hand back each blob's metadata too. */
  metadata?: boolean;
}

export interface ReadAllOptions extends ListOptions {
  /** How many blobs are downloaded ahead of the consumer (bounds memory: concurrency x blob size). */
  concurrency?: number;
}

export interface PayloadStore {
  /** Container (or folder) the keys live in, for messages and telemetry. */
  readonly container: string;

  /** Stores `value` as JSON under `key` unless the key is taken (see PutResult). */
  putJson(key: string, value: unknown, options?: PutOptions): Promise<PutResult>;
  /**
   * Stores text, or UTF-8 bytes (one buffer, or pieces sent in turn: neither is copied), under `key`
   * unless the key is taken (see PutResult).
   */
  putText(key: string, text: string | Uint8Array | readonly Uint8Array[], options?: PutOptions): Promise<PutResult>;

  /** The parsed JSON blob. Throws PayloadNotFoundError when there is none. */
  getJson<T = unknown>(keyOrRef: string | BlobRef, options?: GetOptions): Promise<T>;
  /**
   * `length` bytes of the blob from byte `offset`, parsed as JSON (one record of a blob that holds
   * several, such as an answer group). Throws PayloadNotFoundError when there is no blob, PayloadRangeError
   * when the blob ends before `offset + length`.
   */
  getJsonRange<T = unknown>(key: string, offset: number, length: number): Promise<T>;
  /**
   * Exactly `length` bytes of the blob from byte `offset`. Throws PayloadNotFoundError when there is no
   * blob, PayloadRangeError when the blob ends before `offset + length`.
   */
  getRange(key: string, offset: number, length: number): Promise<Uint8Array>;
  /** The blob as UTF-8 text. Throws PayloadNotFoundError when there is none. */
  getText(keyOrRef: string | BlobRef, options?: GetOptions): Promise<string>;
  /** The ref of a stored blob, or undefined when the key is free. */
  stat(key: string): Promise<BlobRef | undefined>;

  /** Every blob whose key starts with `prefix`, in key order. */
  list(prefix: string, options?: ListOptions): AsyncIterable<BlobRef>;
  /**
   * Every JSON blob under `prefix`, parsed, in key order, downloaded `concurrency` at a time ahead of the
   * consumer: the streaming read an aggregation needs (never every answer in memory at once).
   */
  readAll<T = unknown>(prefix: string, options?: ReadAllOptions): AsyncIterable<{ ref: BlobRef; value: T }>;

  /** Deletes every blob under `prefix` (e.g. `instancePrefix(id)` when an instance is purged); returns how many. */
  deleteByPrefix(prefix: string): Promise<number>;
}

/** A byte range of a blob: `length` bytes from byte `offset`. */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/** "64 bytes at offset 120": how errors name a range. */
export function describeRange(range: ByteRange): string {
  return `${range.length} bytes at offset ${range.offset}`;
}

/** The key holds no blob (`range`: what a range read asked for). */
export class PayloadNotFoundError extends Error {
  readonly code = "PayloadNotFound";
  constructor(
    readonly key: string,
    readonly container: string,
    readonly range?: ByteRange,
  ) {
    super(`payload '${key}' not found in container '${container}'${range ? ` (reading ${describeRange(range)})` : ""}`);
    this.name = "PayloadNotFoundError";
  }
}

/** A range read asked for bytes the blob does not have: it ends before `offset + length`. */
export class PayloadRangeError extends Error {
  readonly code = "PayloadRange";
  constructor(
    readonly key: string,
    readonly container: string,
    readonly offset: number,
    readonly length: number,
    /** Bytes the blob has from `offset` (0 when it ends before it). */
    readonly received: number,
  ) {
    super(
      `payload '${key}' in container '${container}' is shorter than the range read: ${describeRange({ offset, length })} asked, ` +
        `${received} there`,
    );
    this.name = "PayloadRangeError";
  }
}

/** No storage account is configured, or its settings are malformed. */
export class PayloadStoreConfigError extends Error {
  readonly code = "PayloadStoreConfig";
  constructor(message: string) {
    super(message);
    this.name = "PayloadStoreConfigError";
  }
}

/** The stored blob is not valid JSON (getJson / readAll). */
export class PayloadFormatError extends Error {
  readonly code = "PayloadFormat";
  constructor(
    readonly key: string,
    cause: unknown,
  ) {
    super(`payload '${key}' is not valid JSON: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = "PayloadFormatError";
  }
}

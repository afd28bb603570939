/**
 * PayloadStore on Azure Blob Storage (@azure/storage-blob), Azurite locally. The only file that imports
 * the storage SDK. Writes are Put Blob with `If-None-Match: *` (create-only, so blobs are immutable and a
 * repeated write is detected, not applied); reads are one Get Blob each; listings page through List Blobs.
 * Every request is reported through `onOperation` (default: an Application Insights dependency).
 *
 * Every request runs under the store's retry policy (retry.ts): the SDK's own retries are off (its
 * pipeline makes one try, its download stream never re-requests), so one policy decides, and a read is
 * retried as a whole, body included. A download counts its bytes against the Content-Length the service
 * announced (a body cut mid-way is transient, read again) and against the range asked for (a blob shorter
 * than the range is a PayloadRangeError, final).
 */
import {
  BlobServiceClient,
  type ContainerClient,
  type ContainerListBlobFlatSegmentResponse,
  type StoragePipelineOptions,
} from "@azure/storage-blob";
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import { trackBlobOperation, type BlobOperation } from "../telemetry";
import { deepFreeze, LruByteCache, type CacheStats } from "./cache";
import type { PayloadStoreConfig } from "./config";
import { createCredential } from "./credential";
import { assertValidKey, instanceOfKey } from "./keys";
import { DEFAULT_STORE_RETRY, withRetries, type StoreRetryPolicy } from "./retry";
import {
  describeRange,
  PayloadFormatError,
  PayloadNotFoundError,
  PayloadRangeError,
  type ByteRange,
  type BlobRef,
  type GetOptions,
  type ListOptions,
  type PayloadStore,
  type PutOptions,
  type PutResult,
  type ReadAllOptions,
} from "./store";

export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

export interface BlobPayloadStoreOptions {
  /** Bound of the per-process cache of immutable blobs (default 64 MiB). */
  cacheBytes?: number;
  /** Called once per storage request (default: trackBlobOperation, a no-op without Application Insights). */
  onOperation?: (operation: BlobOperation) => void;
  /** Default page size of list(), deleteByPrefix() and readAll() (the service's maximum is 5000). */
  listPageSize?: number;
  /** Parallel deletes in deleteByPrefix (default 16). */
  deleteConcurrency?: number;
  /** Default parallel downloads of readAll (default 8). */
  readConcurrency?: number;
  /**
   * SDK pipeline options (proxy, user agent, ...). Its retry options are overridden: the SDK makes one try
   * per request, the store's policy (`retry`) does the retrying.
   */
  pipeline?: StoragePipelineOptions;
  /** The retry policy (retry.ts); defaults: up to 2 minutes, 500 ms doubling to 10 s, 30 s per attempt. */
  retry?: Partial<StoreRetryPolicy>;
}

/**
 * The largest blob a write keeps in the cache (PutOptions.cache): a group of a few hundred small answers fits,
 * a group holding one answer at MAX_RESPONSE_BYTES (64 KiB by default) does not. Large answers would push the
 * request and the recipient list out of the cache, and keeping 64 KB values alive past a young-generation
 * collection is what made the garbage collector the host's largest cost.
 */
export const CACHED_WRITE_MAX_BYTES = 64 * 1024;

interface CachedBlob {
  /** The blob as text: read whole (getText, getJson), or decoded from `bytes` on the first such read. */
  text?: string;
  /** The bytes a write kept (PutOptions.cache): range reads are served from them. */
  bytes?: Buffer;
  /** The parsed value, once a getJson asked for it (deep-frozen: shared by every caller). */
  json?: { value: unknown };
}

/** What a failed SDK call carries (RestError); read structurally to keep the SDK's error class out of the API. */
interface StorageFailure {
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
}

export function createBlobPayloadStore(config: PayloadStoreConfig, options: BlobPayloadStoreOptions = {}): BlobPayloadStore {
  const connection = config.connection;
  // One try per SDK call: the store's retry policy is the only one (attempts would multiply otherwise).
  const pipeline: StoragePipelineOptions = { ...options.pipeline, retryOptions: { maxTries: 1 } };
  const service =
    connection.kind === "connectionString"
      ? BlobServiceClient.fromConnectionString(connection.connectionString, pipeline)
      : new BlobServiceClient(connection.blobEndpoint, createCredential(connection.credential), pipeline);
  return new BlobPayloadStore(service.getContainerClient(config.container), new URL(connection.blobEndpoint).host, options);
}

export class BlobPayloadStore implements PayloadStore {
  readonly container: string;
  private readonly cache: LruByteCache<CachedBlob>;
  private readonly onOperation: (operation: BlobOperation) => void;
  private readonly retry: StoreRetryPolicy;
  private containerReady: Promise<void> | undefined;

  constructor(
    private readonly client: ContainerClient,
    /** Host of the blob endpoint, the telemetry target. */
    readonly accountHost: string,
    private readonly options: BlobPayloadStoreOptions = {},
  ) {
    this.container = client.containerName;
    this.cache = new LruByteCache<CachedBlob>(options.cacheBytes ?? DEFAULT_CACHE_BYTES);
    this.onOperation = options.onOperation ?? trackBlobOperation;
    this.retry = { ...DEFAULT_STORE_RETRY, ...definedOnly(options.retry) };
  }

  cacheStats(): CacheStats {
    return this.cache.stats();
  }

  async putJson(key: string, value: unknown, options: PutOptions = {}): Promise<PutResult> {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`payload '${key}': ${typeof value} is not JSON`);
    return this.putText(key, text, { contentType: JSON_CONTENT_TYPE, ...options });
  }

  async putText(key: string, text: string | Uint8Array | readonly Uint8Array[], options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    const { contentType = "text/plain; charset=utf-8", metadata } = options;
    const pieces: readonly Uint8Array[] =
      typeof text === "string" ? [Buffer.from(text, "utf8")] : Array.isArray(text) ? text : [text as Uint8Array];
    const length = pieces.reduce((sum, piece) => sum + piece.byteLength, 0);
    // Pieces are streamed as they are (the SDK calls the factory again for a retry): a group of answers
    // is never copied into one buffer.
    const body = pieces.length === 1 ? pieces[0] : () => Readable.from(pieces, { objectMode: false });
    const blob = this.client.getBlockBlobClient(key);
    // The service computes the MD5 of a single-shot Put Blob and answers it: no hashing of every byte here.
    // Retried as a whole: an attempt whose answer was lost may have stored the blob, and the next one
    // then meets 409/412, handled below like any taken key (the bytes compared by MD5).
    const upload = () =>
      this.request("PutBlob", key, length, [409, 412], (abortSignal) =>
        blob.upload(body, length, {
          abortSignal,
          conditions: { ifNoneMatch: "*" },
          blobHTTPHeaders: { blobContentType: contentType },
          ...(metadata ? { metadata } : {}),
        }),
      );
    await this.ensureContainer();
    try {
      let response: Awaited<ReturnType<typeof upload>>;
      try {
        response = await upload();
      } catch (error) {
        if (!isContainerMissing(error)) throw error;
        // The container went away after this process created it (deleted by hand): create it again, once.
        this.containerReady = undefined;
        await this.ensureContainer();
        response = await upload();
      }
      const md5 = response.contentMD5 ? Buffer.from(response.contentMD5).toString("base64") : md5Of(pieces);
      // Only what this call created: a taken key holds an earlier run's bytes, which may differ.
      if (options.cache && length <= CACHED_WRITE_MAX_BYTES) this.cache.set(key, { bytes: Buffer.concat(pieces, length) }, length);
      return { key, bytes: length, md5, created: true, identical: true };
    } catch (error) {
      const status = failure(error).statusCode;
      if (status !== 409 && status !== 412) throw error;
      // The key is taken: an earlier run wrote it. The stored blob wins (blobs are immutable).
      const stored = await this.stat(key);
      if (!stored) throw error; // deleted in between: report the conflict as it was
      return { ...stored, created: false, identical: stored.md5 === md5Of(pieces) && stored.bytes === length };
    }
  }

  async getJson<T = unknown>(keyOrRef: string | BlobRef, options: GetOptions = {}): Promise<T> {
    const key = keyOf(keyOrRef);
    if (!options.cache) return parse(key, await this.download(key)) as T;
    const entry = await this.cached(key);
    entry.json ??= { value: deepFreeze(parse(key, textOf(entry))) };
    return entry.json.value as T;
  }

  async getText(keyOrRef: string | BlobRef, options: GetOptions = {}): Promise<string> {
    const key = keyOf(keyOrRef);
    return options.cache ? textOf(await this.cached(key)) : this.download(key);
  }

  async stat(key: string): Promise<BlobRef | undefined> {
    assertValidKey(key);
    try {
      const properties = await this.request("GetBlobProperties", key, undefined, [404], (abortSignal) =>
        this.client.getBlobClient(key).getProperties({ abortSignal }),
      );
      return {
        key,
        bytes: properties.contentLength ?? 0,
        md5: properties.contentMD5 ? Buffer.from(properties.contentMD5).toString("base64") : "",
      };
    } catch (error) {
      if (failure(error).statusCode === 404) return undefined;
      throw error;
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<BlobRef> {
    const maxPageSize = options.pageSize ?? this.options.listPageSize;
    let continuationToken: string | undefined;
    for (;;) {
      // Each page from its continuation token, on a pager of its own: a page that failed is asked again
      // (the SDK's pager is an async generator, finished for good by its first error: a retry through it
      // would end the listing early, silently).
      const token = continuationToken;
      let page: ContainerListBlobFlatSegmentResponse | undefined;
      try {
        page = await this.request("ListBlobs", undefined, undefined, [], async (abortSignal) => {
          const next = await this.client
            .listBlobsFlat({ prefix, includeMetadata: options.metadata === true, abortSignal })
            .byPage({ maxPageSize, ...(token ? { continuationToken: token } : {}) })
            .next();
          return next.done ? undefined : next.value;
        });
      } catch (error) {
        if (isContainerMissing(error)) return; // nothing was ever written
        throw error;
      }
      if (!page) return;
      for (const item of page.segment.blobItems) {
        const md5 = item.properties.contentMD5;
        yield {
          key: item.name,
          bytes: item.properties.contentLength ?? 0,
          md5: md5 ? Buffer.from(md5).toString("base64") : "",
          ...(options.metadata ? { metadata: item.metadata ?? {} } : {}),
        };
      }
      continuationToken = page.continuationToken;
      if (!continuationToken) return;
    }
  }

  async *readAll<T = unknown>(prefix: string, options: ReadAllOptions = {}): AsyncIterable<{ ref: BlobRef; value: T }> {
    const concurrency = Math.max(1, options.concurrency ?? this.options.readConcurrency ?? 8);
    const ahead: Promise<{ ref: BlobRef; value: T }>[] = [];
    const fetch = (ref: BlobRef) => {
      const pending = this.getJson<T>(ref.key).then((value) => ({ ref, value }));
      pending.catch(() => undefined); // observed when its turn comes; never an unhandled rejection meanwhile
      return pending;
    };
    for await (const ref of this.list(prefix, options)) {
      ahead.push(fetch(ref));
      if (ahead.length >= concurrency) yield await ahead.shift()!;
    }
    while (ahead.length > 0) yield await ahead.shift()!;
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    if (typeof prefix !== "string" || prefix.length === 0) throw new RangeError("deleteByPrefix needs a non-empty prefix");
    const concurrency = Math.max(1, this.options.deleteConcurrency ?? 16);
    const running = new Set<Promise<void>>();
    let deleted = 0;
    let firstError: unknown;
    try {
      for await (const ref of this.list(prefix)) {
        if (firstError) break;
        const work: Promise<void> = this.request("DeleteBlob", ref.key, undefined, [404], (abortSignal) =>
          this.client.getBlobClient(ref.key).deleteIfExists({ abortSignal, deleteSnapshots: "include" }),
        ).then(
          (response) => {
            if (response.succeeded) deleted++;
          },
          (error: unknown) => {
            firstError ??= error;
          },
        );
        running.add(work);
        void work.finally(() => running.delete(work));
        if (running.size >= concurrency) await Promise.race(running);
      }
      await Promise.all(running);
    } finally {
      this.cache.deletePrefix(prefix);
    }
    if (firstError) throw firstError instanceof Error ? firstError : new Error(String(firstError));
    return deleted;
  }

  // ---------------------------------------------------------------------------------------------

  private ensureContainer(): Promise<void> {
    this.containerReady ??= this.request("CreateContainer", undefined, undefined, [409], (abortSignal) =>
      this.client.createIfNotExists({ abortSignal }),
    ).then(
      () => undefined,
      (error: unknown) => {
        this.containerReady = undefined;
        throw error;
      },
    );
    return this.containerReady;
  }

  private cached(key: string): Promise<CachedBlob> {
    return this.cache.getOrLoad(key, async () => {
      const text = await this.download(key);
      return { value: { text }, bytes: Buffer.byteLength(text, "utf8") };
    });
  }

  async getJsonRange<T = unknown>(key: string, offset: number, length: number): Promise<T> {
    return parse(key, (await this.getRange(key, offset, length)).toString("utf8")) as T;
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 1) {
      throw new RangeError(`payload '${key}': bad byte range ${offset}+${length}`);
    }
    const kept = this.cache.get(key)?.bytes;
    if (kept) {
      if (offset + length > kept.length) {
        throw new PayloadRangeError(key, this.container, offset, length, Math.max(0, kept.length - offset));
      }
      return Buffer.from(kept.subarray(offset, offset + length));
    }
    return this.downloadBytes(key, { offset, length });
  }

  private async download(key: string): Promise<string> {
    return (await this.downloadBytes(key)).toString("utf8");
  }

  /**
   * The blob's bytes, or exactly `range.length` of them from `range.offset`: the body is counted against
   * the Content-Length the service announced (short: transient, the whole read is retried) and against
   * the range (a blob that ends before it: PayloadRangeError, final).
   */
  private async downloadBytes(key: string, range?: ByteRange): Promise<Buffer> {
    assertValidKey(key);
    try {
      return await this.request("GetBlob", key, undefined, [], async (abortSignal) => {
        // maxRetryRequests 0: the SDK's stream never re-requests on its own; this policy reads again.
        const response = await this.client
          .getBlobClient(key)
          .download(range?.offset ?? 0, range?.length, { abortSignal, maxRetryRequests: 0 });
        const body = await readBody(response.readableStreamBody, response.contentLength, abortSignal, key, range);
        if (range && body.length !== range.length) {
          throw new PayloadRangeError(key, this.container, range.offset, range.length, body.length);
        }
        return body;
      });
    } catch (error) {
      const status = failure(error).statusCode;
      if (status === 404) throw new PayloadNotFoundError(key, this.container, range);
      // 416: the range starts at or after the blob's end.
      if (status === 416 && range) throw new PayloadRangeError(key, this.container, range.offset, range.length, 0);
      throw error;
    }
  }

  /** One storage request under the retry policy; each attempt is reported (see call). */
  private request<T>(
    operation: string,
    key: string | undefined,
    bytes: number | undefined,
    expected: number[],
    send: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    return withRetries((abortSignal) => this.call(operation, key, bytes, expected, () => send(abortSignal)), this.retry);
  }

  /** Runs one storage request and reports it; `expected` statuses count as successes (a free key, a taken key). */
  private async call<T>(
    operation: string,
    key: string | undefined,
    bytes: number | undefined,
    expected: number[],
    request: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    let statusCode: number | undefined;
    let success = false;
    try {
      const result = await request();
      statusCode = responseStatus(result);
      success = true;
      if (bytes === undefined && typeof result === "string") bytes = Buffer.byteLength(result, "utf8");
      if (bytes === undefined && result instanceof Uint8Array) bytes = result.byteLength;
      return result;
    } catch (error) {
      statusCode = failure(error).statusCode;
      success = statusCode !== undefined && expected.includes(statusCode);
      throw error;
    } finally {
      this.report({
        operation,
        container: this.container,
        accountHost: this.accountHost,
        key,
        instanceId: key ? instanceOfKey(key) : undefined,
        durationMs: performance.now() - started,
        success,
        statusCode,
        bytes,
      });
    }
  }

  private report(operation: BlobOperation): void {
    try {
      this.onOperation(operation);
    } catch {
      // telemetry never breaks a storage call
    }
  }
}

/** A cached blob's text (decoded once from the bytes a write kept). */
function textOf(entry: CachedBlob): string {
  entry.text ??= entry.bytes!.toString("utf8");
  return entry.text;
}

function keyOf(keyOrRef: string | BlobRef): string {
  return typeof keyOrRef === "string" ? keyOrRef : keyOrRef.key;
}

function md5Of(pieces: readonly Uint8Array[]): string {
  const hash = createHash("md5");
  for (const piece of pieces) hash.update(piece);
  return hash.digest("base64");
}

function parse(key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PayloadFormatError(key, error);
  }
}

function failure(error: unknown): StorageFailure {
  return (error ?? {}) as StorageFailure;
}

function isContainerMissing(error: unknown): boolean {
  const f = failure(error);
  return f.statusCode === 404 && (f.code === "ContainerNotFound" || f.details?.errorCode === "ContainerNotFound");
}

function responseStatus(result: unknown): number | undefined {
  const response = (result as { _response?: { status?: number } } | undefined)?._response;
  return typeof response?.status === "number" ? response.status : undefined;
}

/** A download whose body ended (or broke off) before the bytes its Content-Length announced: read it again. */
class IncompleteBodyError extends Error {
  readonly code = "IncompleteBody";
  readonly transient = true;
  constructor(key: string, range: ByteRange | undefined, received: number, announced: number | undefined, cause?: unknown) {
    super(
      `payload '${key}'${range ? ` (${describeRange(range)})` : ""}: the body broke off after ${received} of ` +
        `${announced ?? "?"} bytes${cause instanceof Error ? ` (${cause.message})` : ""}`,
      ...(cause !== undefined ? [{ cause }] : []),
    );
    this.name = "IncompleteBodyError";
  }
}

/**
 * Every byte of a download's body, counted against `announced` (its Content-Length). A stream error, an
 * abort (the attempt's timeout, or the SDK's "The operation was aborted." when the connection closes
 * mid-body), or an early end is an IncompleteBodyError: transient, so the read is made again.
 */
async function readBody(
  stream: NodeJS.ReadableStream | undefined,
  announced: number | undefined,
  signal: AbortSignal,
  key: string,
  range: ByteRange | undefined,
): Promise<Buffer> {
  if (announced === undefined) throw new IncompleteBodyError(key, range, 0, undefined, new Error("no Content-Length"));
  const chunks: Buffer[] = [];
  let received = 0;
  if (stream) {
    const readable = stream as Readable;
    // The request's signal no longer reaches a body being streamed: stop reading it here.
    const stop = () => readable.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    if (signal.aborted) stop();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const chunk of readable) {
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
        chunks.push(bytes);
        received += bytes.length;
      }
    } catch (error) {
      throw new IncompleteBodyError(key, range, received, announced, error);
    } finally {
      signal.removeEventListener("abort", stop);
    }
  }
  if (received !== announced) throw new IncompleteBodyError(key, range, received, announced);
  return Buffer.concat(chunks, received);
}

/** The options given, without the keys set to undefined (they would override the defaults). */
function definedOnly<T extends object>(options: Partial<T> | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(options ?? {}).filter(([, value]) => value !== undefined)) as Partial<T>;
}

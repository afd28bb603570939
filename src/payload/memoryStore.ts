/**
 * PayloadStore in process memory, with the blob store's semantics (create-only writes, key-ordered
 * listing, NotFound errors, range reads that are exact or fail): for unit and replay tests that must not
 * start Azurite. Not for production: nothing survives the process, and nothing is shared between worker
 * processes. It never fails transiently, so it has nothing to retry.
 */
import { createHash } from "node:crypto";
import { deepFreeze } from "./cache";
import { assertValidKey } from "./keys";
import {
  PayloadFormatError,
  PayloadNotFoundError,
  PayloadRangeError,
  type BlobRef,
  type GetOptions,
  type ListOptions,
  type PayloadStore,
  type PutOptions,
  type PutResult,
  type ReadAllOptions,
} from "./store";

export class MemoryPayloadStore implements PayloadStore {
  private readonly blobs = new Map<string, { text: string; ref: BlobRef; metadata: Record<string, string> }>();

  constructor(readonly container = "memory") {}

  async putJson(key: string, value: unknown, options?: PutOptions): Promise<PutResult> {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`payload '${key}': ${typeof value} is not JSON`);
    return this.putText(key, text, options);
  }

  async putText(key: string, text: string | Uint8Array | readonly Uint8Array[], options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    const body = typeof text === "string" ? Buffer.from(text, "utf8") : Buffer.concat(Array.isArray(text) ? text : [text as Uint8Array]);
    const ref: BlobRef = { key, bytes: body.length, md5: createHash("md5").update(body).digest("base64") };
    const stored = this.blobs.get(key);
    if (stored) return { ...stored.ref, created: false, identical: stored.ref.md5 === ref.md5 };
    this.blobs.set(key, { text: body.toString("utf8"), ref, metadata: { ...options.metadata } });
    return { ...ref, created: true, identical: true };
  }

  async getJson<T = unknown>(keyOrRef: string | BlobRef, options: GetOptions = {}): Promise<T> {
    const key = typeof keyOrRef === "string" ? keyOrRef : keyOrRef.key;
    const text = await this.getText(key);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new PayloadFormatError(key, error);
    }
    return (options.cache ? deepFreeze(value) : value) as T;
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 1) {
      throw new RangeError(`payload '${key}': bad byte range ${offset}+${length}`);
    }
    assertValidKey(key);
    const stored = this.blobs.get(key);
    if (!stored) throw new PayloadNotFoundError(key, this.container, { offset, length });
    const bytes = Buffer.from(stored.text, "utf8").subarray(offset, offset + length);
    if (bytes.length !== length) throw new PayloadRangeError(key, this.container, offset, length, bytes.length);
    return bytes;
  }

  async getJsonRange<T = unknown>(key: string, offset: number, length: number): Promise<T> {
    const text = (await this.getRange(key, offset, length)).toString("utf8");
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new PayloadFormatError(key, error);
    }
  }

  async getText(keyOrRef: string | BlobRef): Promise<string> {
    const key = typeof keyOrRef === "string" ? keyOrRef : keyOrRef.key;
    assertValidKey(key);
    const stored = this.blobs.get(key);
    if (!stored) throw new PayloadNotFoundError(key, this.container);
    return stored.text;
  }

  async stat(key: string): Promise<BlobRef | undefined> {
    assertValidKey(key);
    return this.blobs.get(key)?.ref;
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<BlobRef> {
    const keys = [...this.blobs.keys()].filter((key) => key.startsWith(prefix)).sort(byCodeUnit);
    for (const key of keys) {
      const stored = this.blobs.get(key);
      if (stored) yield options.metadata ? { ...stored.ref, metadata: { ...stored.metadata } } : stored.ref;
    }
  }

  async *readAll<T = unknown>(prefix: string, options?: ReadAllOptions): AsyncIterable<{ ref: BlobRef; value: T }> {
    for await (const ref of this.list(prefix, options)) yield { ref, value: await this.getJson<T>(ref.key) };
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    if (typeof prefix !== "string" || prefix.length === 0) throw new RangeError("deleteByPrefix needs a non-empty prefix");
    let deleted = 0;
    for (const key of [...this.blobs.keys()]) {
      if (key.startsWith(prefix) && this.blobs.delete(key)) deleted++;
    }
    return deleted;
  }
}

/** Blob listings are ordered by name; for the characters keys.ts produces, UTF-16 order is the same. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

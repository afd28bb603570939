/**
 * A per-process cache for immutable blobs: least recently used entries go first once the total size
 * passes `maxBytes`, and concurrent first reads of one key share a single fetch (a gather's request is
 * read by hundreds of activity calls starting at the same moment: one download, not hundreds).
 */

export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
  bytes: number;
  entries: number;
}

export class LruByteCache<V> {
  /** Map iteration order is insertion order: the first entry is the least recently used. */
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private readonly inFlight = new Map<string, Promise<{ value: V; bytes: number }>>();
  private totalBytes = 0;
  private readonly counters = { hits: 0, misses: 0, evictions: 0 };

  constructor(readonly maxBytes: number) {
    if (!(maxBytes >= 0)) throw new RangeError(`cache size must be >= 0 bytes, got ${maxBytes}`);
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores the value unless it alone exceeds maxBytes; evicts least recently used entries to fit. */
  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.maxBytes) return;
    this.entries.set(key, { value, bytes });
    this.totalBytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.totalBytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.totalBytes -= entry.bytes;
      this.counters.evictions++;
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
  }

  deletePrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.delete(key);
  }

  /**
   * The cached value, or the result of `load` (stored for next time). Callers that arrive while a load of
   * the same key is running wait for that load instead of starting their own. A failed load is not cached.
   */
  async getOrLoad(key: string, load: () => Promise<{ value: V; bytes: number }>): Promise<V> {
    const cached = this.get(key);
    if (cached !== undefined) {
      this.counters.hits++;
      return cached;
    }
    let pending = this.inFlight.get(key);
    if (pending) {
      this.counters.hits++;
    } else {
      this.counters.misses++;
      pending = load().then(
        (loaded) => {
          this.inFlight.delete(key);
          this.set(key, loaded.value, loaded.bytes);
          return loaded;
        },
        (error: unknown) => {
          this.inFlight.delete(key);
          throw error;
        },
      );
      this.inFlight.set(key, pending);
    }
    return (await pending).value;
  }

  stats(): CacheStats {
    return { ...this.counters, bytes: this.totalBytes, entries: this.entries.size };
  }
}

/** Freezes a parsed JSON value and everything in it (cached values are shared between callers). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

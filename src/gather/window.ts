/**
 * The concurrency window (docs/api.md "Fan-out control") as pure bookkeeping that the orchestrators ask
 * what to schedule: a window is held by what is scheduled, not by a worker setting, so it holds however far
 * the app scales out (docs/design.md "The concurrency window").
 *
 *  - CallWindow: one gather's (or one batch's) calls: at most `maxInFlight` scheduled and unsettled, at most
 *    `perOrigin` of one origin; a slot refills, as a call settles, with the retry whose timer fired first,
 *    else the next recipient in list order whose origin has room. O(log origins) a call.
 *  - Across batches: the parent runs at most `slots` batches at once, slot j holding a fixed share of the
 *    window (shareOf); planBatchSlots picks how many.
 *  - The origin table: each recipient's origin number in a few characters (encodeOriginTable), so the
 *    orchestrators know origins without the recipient list.
 * Imports nothing: orchestrator code runs it on every replay.
 */
import type { ConcurrencySpec } from "./spec";

/** One attempt of one recipient (index within its gather). */
export interface WindowCall {
  index: number;
  attempt: number;
}

/** What one gather (or one batch) may hold at once: its share of the request's window. */
export interface WindowShare extends ConcurrencySpec {
  /** This gather's part of the origin table (encodeOriginTable); absent when no recipient has an origin. */
  origins?: string;
}

/** The origin key of recipients the per-origin limit does not apply to (simulated ones, or no perOrigin). */
const ANY = -1;

interface Waiting {
  /** List index (recipients not started yet) or firing order (retries): the queue's order. */
  rank: number;
  call: WindowCall;
}

export class CallWindow {
  private maxInFlight: number;
  private perOrigin: number;
  /** Origin key by recipient index. */
  private readonly keys: Int32Array;
  /** In flight by origin key. */
  private readonly held = new Map<number, number>();
  /** Recipients not started yet, by origin key, in list order. */
  private readonly fresh = new Map<number, Queue<Waiting>>();
  /** Retries whose timer fired, by origin key, in firing order. */
  private readonly ready = new Map<number, Queue<Waiting>>();
  /** Candidate queue heads, [rank, origin key]; an entry whose origin is full or whose head moved is dropped. */
  private readonly freshHeads = new MinHeap();
  private readonly readyHeads = new MinHeap();
  private readySeq = 0;
  private running = 0;
  private queued = 0;

  constructor(count: number, share: WindowShare) {
    this.maxInFlight = share.maxInFlight ?? Number.POSITIVE_INFINITY;
    this.perOrigin = share.perOrigin ?? Number.POSITIVE_INFINITY;
    const origins = share.origins !== undefined && share.perOrigin !== undefined ? decodeOriginTable(share.origins, count) : undefined;
    this.keys = new Int32Array(count);
    for (let index = 0; index < count; index++) {
      const key = origins && origins[index] > 0 ? origins[index] : ANY;
      this.keys[index] = key;
      this.enqueue(this.fresh, key, { rank: index, call: { index, attempt: 1 } });
    }
    for (const [key, queue] of this.fresh) this.freshHeads.push(queue.peek().rank, key);
  }

  /** Calls scheduled and not settled. */
  get inFlight(): number {
    return this.running;
  }

  /** Calls waiting for a slot: recipients not started yet and retries whose timer fired. */
  get waiting(): number {
    return this.queued;
  }

  /**
   * The calls to schedule now, as many as fit: retries whose timer fired first (in firing order), then
   * recipients in list order. A call whose origin is full waits; later ones of other origins go first.
   */
  next(): WindowCall[] {
    const calls: WindowCall[] = [];
    while (this.running < this.maxInFlight) {
      const call = this.take(this.readyHeads, this.ready) ?? this.take(this.freshHeads, this.fresh);
      if (!call) break;
      calls.push(call);
    }
    return calls;
  }

  /** A call settled (answered, failed for good, or failed with a retry to wait for): its slot is free. */
  settle(index: number): void {
    this.running--;
    const key = this.keys[index];
    if (key === ANY) return;
    this.held.set(key, this.held.get(key)! - 1);
    // The origin has room again: its waiting calls are candidates once more.
    for (const [heads, queues] of [
      [this.readyHeads, this.ready],
      [this.freshHeads, this.fresh],
    ] as const) {
      const queue = queues.get(key);
      if (queue && queue.size > 0) heads.push(queue.peek().rank, key);
    }
  }

  /**
   * More room, lent by the parent from a batch that ended (a batch's share across batches): every origin with calls
   * waiting is a candidate again. The caller schedules what next() then returns.
   */
  grow(more: ConcurrencySpec): void {
    this.maxInFlight += more.maxInFlight ?? 0;
    this.perOrigin += more.perOrigin ?? 0;
    for (const [heads, queues] of [
      [this.readyHeads, this.ready],
      [this.freshHeads, this.fresh],
    ] as const)
      for (const [key, queue] of queues) if (queue.size > 0 && this.hasRoom(key)) heads.push(queue.peek().rank, key);
  }

  /** A retry's timer fired: the attempt waits for a slot, ahead of recipients not started yet. */
  retry(call: WindowCall): void {
    const key = this.keys[call.index];
    const rank = this.readySeq++;
    if (this.enqueue(this.ready, key, { rank, call }) === 1) this.readyHeads.push(rank, key);
  }

  private take(heads: MinHeap, queues: Map<number, Queue<Waiting>>): WindowCall | undefined {
    while (heads.size > 0) {
      const [rank, key] = heads.pop();
      const queue = queues.get(key);
      // Stale (the head moved on), or the origin is full: it comes back when one of its calls settles.
      if (!queue || queue.size === 0 || queue.peek().rank !== rank || !this.hasRoom(key)) continue;
      const { call } = queue.shift();
      this.queued--;
      this.running++;
      if (key !== ANY) this.held.set(key, (this.held.get(key) ?? 0) + 1);
      if (queue.size > 0 && this.hasRoom(key)) heads.push(queue.peek().rank, key);
      return call;
    }
    return undefined;
  }

  private hasRoom(key: number): boolean {
    return key === ANY || (this.held.get(key) ?? 0) < this.perOrigin;
  }

  /** Appends to the key's queue; returns its new size. */
  private enqueue(queues: Map<number, Queue<Waiting>>, key: number, waiting: Waiting): number {
    let queue = queues.get(key);
    if (!queue) queues.set(key, (queue = new Queue()));
    this.queued++;
    return queue.push(waiting);
  }
}

/** A FIFO with O(1) shift. */
class Queue<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): number {
    this.items.push(item);
    return this.size;
  }

  peek(): T {
    return this.items[this.head];
  }

  shift(): T {
    const item = this.items[this.head++];
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/** A binary min-heap of [rank, key] pairs, by rank. */
class MinHeap {
  private readonly ranks: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.ranks.length;
  }

  push(rank: number, key: number): void {
    let i = this.ranks.length;
    this.ranks.push(rank);
    this.keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.ranks[parent] <= rank) break;
      this.move(parent, i);
      i = parent;
    }
    this.ranks[i] = rank;
    this.keys[i] = key;
  }

  pop(): [number, number] {
    const top: [number, number] = [this.ranks[0], this.keys[0]];
    const rank = this.ranks.pop()!;
    const key = this.keys.pop()!;
    const n = this.ranks.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && this.ranks[child + 1] < this.ranks[child]) child++;
        if (this.ranks[child] >= rank) break;
        this.move(child, i);
        i = child;
      }
      this.ranks[i] = rank;
      this.keys[i] = key;
    }
    return top;
  }

  private move(from: number, to: number): void {
    this.ranks[to] = this.ranks[from];
    this.keys[to] = this.keys[from];
  }
}

// ------------------------------------------------------------------------------------------ across batches

/** Slot `slot`'s share of `limit` split over `slots`: floor(limit / slots), one more for the first limit mod slots. */
export function shareOf(limit: number | undefined, slot: number, slots: number): number | undefined {
  if (limit === undefined) return undefined;
  return Math.floor(limit / slots) + (slot < limit % slots ? 1 : 0);
}

/** The window share of batch slot `slot` of `slots`: the shares of all slots add up to the request's limits. */
export function slotShare(spec: ConcurrencySpec, slot: number, slots: number): ConcurrencySpec {
  const maxInFlight = shareOf(spec.maxInFlight, slot, slots);
  const perOrigin = shareOf(spec.perOrigin, slot, slots);
  return { ...(maxInFlight !== undefined ? { maxInFlight } : {}), ...(perOrigin !== undefined ? { perOrigin } : {}) };
}

/**
 * How a pool of window share (what batches that ended held, once no batch is left to start) is lent to the running
 * batches: one unit of maxInFlight at a time to the batch with the most calls still waiting for a slot beyond what it
 * was lent already (ties: the one lent less, then the lower batch), none to a batch with none waiting; perOrigin units likewise, among the
 * batches lent maxInFlight (or, without maxInFlight, among those waiting). Returns [batch, maxInFlight, perOrigin]
 * loans, in batch order; what is not lent stays in the pool.
 */
export function planLoans(pool: ConcurrencySpec, waiting: readonly [batch: number, waiting: number][]): [number, number, number][] {
  const wanting = waiting.filter(([, n]) => n > 0);
  const lent = new Map<number, [number, number]>(wanting.map(([batch]) => [batch, [0, 0]]));
  const neediest = (eligible: (batch: number) => boolean, given: (loan: [number, number]) => number) => {
    let best: [batch: number, left: number, had: number] | undefined;
    for (const [batch, n] of wanting) {
      if (!eligible(batch)) continue;
      const had = given(lent.get(batch)!);
      const left = n - had;
      const better = !best || left > best[1] || (left === best[1] && (had < best[2] || (had === best[2] && batch < best[0])));
      if (left > 0 && better) best = [batch, left, had];
    }
    return best?.[0];
  };
  for (let unit = 0; unit < (pool.maxInFlight ?? 0); unit++) {
    const batch = neediest(
      () => true,
      ([max]) => max,
    );
    if (batch === undefined) break;
    lent.get(batch)![0]++;
  }
  const borrowers = (batch: number) => pool.maxInFlight === undefined || lent.get(batch)![0] > 0;
  for (let unit = 0; unit < (pool.perOrigin ?? 0); unit++) {
    const batch = neediest(borrowers, ([, per]) => per);
    if (batch === undefined) break;
    lent.get(batch)![1]++;
  }
  return [...lent]
    .filter(([, [max, per]]) => max > 0 || per > 0)
    .map(([batch, [max, per]]) => [batch, max, per] as [number, number, number])
    .sort((a, b) => a[0] - b[0]);
}

/** What one batch's start costs, in rounds of calls (a sub-orchestration's start, its first episode): a guess. */
const BATCH_START_ROUNDS = 0.5;

export interface BatchPlanInput {
  total: number;
  /** FANOUT_BATCH_SIZE: batch n holds recipients n × batchSize .. (n+1) × batchSize - 1. */
  batchSize: number;
  concurrency: ConcurrencySpec;
  /** Each recipient's origin number (0: none), when there is an origin table. */
  origins?: ArrayLike<number>;
}

/**
 * How many batches run at once: every slot needs a share of at least 1 (so at most maxInFlight, and at most
 * perOrigin when there are origins), and of those the count that finishes soonest if every call took the same
 * time. Each slot runs its batches one after another; a batch takes as many rounds as its share of the window
 * needs (its size over its maxInFlight share, its largest origin over its perOrigin share) plus a start-up cost.
 * Too many slots leave each a share so thin that the last batches finish late; too few pay many start-ups.
 */
export function planBatchSlots({ total, batchSize, concurrency, origins }: BatchPlanInput): number {
  const batches = Math.ceil(total / batchSize);
  const perOrigin = origins ? concurrency.perOrigin : undefined;
  const most = Math.max(1, Math.min(batches, concurrency.maxInFlight ?? batches, perOrigin ?? batches));
  // Each batch's size and the most of its recipients that share one origin.
  const sizes: number[] = [];
  const crowds: number[] = [];
  for (let first = 0; first < total; first += batchSize) {
    const size = Math.min(batchSize, total - first);
    const counts = new Map<number, number>();
    let crowd = 0;
    for (let i = first; origins && i < first + size; i++) {
      if (origins[i] === 0) continue;
      const n = (counts.get(origins[i]) ?? 0) + 1;
      counts.set(origins[i], n);
      crowd = Math.max(crowd, n);
    }
    sizes.push(size);
    crowds.push(crowd);
  }
  let best = 1;
  let bestSpan = Number.POSITIVE_INFINITY;
  for (let slots = 1; slots <= most; slots++) {
    const freeAt = new Array<number>(slots).fill(0);
    sizes.forEach((size, batch) => {
      let slot = 0;
      for (let j = 1; j < slots; j++) if (freeAt[j] < freeAt[slot]) slot = j;
      const inFlight = shareOf(concurrency.maxInFlight, slot, slots) ?? Number.POSITIVE_INFINITY;
      const sameOrigin = shareOf(perOrigin, slot, slots) ?? Number.POSITIVE_INFINITY;
      const rounds = Math.max(1, Math.ceil(size / inFlight), Math.ceil(crowds[batch] / sameOrigin));
      freeAt[slot] += rounds + BATCH_START_ROUNDS;
    });
    const span = Math.max(...freeAt);
    if (span < bestSpan) {
      best = slots;
      bestSpan = span;
    }
  }
  return best;
}

// ------------------------------------------------------------------------------------------ the origin table

/** base64url's alphabet: one character is 6 bits of an origin number. */
const DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const VALUE = new Map([...DIGITS].map((c, i) => [c, i]));

/** Numbers each distinct origin 1, 2, ... in order of first appearance (0: none); undefined when none has one. */
export function numberOrigins(origins: readonly (string | undefined)[]): number[] | undefined {
  const numbers = new Map<string, number>();
  const table = origins.map((origin) => {
    if (origin === undefined) return 0;
    let n = numbers.get(origin);
    if (n === undefined) numbers.set(origin, (n = numbers.size + 1));
    return n;
  });
  return numbers.size > 0 ? table : undefined;
}

/**
 * The origin numbers as a string of `width` characters each, the fewest that hold the largest: 1 character a
 * recipient up to 63 origins, 2 up to 4,095, 3 beyond (MAX_RECIPIENTS ≤ 15,000). Batches take a substring.
 */
export function encodeOriginTable(numbers: readonly number[]): string {
  let largest = 0;
  for (const n of numbers) largest = Math.max(largest, n);
  let width = 1;
  while (64 ** width <= largest) width++;
  let out = "";
  for (const n of numbers) for (let digit = width - 1; digit >= 0; digit--) out += DIGITS[Math.floor(n / 64 ** digit) % 64];
  return out;
}

export function decodeOriginTable(table: string, count: number): Int32Array {
  const width = originWidth(table, count);
  const numbers = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let n = 0;
    for (let c = i * width; c < (i + 1) * width; c++) n = n * 64 + (VALUE.get(table[c]) ?? Number.NaN);
    if (Number.isNaN(n)) throw new Error(`origin table: not a table character at recipient ${i}`);
    numbers[i] = n;
  }
  return numbers;
}

/** The part of a gather's table (of `total` recipients) for recipients first .. first+count-1. */
export function sliceOriginTable(table: string, total: number, first: number, count: number): string {
  const width = originWidth(table, total);
  return table.slice(first * width, (first + count) * width);
}

function originWidth(table: string, count: number): number {
  const width = count > 0 ? table.length / count : 0;
  if (!Number.isInteger(width) || width < 1) throw new Error(`origin table: ${table.length} characters for ${count} recipients`);
  return width;
}

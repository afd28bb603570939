/** The concurrency window's pure bookkeeping: CallWindow, the batch slots' shares and plan, the origin table. */
import {
  CallWindow,
  decodeOriginTable,
  encodeOriginTable,
  numberOrigins,
  planBatchSlots,
  planLoans,
  shareOf,
  sliceOriginTable,
  slotShare,
  type WindowCall,
} from "../../src/gather/window";

const indexes = (calls: WindowCall[]) => calls.map((c) => c.index);

describe("CallWindow", () => {
  test("at most maxInFlight at once; each settle refills one slot with the next recipient in list order", () => {
    const w = new CallWindow(6, { maxInFlight: 2 });
    expect(indexes(w.next())).toEqual([0, 1]);
    expect(w.next()).toEqual([]);
    expect([w.inFlight, w.waiting]).toEqual([2, 4]);
    w.settle(1);
    expect(w.next()).toEqual([{ index: 2, attempt: 1 }]);
    w.settle(0);
    w.settle(2);
    expect(indexes(w.next())).toEqual([3, 4]);
    w.settle(3);
    expect(indexes(w.next())).toEqual([5]);
    w.settle(4);
    w.settle(5);
    expect(w.next()).toEqual([]);
    expect([w.inFlight, w.waiting]).toEqual([0, 0]);
  });

  test("grow: a loan of share makes room at once, per origin too", () => {
    // Origins A A B B (1, 1, 2, 2), perOrigin 1, maxInFlight 1.
    const w = new CallWindow(4, { maxInFlight: 1, perOrigin: 1, origins: encodeOriginTable([1, 1, 2, 2]) });
    expect(indexes(w.next())).toEqual([0]);
    w.grow({ maxInFlight: 1 });
    expect(indexes(w.next())).toEqual([2]); // A is full (perOrigin 1): B's first goes
    w.grow({ maxInFlight: 1, perOrigin: 1 });
    expect(indexes(w.next())).toEqual([1]); // A has room for a second call now
    expect([w.inFlight, w.waiting]).toEqual([3, 1]);
  });

  test("without maxInFlight (perOrigin alone, no origins) everything starts at once", () => {
    expect(indexes(new CallWindow(4, { perOrigin: 1 }).next())).toEqual([0, 1, 2, 3]);
  });

  test("perOrigin: a recipient whose origin is full waits, later ones of other origins go first, and it goes first once its origin has room", () => {
    // Origins by index: A A A B A C (1 = A, 2 = B, 3 = C).
    const origins = encodeOriginTable([1, 1, 1, 2, 1, 3]);
    const w = new CallWindow(6, { maxInFlight: 4, perOrigin: 2, origins });
    expect(indexes(w.next())).toEqual([0, 1, 3, 5]);
    w.settle(3); // B settles: A is still full, nothing of B or C waits
    expect(w.next()).toEqual([]);
    w.settle(0); // A has room: the first waiting A (2), not 4
    expect(indexes(w.next())).toEqual([2]);
    w.settle(1);
    expect(indexes(w.next())).toEqual([4]);
  });

  test("recipients without an origin (simulated) count toward maxInFlight only", () => {
    const origins = encodeOriginTable([1, 0, 0, 1, 0]);
    const w = new CallWindow(5, { maxInFlight: 4, perOrigin: 1, origins });
    expect(indexes(w.next())).toEqual([0, 1, 2, 4]);
    w.settle(0);
    expect(indexes(w.next())).toEqual([3]);
  });

  test("a retry whose timer fired takes the next free slot before recipients not started yet, in firing order", () => {
    const w = new CallWindow(5, { maxInFlight: 2 });
    expect(indexes(w.next())).toEqual([0, 1]);
    w.settle(0); // failed: its retry waits on a timer, which holds no slot
    expect(indexes(w.next())).toEqual([2]);
    w.settle(1); // failed too
    w.retry({ index: 1, attempt: 2 });
    w.retry({ index: 0, attempt: 2 });
    expect(w.next()).toEqual([{ index: 1, attempt: 2 }]);
    w.settle(2);
    expect(w.next()).toEqual([{ index: 0, attempt: 2 }]);
    w.settle(1);
    expect(w.next()).toEqual([{ index: 3, attempt: 1 }]);
  });

  test("a retry whose origin is full waits; a recipient of another origin takes the slot", () => {
    const origins = encodeOriginTable([1, 1, 2]);
    const w = new CallWindow(3, { maxInFlight: 3, perOrigin: 1, origins });
    expect(indexes(w.next())).toEqual([0, 2]);
    w.settle(0);
    w.retry({ index: 0, attempt: 2 });
    // A has room again: the retry goes before recipient 1 (also A).
    expect(w.next()).toEqual([{ index: 0, attempt: 2 }]);
    w.settle(0);
    expect(w.next()).toEqual([{ index: 1, attempt: 1 }]);
  });

  test("many origins: never over its limits, never a free slot a waiting call fits, everyone served in list order within an origin", () => {
    const n = 500;
    const numbers = Array.from({ length: n }, (_, i) => ((i * 7919) % 13) + (i % 5 === 0 ? 0 : 1));
    const w = new CallWindow(n, { maxInFlight: 17, perOrigin: 3, origins: encodeOriginTable(numbers) });
    const inFlight = new Set<number>();
    const started: number[] = [];
    let seed = 1;
    while (started.length < n || inFlight.size > 0) {
      for (const c of w.next()) {
        inFlight.add(c.index);
        started.push(c.index);
      }
      expect(inFlight.size).toBeLessThanOrEqual(17);
      const byOrigin = new Map<number, number>();
      for (const i of inFlight) if (numbers[i] > 0) byOrigin.set(numbers[i], (byOrigin.get(numbers[i]) ?? 0) + 1);
      for (const count of byOrigin.values()) expect(count).toBeLessThanOrEqual(3);
      // Work-conserving: with a free slot, whatever still waits is held back by its full origin.
      if (inFlight.size < 17) {
        const startedSet = new Set(started);
        for (let i = 0; i < n; i++) if (!startedSet.has(i)) expect([numbers[i] > 0, byOrigin.get(numbers[i])]).toEqual([true, 3]);
      }
      // Settle a pseudo-random one.
      seed = (seed * 48271) % 2147483647;
      const done = [...inFlight][seed % inFlight.size];
      inFlight.delete(done);
      w.settle(done);
    }
    expect([...started].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    for (let origin = 0; origin <= 13; origin++) {
      const order = started.filter((i) => numbers[i] === origin);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
  });
});

describe("lending share across batches", () => {
  test("one unit at a time to the batch with the most calls still waiting beyond its loan; none to a batch with none", () => {
    // Batch 0 waits for 4: three units leave it 1 waiting, as many as batch 1.
    expect(
      planLoans({ maxInFlight: 3 }, [
        [0, 4],
        [1, 1],
        [2, 0],
      ]),
    ).toEqual([[0, 3, 0]]);
    expect(
      planLoans({ maxInFlight: 4 }, [
        [0, 4],
        [1, 1],
        [2, 0],
      ]),
    ).toEqual([
      [0, 3, 0],
      [1, 1, 0],
    ]);
    // No more than anyone waits for: the rest stays in the pool.
    expect(
      planLoans({ maxInFlight: 5 }, [
        [3, 1],
        [4, 1],
      ]),
    ).toEqual([
      [3, 1, 0],
      [4, 1, 0],
    ]);
    expect(planLoans({ maxInFlight: 2 }, [[0, 0]])).toEqual([]);
    // Ties go to the lower batch.
    expect(
      planLoans({ maxInFlight: 1 }, [
        [5, 2],
        [2, 2],
      ]),
    ).toEqual([[2, 1, 0]]);
  });

  test("perOrigin units go among the batches lent maxInFlight; without maxInFlight, among those waiting", () => {
    expect(
      planLoans({ maxInFlight: 2, perOrigin: 2 }, [
        [0, 3],
        [1, 0],
      ]),
    ).toEqual([[0, 2, 2]]);
    expect(
      planLoans({ perOrigin: 3 }, [
        [0, 3],
        [1, 2],
      ]),
    ).toEqual([
      [0, 0, 2],
      [1, 0, 1],
    ]);
  });
});

describe("batch slots", () => {
  test("slot j of k gets floor(limit / k), one more for the first limit mod k; the shares add up to the limit", () => {
    expect([0, 1, 2].map((j) => shareOf(50, j, 3))).toEqual([17, 17, 16]);
    expect(shareOf(undefined, 0, 3)).toBeUndefined();
    for (const [limit, k] of [
      [50, 8],
      [10, 10],
      [7, 3],
    ]) {
      expect(Array.from({ length: k }, (_, j) => shareOf(limit, j, k)!).reduce((a, b) => a + b, 0)).toBe(limit);
    }
    expect(slotShare({ maxInFlight: 50, perOrigin: 10 }, 1, 4)).toEqual({ maxInFlight: 13, perOrigin: 3 });
    expect(slotShare({ perOrigin: 10 }, 3, 4)).toEqual({ perOrigin: 2 });
  });

  test("plan: every slot keeps a share of at least 1; the count that finishes equal calls soonest", () => {
    // 2,000 recipients in 8 batches of 250, maxInFlight 50: two slots of 25 take 10 rounds a batch, 4 batches each.
    expect(planBatchSlots({ total: 2000, batchSize: 250, concurrency: { maxInFlight: 50 } })).toBe(2);
    // 10,000 in 40 batches, maxInFlight 50: ten slots of 5 (50 rounds a batch, 4 batches each).
    expect(planBatchSlots({ total: 10_000, batchSize: 250, concurrency: { maxInFlight: 50 } })).toBe(10);
    // A window wider than the gather: every batch at once.
    expect(planBatchSlots({ total: 1000, batchSize: 250, concurrency: { maxInFlight: 10_000 } })).toBe(4);
    // maxInFlight 1: one batch at a time.
    expect(planBatchSlots({ total: 1000, batchSize: 250, concurrency: { maxInFlight: 1 } })).toBe(1);
    // perOrigin 1 over origins: one slot (a share of 0 would stall an origin).
    const interleaved = Array.from({ length: 1000 }, (_, i) => 1 + (i % 5));
    expect(planBatchSlots({ total: 1000, batchSize: 250, concurrency: { perOrigin: 1 }, origins: interleaved })).toBe(1);
    // perOrigin 10 over 5 interleaved origins, 2,000 recipients: two slots of 5 a origin.
    const five = Array.from({ length: 2000 }, (_, i) => 1 + (i % 5));
    expect(planBatchSlots({ total: 2000, batchSize: 250, concurrency: { perOrigin: 10 }, origins: five })).toBe(2);
  });
});

describe("the origin table", () => {
  test("origins numbered in order of first appearance, 0 for none; undefined when nobody has one", () => {
    expect(numberOrigins(["http://a", undefined, "http://b", "http://a"])).toEqual([1, 0, 2, 1]);
    expect(numberOrigins([undefined, undefined])).toBeUndefined();
  });

  test("1 character a recipient up to 63 origins, 2 up to 4,095, 3 beyond; decodes back; batches take a substring", () => {
    for (const [largest, width] of [
      [63, 1],
      [64, 2],
      [4095, 2],
      [4096, 3],
      [15_000, 3],
    ]) {
      const numbers = Array.from({ length: 300 }, (_, i) => (i * 37) % (largest + 1));
      numbers[299] = largest;
      const table = encodeOriginTable(numbers);
      expect(table.length).toBe(300 * width);
      expect(table).toMatch(/^[A-Za-z0-9_-]+$/);
      expect([...decodeOriginTable(table, 300)]).toEqual(numbers);
      expect([...decodeOriginTable(sliceOriginTable(table, 300, 250, 50), 50)]).toEqual(numbers.slice(250));
    }
  });

  test("a table that does not fit its recipients is refused", () => {
    expect(() => decodeOriginTable("AB", 3)).toThrow(/2 characters for 3 recipients/);
    expect(() => decodeOriginTable("A*", 2)).toThrow(/not a table character/);
  });
});

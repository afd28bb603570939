/** The generic bounded worker loop and the durable timer set. */
import { FakeClock } from "./fake-clock";
import { TimerSet, type DurableTimer } from "./timers";
import { BoundedWorkerLoop } from "./worker-loop";

function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}
const tick = () => new Promise((r) => setImmediate(r));

describe("BoundedWorkerLoop", () => {
  test("never runs more than the limit; a finished item pulls the next, in FIFO order", async () => {
    const gates = new Map<number, ReturnType<typeof gate>>();
    const started: number[] = [];
    const loop = new BoundedWorkerLoop<number>(2, async (n) => {
      started.push(n);
      const g = gate();
      gates.set(n, g);
      await g.promise;
    });
    loop.start();
    for (const n of [1, 2, 3, 4]) loop.push(n);
    expect(started).toEqual([1, 2]);
    expect(loop.running).toBe(2);
    expect(loop.waiting).toBe(2);
    gates.get(2)!.open();
    await tick();
    expect(started).toEqual([1, 2, 3]);
    gates.get(1)!.open();
    gates.get(3)!.open();
    await tick();
    expect(started).toEqual([1, 2, 3, 4]);
  });

  test("nothing runs before start(); stop() drops the queue and ignores in-flight completions", async () => {
    const done: number[] = [];
    const g = gate();
    const loop = new BoundedWorkerLoop<number>(
      1,
      async (n) => {
        if (n === 1) await g.promise;
      },
      { onDone: (n) => done.push(n) },
    );
    loop.push(1);
    loop.push(2);
    expect(loop.running).toBe(0);
    loop.start();
    expect(loop.running).toBe(1);
    loop.stop();
    expect(loop.waiting).toBe(0);
    g.open();
    await tick();
    expect(done).toEqual([]);
    expect(loop.running).toBe(0);
  });

  test("deferred items start on a later tick, not after stop(); onStart can skip; errors go to onError", async () => {
    const ran: string[] = [];
    const errors: string[] = [];
    const loop = new BoundedWorkerLoop<string>(
      4,
      async (s) => {
        ran.push(s);
        if (s === "bad") throw new Error("boom");
      },
      { deferred: true, onStart: (s) => s !== "skip", onError: (s, e) => errors.push(`${s}:${(e as Error).message}`) },
    );
    loop.start();
    loop.push("a");
    loop.push("skip");
    loop.push("bad");
    expect(ran).toEqual([]);
    expect(loop.running).toBe(2);
    await tick();
    await tick();
    expect(ran).toEqual(["a", "bad"]);
    expect(errors).toEqual(["bad:boom"]);
    loop.push("late");
    loop.stop();
    await tick();
    expect(ran).toEqual(["a", "bad"]);
  });
});

describe("TimerSet", () => {
  test("arms once per (instance, execution, id), fires when due, cancelAll silences the rest", () => {
    const clock = new FakeClock(0);
    const fired: DurableTimer[] = [];
    const timers = new TimerSet(clock, (t) => fired.push(t));
    const t = { instanceId: "i", executionId: "e", id: 3, fireAt: new Date(1000).toISOString() };
    timers.arm(t);
    timers.arm({ ...t });
    timers.arm({ ...t, id: 4, fireAt: new Date(5000).toISOString() });
    expect(timers.size).toBe(2);
    clock.advance(1000);
    expect(fired).toEqual([t]);
    timers.cancelAll();
    clock.advance(10000);
    expect(fired).toHaveLength(1);
    expect(timers.size).toBe(0);
  });
});

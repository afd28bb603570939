/** callRecipient's "does my gather still gather?" check (src/durable/client.ts runState: stopped, or not). */
import type { DurableClient } from "durable-functions";
import { runState } from "../../src/durable/client";

/** What callRecipient asks: the run has not stopped (unknown counts as gathering). */
const stillGathering = async (client: DurableClient, instanceId: string, runId: string, now: number) =>
  (await runState(client, instanceId, runId, { now })) !== "stopped";

type Status = { runtimeStatus: string; customStatus?: unknown; input?: unknown };

function clientOf(current: () => Status | undefined): { client: DurableClient; reads: () => number } {
  let reads = 0;
  const client = {
    getStatus: async (instanceId: string) => {
      reads++;
      const status = current();
      if (!status) throw new Error(`HTTP 404 (${instanceId})`);
      return { instanceId, ...status };
    },
  } as unknown as DurableClient;
  return { client, reads: () => reads };
}
const run = (runId: string) => ({ run: { instanceId: "g", runId } });

describe("stillGathering", () => {
  test("a restart right after a terminate: the new run's calls are not taken for the stopped run's", async () => {
    let status: Status = { runtimeStatus: "Terminated", input: run("20261206T100000000Z-aaaaaa") };
    const { client, reads } = clientOf(() => status);
    const t0 = 1_000_000;
    expect(await stillGathering(client, "g", "20261206T100000000Z-aaaaaa", t0)).toBe(false);
    // Within the same second, the id is started again.
    status = { runtimeStatus: "Running", customStatus: { phase: "gathering" }, input: run("20261206T100001000Z-bbbbbb") };
    expect(await stillGathering(client, "g", "20261206T100001000Z-bbbbbb", t0 + 10)).toBe(true);
    // The stopped run's stragglers still stop: a later run owns the id.
    expect(await stillGathering(client, "g", "20261206T100000000Z-aaaaaa", t0 + 20)).toBe(false);
    // One read per run and second.
    expect(await stillGathering(client, "g", "20261206T100001000Z-bbbbbb", t0 + 500)).toBe(true);
    expect(reads()).toBe(2);
  });

  test("closed or finished runs stop; unknown, unreadable and lagging statuses count as running", async () => {
    const at = 2_000_000;
    const check = (status: Status | undefined, runId: string, now: number) =>
      stillGathering(clientOf(() => status).client, "h", runId, now);
    expect(await check({ runtimeStatus: "Running", customStatus: { phase: "aggregating" }, input: run("r2") }, "r2", at)).toBe(false);
    expect(await check({ runtimeStatus: "Completed", input: run("r2") }, "r2", at + 2000)).toBe(false);
    expect(await check(undefined, "r3", at + 4000)).toBe(true);
    // A status that still shows an earlier run says nothing about this one.
    expect(await check({ runtimeStatus: "Completed", input: run("r1") }, "r4", at + 6000)).toBe(true);
  });
});

describe("runState", () => {
  test("notBefore: a cached read older than the moment asked for is not used", async () => {
    let status: Status = { runtimeStatus: "Running", customStatus: { phase: "gathering" }, input: run("r1") };
    const { client, reads } = clientOf(() => status);
    const t0 = 3_000_000;
    expect(await runState(client, "s", "r1", { now: t0 })).toBe("gathering");
    status = { runtimeStatus: "Terminated", input: run("r1") };
    expect(await runState(client, "s", "r1", { now: t0 + 100 })).toBe("gathering"); // cached
    expect(await runState(client, "s", "r1", { now: t0 + 200, notBefore: t0 + 150 })).toBe("stopped"); // read again
    expect(reads()).toBe(2);
  });

  test("notBefore while a read started earlier is in flight: the callers wait for it, then share one read started after them", async () => {
    let status: Status = { runtimeStatus: "Running", customStatus: { phase: "gathering" }, input: run("r1") };
    const pending: (() => void)[] = [];
    let reads = 0;
    const client = {
      getStatus: (instanceId: string) => {
        reads++;
        const seen = { instanceId, ...status }; // what the read sees is fixed when it starts
        return new Promise((resolve) => pending.push(() => resolve(seen)));
      },
    } as unknown as DurableClient;
    const t0 = 5_000_000;
    const first = runState(client, "u", "r1", { now: t0, notBefore: t0 });
    expect(reads).toBe(1);
    // Written after the first read started: it cannot prove anything about them.
    status = { runtimeStatus: "Terminated", input: run("r1") };
    const later = [1, 2, 3].map((i) => runState(client, "u", "r1", { now: t0 + 10 * i, notBefore: t0 + 10 * i - 1 }));
    await Promise.resolve();
    expect(reads).toBe(1); // nothing starts while the first read is in flight
    pending.shift()!();
    expect(await first).toBe("gathering");
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toBe(2); // one read for all three, started after they asked
    pending.shift()!();
    expect(await Promise.all(later)).toEqual(["stopped", "stopped", "stopped"]);
    // That read started after t0 + 30: it answers a caller whose moment came before, without another read.
    expect(await runState(client, "u", "r1", { now: t0 + 40, notBefore: t0 + 29 })).toBe("stopped");
    expect(reads).toBe(2);
  });

  test("an unknown id (purged) is unknown, never gathering", async () => {
    expect(await runState(clientOf(() => undefined).client, "t", "r1", { now: 4_000_000 })).toBe("unknown");
  });
});

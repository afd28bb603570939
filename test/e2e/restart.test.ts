/**
 * Durability: kill -9 of the local host mid-gather, restart on the SAME data dir and port, and the gather
 * completes with every recipient accounted for. Starts its own hosts, so it is skipped under BASE_URL.
 */
import * as fs from "node:fs";
import {
  getGather,
  ownsHost,
  postAnonymous,
  recipientServer,
  closeAllServers,
  sleep,
  startHostProcess,
  startOk,
  tempDataDir,
  uniqueId,
  type AnyJson,
  type HostProcess,
  type Target,
} from "./harness";

const maybe = ownsHost ? describe : describe.skip;
jest.setTimeout(90_000);

maybe("crash and restart of the local host", () => {
  const hosts: HostProcess[] = [];
  let dataDir = "";

  // A data directory per test, its hosts stopped after it: one host per data directory (the local host refuses a
  // second; before it did, the second test's hosts shared the first test's directory with its restarted host).
  beforeEach(() => {
    dataDir = tempDataDir();
  });

  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  afterAll(async () => {
    await closeAllServers();
  });

  /** GET /api/scatter-gather/{id}, tolerating a host that is down or a dead pooled connection. */
  async function poll(target: Target, id: string, done: (b: AnyJson) => boolean, timeoutMs: number): Promise<AnyJson> {
    const t0 = Date.now();
    let last: string;
    for (;;) {
      try {
        const res = await getGather(target, id);
        last = `${res.status} ${res.text.slice(0, 500)}`;
        if (res.status === 200 && done(res.body)) return res.body;
      } catch (error) {
        last = (error as Error).message;
      }
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out polling ${id}: last ${last}`);
      await sleep(50);
    }
  }

  test("kill -9 mid-gather, restart on the same data dir and port: the gather completes with all 200 recipients", async () => {
    const N = 200;
    const first = await startHostProcess({ dataDir });
    hosts.push(first);
    const target: Target = { baseUrl: first.url, host: first };
    const id = uniqueId("crash");
    // Latencies spread over ~4 s; the deadline is far away.
    const recipients = Array.from({ length: N }, (_, i) => ({
      id: `r${i}`,
      simulate: { latencyMs: 200 + ((i * 37) % 200) * 20, value: { i } },
    }));
    await startOk(target, { id, request: { durable: true }, recipients, completion: { timeoutMs: 120_000 } });

    const before = await poll(target, id, (b) => b.progress?.phase === "gathering" && b.progress.succeeded >= 20, 20_000);
    expect(before.runtimeStatus).toBe("Running");
    expect(before.progress.succeeded).toBeLessThan(N);
    const deadline = before.progress.deadline;
    expect(typeof deadline).toBe("string");

    await first.kill9();
    expect(first.child.signalCode).toBe("SIGKILL");

    const second = await startHostProcess({ dataDir, port: first.port });
    hosts.push(second);
    expect(second.port).toBe(first.port);
    expect(second.output()).toContain(dataDir);

    const done = await poll(target, id, (b) => ["Completed", "Failed", "Terminated"].includes(b.runtimeStatus), 60_000);
    expect(done.runtimeStatus).toBe("Completed");
    const r = done.result;
    expect(r).toMatchObject({ id, outcome: "complete", closedBy: "all-responded" });
    expect(r.counts).toEqual({ total: N, succeeded: N, failed: 0, timedOut: 0, abandoned: 0 });
    expect(r.responses).toHaveLength(N);
    r.responses.forEach((resp: AnyJson, i: number) => {
      expect(resp).toMatchObject({ recipientId: `r${i}`, status: "succeeded", value: { i } });
    });
    expect(Object.keys(r.aggregate.values)).toHaveLength(N);
    // The same execution went on: same start, same deadline.
    expect(r.startedAt).toBe(new Date(Date.parse(deadline) - 120_000).toISOString());
    expect(done.progress.deadline).toBe(deadline);
  });

  test("callback recipients waiting across a kill -9: replies before and after the restart are taken", async () => {
    const server = await recipientServer(() => ({ status: 202, text: "" }));
    const first = await startHostProcess({ dataDir });
    hosts.push(first);
    const target: Target = { baseUrl: first.url, host: first };
    const id = uniqueId("crash-cb");
    const recipients = ["a", "b", "c"].map((r) => ({ id: r, url: `${server.url}/job`, reply: "callback" }));
    await startOk(target, { id, request: 1, recipients, completion: { mode: "all", timeoutMs: 120_000 } });
    await poll(target, id, (b) => b.progress?.awaitingReply === 3, 20_000);
    const respondUrl = (r: string) => server.calls.find((c) => c.body.recipientId === r)!.body.respondUrl as string;
    expect((await postAnonymous(respondUrl("a"), { value: "before" })).status).toBe(202);
    await poll(target, id, (b) => b.progress?.succeeded === 1, 20_000);

    await first.kill9();
    const second = await startHostProcess({ dataDir, port: first.port });
    hosts.push(second);
    // The same URLs (same port, the same generated token key in the payload store) still open the gather.
    expect((await postAnonymous(respondUrl("b"), { value: "after" })).status).toBe(202);
    expect((await postAnonymous(respondUrl("a"), { value: "again" })).status).toBe(409);
    expect((await postAnonymous(respondUrl("c"), { error: "declined" })).status).toBe(202);
    const done = await poll(target, id, (b) => ["Completed", "Failed", "Terminated"].includes(b.runtimeStatus), 60_000);
    expect(done.result).toMatchObject({ outcome: "complete", closedBy: "all-responded" });
    expect(done.result.responses.map((r: AnyJson) => [r.recipientId, r.status, r.value ?? r.error])).toEqual([
      ["a", "succeeded", "before"],
      ["b", "succeeded", "after"],
      ["c", "failed", "declined"],
    ]);
    // Each delivery was made once: the restart did not deliver again to a recipient that had acknowledged.
    expect(server.calls).toHaveLength(3);
  });
});

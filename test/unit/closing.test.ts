import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { UrlAllowlist } from "../../src/gather/allowlist";
import { isGatherClosed, markGatherClosed, watchGather } from "../../src/gather/closing";
import { deliver } from "../../src/gather/deliver";

const options = (cancel?: AbortSignal) => ({
  maxResponseBytes: 1000,
  allowlist: new UrlAllowlist(["http://127.0.0.1:*"]),
  ...(cancel ? { cancel } : {}),
});

/** Waits for a condition the polling makes true, however slow the machine; fails after 5 s. */
async function until(condition: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !condition(); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() - t0 > 5000) throw new Error(`still false after 5 s: ${condition.toString()}`);
  }
}

describe("closing a gather stops its remaining calls", () => {
  test("a watched call is aborted when its gather closes, others are not", () => {
    const a = watchGather("g1");
    const b = watchGather("g2");
    markGatherClosed("g1");
    expect(a.signal.aborted).toBe(true);
    expect(b.signal.aborted).toBe(false);
    expect(isGatherClosed("g1")).toBe(true);
    expect(isGatherClosed("g2")).toBe(false);
    b.release();
  });

  test("a call that starts after the close is aborted from the start", () => {
    markGatherClosed("g3");
    expect(watchGather("g3").signal.aborted).toBe(true);
  });

  test("closed marks are forgotten after an hour", () => {
    markGatherClosed("old", 0);
    markGatherClosed("new", 2 * 60 * 60 * 1000);
    expect(isGatherClosed("old")).toBe(false);
    expect(isGatherClosed("new")).toBe(true);
  });

  test("a call also ends when its gather's status says it has stopped, polled until then; release stops the polling", async () => {
    let reads = 0;
    let stopped = false;
    const watch = watchGather("g6", { stopped: async () => (reads++, stopped), everyMs: 20 });
    await until(() => reads >= 2);
    expect(watch.signal.aborted).toBe(false);
    stopped = true;
    await until(() => watch.signal.aborted);
    const after = reads;
    await new Promise((r) => setTimeout(r, 60));
    expect(reads).toBe(after); // no read once aborted
    watch.release();

    const released = watchGather("g7", { stopped: async () => (reads++, false), everyMs: 20 });
    released.release();
    const before = reads;
    await new Promise((r) => setTimeout(r, 60));
    expect(reads).toBe(before);
  });

  test("a status read that fails counts as not stopped: the call goes on", async () => {
    let reads = 0;
    const watch = watchGather("g8", { stopped: () => (reads++, Promise.reject(new Error("no client"))), everyMs: 10 });
    await until(() => reads >= 2);
    expect(watch.signal.aborted).toBe(false);
    watch.release();
  });

  test("a simulated recipient's wait ends at once", async () => {
    const watch = watchGather("g4");
    const started = Date.now();
    const call = deliver(
      { requestId: "g4", request: null, recipient: { id: "s", simulate: { latencyMs: 60_000, failureRate: 0, value: 1 } } },
      options(watch.signal),
    );
    setTimeout(() => markGatherClosed("g4"), 50);
    await expect(call).rejects.toThrow("cancelled: the gather closed before this call finished");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test("an HTTP call in flight is aborted at once", async () => {
    let hung = 0;
    const server: Server = createServer(() => void hung++); // never answers
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const watch = watchGather("g5");
      const call = deliver(
        { requestId: "g5", request: null, recipient: { id: "u", url, method: "POST", timeoutMs: 60_000 } },
        options(watch.signal),
      );
      setTimeout(() => markGatherClosed("g5"), 100);
      await expect(call).rejects.toThrow("cancelled");
      expect(hung).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

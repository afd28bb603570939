/** Payload limits (UTF-8 bytes, Durable Task Scheduler's 1 MiB by default): refused payloads fail loudly. */
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_MAX_PAYLOAD_BYTES, PayloadLimit } from "./payload-limit";
import { fileNameFor } from "./store";
import { completed, makeHarness, until, type Harness, type OrchestratorFn } from "./test-support";
import { PayloadTooLargeError } from "./types";

const MiB = 1024 * 1024;
const big = (bytes: number) => "x".repeat(bytes);

let h: Harness | undefined;
afterEach(async () => {
  await h?.engine.stop();
  h = undefined;
});

const orchestrators: Record<string, OrchestratorFn> = {
  CallBig: function* (ctx) {
    return (yield ctx.df.callActivity("Big", 1.5 * MiB)) as string;
  },
  SendBig: function* (ctx) {
    yield ctx.df.callActivity("Echo", big(1.5 * MiB));
    return "sent";
  },
  // eslint-disable-next-line require-yield -- an orchestrator that returns at once, without a durable call
  ReturnBig: function* () {
    return big(1.5 * MiB);
  },
  StartBigChild: function* (ctx) {
    return (yield ctx.df.callSubOrchestrator("ReturnBig", big(1.5 * MiB), "child-big")) as unknown;
  },
  ChildReturnsBig: function* (ctx) {
    return (yield ctx.df.callSubOrchestrator("ReturnBig", null, "child-out")) as unknown;
  },
  FailBig: function* (ctx) {
    return (yield ctx.df.callActivity("Throw", 1.5 * MiB)) as unknown;
  },
  Wait: function* (ctx) {
    return (yield ctx.df.waitForExternalEvent("go")) as unknown;
  },
};
const activities = {
  Big: (n: number) => big(n),
  Echo: (s: string) => s.length,
  Throw: (n: number) => {
    throw new Error(big(n));
  },
};

function start(extra: Parameters<typeof makeHarness>[2] = {}): Harness {
  h = makeHarness(orchestrators, activities, extra);
  return h;
}

const errors = (x: Harness) =>
  x.logs
    .filter((l) => l.level === "error")
    .map((l) => l.message)
    .join("\n");

describe("payload limit (default 1 MiB, UTF-8 bytes)", () => {
  test("an activity returning 1.5 MiB fails the instance with a reason naming the result, its size and the limit", async () => {
    const x = start();
    await x.engine.start();
    await x.engine.startNew("CallBig", "big-result", undefined);
    const s = await completed(x.engine, "big-result");
    expect(s.runtimeStatus).toBe("Failed");
    const expected = `The payload of the result of activity 'Big' (task 0) is ${1.5 * MiB + 2} bytes (UTF-8), over the limit of 1048576 bytes (--max-payload-bytes).`;
    expect(s.output).toBe(expected);
    expect(errors(x)).toContain(expected);
    // Refused, never accepted: the result is not in the instance's log.
    expect(fs.statSync(path.join(x.dataDir, "TestHub", fileNameFor("big-result"))).size).toBeLessThan(64 * 1024);
  });

  test.each([
    ["SendBig", /the input of activity 'Echo' \(task 0\) scheduled by 'SendBig' is 1572872 bytes/],
    ["ReturnBig", /the output of orchestration 'ReturnBig' is 1572866 bytes/],
    ["StartBigChild", /the input of sub-orchestration 'ReturnBig' \('child-big'\) started by 'StartBigChild' is 1572866 bytes/],
    ["ChildReturnsBig", /the output of orchestration 'ReturnBig' is 1572866 bytes/],
    ["FailBig", /the failure details of activity 'Throw' \(task 0\) is \d+ bytes/],
  ])("%s fails with a reason naming the payload", async (name, reason) => {
    const x = start();
    await x.engine.start();
    await x.engine.startNew(name, "i", undefined);
    const s = await completed(x.engine, "i");
    expect(s.runtimeStatus).toBe("Failed");
    expect(String(s.output)).toMatch(reason);
    expect(String(s.output)).toContain("over the limit of 1048576 bytes");
    expect(errors(x)).toMatch(reason);
  });

  test("client calls over the limit fail: the start input, raised event data", async () => {
    const x = start();
    await x.engine.start();
    const err = await x.engine.startNew("Wait", "too-big", big(1.5 * MiB)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect((err as Error).message).toBe(
      `The payload of the input of orchestration 'Wait' ('too-big') is ${1.5 * MiB + 2} bytes (UTF-8), over the limit of 1048576 bytes (--max-payload-bytes).`,
    );
    expect(await x.engine.getStatus("too-big")).toBeUndefined();

    await x.engine.startNew("Wait", "w", undefined);
    await until(async () => (await x.engine.getStatus("w"))!.runtimeStatus === "Running", 5000, "running");
    await expect(x.engine.raiseEvent("w", "go", big(1.5 * MiB))).rejects.toThrow(/event 'go' raised to 'w' is 1572866 bytes/);
    expect(errors(x)).toMatch(/Refused a client call: .*event 'go'/);
    await x.engine.raiseEvent("w", "go", "small");
    expect((await completed(x.engine, "w")).output).toBe("small");
  });

  test("sizes are UTF-8 bytes, not characters", () => {
    const limit = new PayloadLimit(DEFAULT_MAX_PAYLOAD_BYTES);
    const euros = JSON.stringify("€".repeat(400_000)); // 400,002 characters, 1,200,002 bytes
    expect(limit.problem("x", euros)).toMatch(/is 1200002 bytes/);
    expect(limit.problem("x", JSON.stringify("a".repeat(400_000)))).toBeUndefined();
  });

  test("maxPayloadBytes: 0 means no limit; a smaller limit is honoured", async () => {
    const x = start({ maxPayloadBytes: 0 });
    await x.engine.start();
    await x.engine.startNew("CallBig", "no-limit", undefined);
    expect((await completed(x.engine, "no-limit")).runtimeStatus).toBe("Completed");
    await x.engine.stop();

    const y = start({ maxPayloadBytes: 1000 });
    await y.engine.start();
    await expect(y.engine.startNew("Wait", "small-limit", big(2000))).rejects.toThrow(/over the limit of 1000 bytes/);
  });
});

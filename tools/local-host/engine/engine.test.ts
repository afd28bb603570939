import * as df from "durable-functions";
import * as fs from "node:fs";
import * as path from "node:path";
import { computeRetryDelayMs } from "./replay";
import { fileNameFor } from "./store";
import { completed, historyOf, isIdle, shape, timersArmed, until, type OrchestratorFn, stoppedAfterEach } from "./test-support";

const harness = stoppedAfterEach();

const hello = { Hello: (name: string) => `Hello, ${name}!` };

describe("golden histories (shapes of durable-functions' own test histories)", () => {
  test("hello sequence = GetHelloSequenceReplayFinal, then ExecutionCompleted", async () => {
    const h = harness(
      {
        HelloSequence: function* (ctx) {
          const out: unknown[] = [];
          out.push(yield ctx.df.callActivity("Hello", "Tokyo"));
          out.push(yield ctx.df.callActivity("Hello", "Seattle"));
          out.push(yield ctx.df.callActivity("Hello", "London"));
          return out;
        },
      },
      hello,
    );
    await h.engine.start();
    await h.engine.startNew("HelloSequence", "seq", undefined);
    const s = await completed(h.engine, "seq");
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toEqual(["Hello, Tokyo!", "Hello, Seattle!", "Hello, London!"]);
    // testhistories.ts GetHelloSequenceReplayFinal (durable-js test data), plus the completion the host appends.
    expect(shape(historyOf(h, "seq"))).toEqual([
      "OrchestratorStarted",
      "ExecutionStarted",
      "TaskScheduled#0",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TaskCompleted->0",
      "TaskScheduled#1",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TaskCompleted->1",
      "TaskScheduled#2",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TaskCompleted->2",
      "ExecutionCompleted",
      "OrchestratorCompleted",
    ]);
    const hist = historyOf(h, "seq");
    // Field shapes the SDK reads: JSON-string payloads, legacy array-wrapped activity input.
    expect(hist[1]).toMatchObject({ Name: "HelloSequence", Input: null, EventId: -1 });
    // durable-functions pre-stringifies string inputs (Utils.processInput) and the shim passes that string on
    // to DTFx's ScheduleTask(params object[]): the stored input is the array of the already-encoded string.
    expect(hist[2]).toMatchObject({ Name: "Hello", Input: JSON.stringify([JSON.stringify("Tokyo")]) });
    expect(h.activityCalls[0]).toEqual({ name: "Hello", input: "Tokyo" });
    expect(hist[5]).toMatchObject({ TaskScheduledId: 0, Result: JSON.stringify("Hello, Tokyo!") });
    expect(hist[14]).toMatchObject({ OrchestrationStatus: 1, Result: JSON.stringify(s.output) });
  });

  test("trigger payload is the host's: IsPlayed past/new, schema versions, timer durations", async () => {
    const h = harness(
      {
        Two: function* (ctx) {
          yield ctx.df.callActivity("Hello", "a");
          return ctx.df.isReplaying;
        },
      },
      hello,
    );
    await h.engine.start();
    await h.engine.startNew("Two", "p", { x: 1 });
    await completed(h.engine, "p");
    const payloads = h.payloads.get("p")!;
    expect(payloads).toHaveLength(2);
    const second = payloads[1];
    expect(second).toMatchObject({
      input: { x: 1 },
      instanceId: "p",
      isReplaying: true,
      parentInstanceId: null,
      upperSchemaVersion: 1,
      upperSchemaVersionNew: 2,
      longRunningTimerIntervalDuration: "3.00:00:00",
      maximumShortTimerDuration: "6.00:00:00",
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    });
    const played = (second.history as { IsPlayed: boolean }[]).map((e) => e.IsPlayed);
    expect(played).toEqual([true, true, true, true, false, false]);
  });

  test("fan-out/fan-in = GetFanOutFanInDiskUsageComplete shape (ids 1..n after the first call)", async () => {
    const h = harness(
      {
        FanOutFanIn: function* (ctx) {
          const files: string[] = yield ctx.df.callActivity("GetFileList", "C:\\Dev");
          const sizes: number[] = yield ctx.df.Task.all(files.map((f) => ctx.df.callActivity("GetFileSize", f)));
          return sizes.reduce((a, b) => a + b, 0);
        },
      },
      { GetFileList: () => ["a", "bb", "ccc"], GetFileSize: (f: string) => f.length },
    );
    await h.engine.start();
    await h.engine.startNew("FanOutFanIn", "fan", undefined);
    const s = await completed(h.engine, "fan");
    expect(s.output).toBe(6);
    const sh = shape(historyOf(h, "fan"));
    expect(sh.slice(0, 11)).toEqual([
      "OrchestratorStarted",
      "ExecutionStarted",
      "TaskScheduled#0",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TaskCompleted->0",
      "TaskScheduled#1",
      "TaskScheduled#2",
      "TaskScheduled#3",
      "OrchestratorCompleted",
      "OrchestratorStarted",
    ]);
    expect(sh.filter((x) => x.startsWith("TaskCompleted")).sort()).toEqual([
      "TaskCompleted->0",
      "TaskCompleted->1",
      "TaskCompleted->2",
      "TaskCompleted->3",
    ]);
    expect(sh.slice(-2)).toEqual(["ExecutionCompleted", "OrchestratorCompleted"]);
  });

  test("idle: busy from a start through its activities and child, idle while only a timer is armed, busy again when it fires", async () => {
    const h = harness(
      {
        Parent: function* (ctx) {
          yield ctx.df.callActivity("Slow", 1);
          yield ctx.df.callSubOrchestrator("Child", null, "idle-child");
          yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 60_000));
          return "done";
        },
        Child: function* (ctx) {
          return yield ctx.df.callActivity("Slow", 2);
        },
      },
      { Slow: (n: number) => new Promise((resolve) => setTimeout(() => resolve(n), 30)) },
    );
    await h.engine.start();
    expect(isIdle(h)).toBe(true);
    await h.engine.startNew("Parent", "idle", undefined);
    // Never idle between the start and the armed timer: the activity, the child's start, its activity, the parent's
    // episodes are each counted until the next is queued.
    let sawIdle = false;
    while (h.clock.dueTimes().length === 0) {
      sawIdle ||= isIdle(h);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sawIdle).toBe(false);
    await until(() => isIdle(h));
    expect((await h.engine.getStatus("idle"))!.runtimeStatus).toBe("Running");
    expect(h.activityCalls).toHaveLength(2);
    h.clock.advance(60_000);
    expect(isIdle(h)).toBe(false);
    expect((await completed(h.engine, "idle")).output).toBe("done");
    await until(() => isIdle(h));
  });

  test("timer = GetWaitOnTimerFired shape; the timer fires on the injected clock", async () => {
    const h = harness(
      {
        WaitOnTimer: function* (ctx) {
          const fireAt = new Date(ctx.df.currentUtcDateTime.getTime() + 60_000);
          yield ctx.df.createTimer(fireAt);
          return "done";
        },
      },
      {},
    );
    await h.engine.start();
    const t0 = h.clock.now();
    await h.engine.startNew("WaitOnTimer", "timer", undefined);
    await timersArmed(h.clock);
    expect(h.clock.dueTimes()).toEqual([t0 + 60_000]);
    expect((await h.engine.getStatus("timer"))!.runtimeStatus).toBe("Running");
    h.clock.advance(59_999);
    expect((await h.engine.getStatus("timer"))!.runtimeStatus).toBe("Running");
    h.clock.advance(1);
    const s = await completed(h.engine, "timer");
    expect(s.output).toBe("done");
    const hist = historyOf(h, "timer");
    expect(shape(hist)).toEqual([
      "OrchestratorStarted",
      "ExecutionStarted",
      "TimerCreated#0",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TimerFired->0",
      "ExecutionCompleted",
      "OrchestratorCompleted",
    ]);
    expect(hist[2].FireAt).toBe(new Date(t0 + 60_000).toISOString());
    expect(hist[5].FireAt).toBe(new Date(t0 + 60_000).toISOString());
  });

  test("external event = GetWaitForExternalEventEventReceived shape", async () => {
    const h = harness(
      {
        WaitForExternalEvent: function* (ctx) {
          const v = yield ctx.df.waitForExternalEvent("start");
          return v;
        },
      },
      {},
    );
    await h.engine.start();
    await h.engine.startNew("WaitForExternalEvent", "ev", undefined);
    await until(async () => historyOf(h, "ev").length === 3, 5000, "first episode");
    await h.engine.raiseEvent("ev", "start", { go: true });
    const s = await completed(h.engine, "ev");
    expect(s.output).toEqual({ go: true });
    const hist = historyOf(h, "ev");
    expect(shape(hist)).toEqual([
      "OrchestratorStarted",
      "ExecutionStarted",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "EventRaised",
      "ExecutionCompleted",
      "OrchestratorCompleted",
    ]);
    expect(hist[4]).toMatchObject({ Name: "start", Input: JSON.stringify({ go: true }) });
  });
});

describe("retries (DTFx RetryInterceptor timing)", () => {
  test("delay formula: first * coefficient^(attempt-1), capped, stops at the retry timeout", () => {
    const o = {
      firstRetryIntervalInMilliseconds: 1000,
      maxNumberOfAttempts: 5,
      backoffCoefficient: 2,
      maxRetryIntervalInMilliseconds: 5000,
    };
    expect([0, 1, 2, 3].map((n) => computeRetryDelayMs(o, n, 0, 0))).toEqual([1000, 2000, 4000, 5000]);
    expect(computeRetryDelayMs({ ...o, retryTimeoutInMilliseconds: 3000 }, 1, 0, 2999)).toBe(2000);
    expect(computeRetryDelayMs({ ...o, retryTimeoutInMilliseconds: 3000 }, 1, 0, 3000)).toBe(0);
    // Defaults: coefficient 1, max interval 6 days.
    expect(computeRetryDelayMs({ firstRetryIntervalInMilliseconds: 7, maxNumberOfAttempts: 2 }, 3, 0, 0)).toBe(7);
  });

  test("retry history = GetSayHelloWithActivityRetryRetryTwo shape, timers at the DTFx delays, then success", async () => {
    let calls = 0;
    const h = harness(
      {
        SayHelloWithActivityRetry: function* (ctx) {
          const opts = new df.RetryOptions(1000, 4);
          opts.backoffCoefficient = 3;
          return yield ctx.df.callActivityWithRetry("Hello", opts, "Tokyo");
        },
      },
      {
        Hello: (name: string) => {
          calls++;
          if (calls < 3) throw new Error(`boom ${calls}`);
          return `Hello, ${name}!`;
        },
      },
    );
    await h.engine.start();
    await h.engine.startNew("SayHelloWithActivityRetry", "retry", undefined);
    // attempt 1 fails -> timer after 1000 ms
    await timersArmed(h.clock);
    const t1 = h.clock.now();
    expect(h.clock.dueTimes()).toEqual([t1 + 1000]);
    h.clock.advance(1000);
    // attempt 2 fails -> timer after 1000 * 3 ms
    await until(() => h.clock.dueTimes().length === 1 && calls === 2, 5000, "second timer");
    const t2 = h.clock.now();
    expect(h.clock.dueTimes()).toEqual([t2 + 3000]);
    h.clock.advance(3000);
    const s = await completed(h.engine, "retry");
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toBe("Hello, Tokyo!");
    const hist = historyOf(h, "retry");
    expect(shape(hist)).toEqual([
      "OrchestratorStarted",
      "ExecutionStarted",
      "TaskScheduled#0",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TaskFailed->0",
      "TimerCreated#1",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TimerFired->1",
      "TaskScheduled#2",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TaskFailed->2",
      "TimerCreated#3",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TimerFired->3",
      "TaskScheduled#4",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TaskCompleted->4",
      "ExecutionCompleted",
      "OrchestratorCompleted",
    ]);
    const failed = hist[5];
    expect(failed.Reason).toBe("Activity function 'Hello' failed: boom 1");
    const details = JSON.parse(String(failed.Details));
    expect(details).toMatchObject({ ClassName: "System.Exception", Message: "boom 1" });
    expect(details.InnerException.Message).toContain("Result: Failure\nException: boom 1\nStack: Error: boom 1");
    // FireAt = the failure episode's time + delay (golden: timestamp + retryInterval).
    expect(Date.parse(String(hist[6].FireAt)) - Date.parse(hist[4].Timestamp)).toBe(1000);
    expect(Date.parse(String(hist[14].FireAt)) - Date.parse(hist[12].Timestamp)).toBe(3000);
  });

  test("exhausted retries: a zero-delay timer after the last attempt, then the orchestration fails", async () => {
    const h = harness(
      {
        AlwaysFails: function* (ctx) {
          return yield ctx.df.callActivityWithRetry("Bad", new df.RetryOptions(500, 2), null);
        },
      },
      {
        Bad: () => {
          throw new Error("nope");
        },
      },
    );
    await h.engine.start();
    await h.engine.startNew("AlwaysFails", "fail", undefined);
    await timersArmed(h.clock);
    h.clock.advance(500);
    // The second failure arms the back-compat timer due immediately.
    await until(() => historyOf(h, "fail").some((e) => e.EventType === 10 && e.EventId === 3), 5000, "last timer");
    await timersArmed(h.clock);
    expect(h.clock.dueTimes()).toEqual([h.clock.now()]);
    h.clock.advance(0);
    const s = await completed(h.engine, "fail");
    expect(s.runtimeStatus).toBe("Failed");
    expect(String(s.output)).toMatch(/^Orchestrator function 'AlwaysFails' failed: Activity function 'Bad' failed: nope/);
    const hist = historyOf(h, "fail");
    const sh = shape(hist);
    expect(sh).toEqual([
      "OrchestratorStarted",
      "ExecutionStarted",
      "TaskScheduled#0",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TaskFailed->0",
      "TimerCreated#1",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TimerFired->1",
      "TaskScheduled#2",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TaskFailed->2",
      "TimerCreated#3",
      "OrchestratorCompleted",
      "OrchestratorStarted",
      "TimerFired->3",
      "ExecutionCompleted",
      "OrchestratorCompleted",
    ]);
    // The back-compat timer fires at the failure time itself.
    expect(hist[14].FireAt).toBe(new Date(Date.parse(hist[12].Timestamp)).toISOString());
  });
});

describe("fan-out, races, failures", () => {
  test("Task.any: first wins; the orchestration waits for the loser before completing (open tasks)", async () => {
    let releaseSlow!: () => void;
    const slowGate = new Promise<void>((r) => (releaseSlow = r));
    const h = harness(
      {
        Race: function* (ctx) {
          const fast = ctx.df.callActivity("Fast", null);
          const slow = ctx.df.callActivity("Slow", null);
          const winner = yield ctx.df.Task.any([fast, slow]);
          return winner.result;
        },
      },
      {
        Fast: () => "fast",
        Slow: async () => {
          await slowGate;
          return "slow";
        },
      },
    );
    await h.engine.start();
    await h.engine.startNew("Race", "race", undefined);
    await until(() => (h.payloads.get("race") ?? []).length >= 2, 5000, "second episode");
    await new Promise((r) => setTimeout(r, 30));
    // The worker returned isDone, but the host's open activity keeps the instance Running.
    expect((await h.engine.getStatus("race"))!.runtimeStatus).toBe("Running");
    releaseSlow();
    const s = await completed(h.engine, "race");
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toBe("fast");
  });

  test("Task.any with a deadline timer: cancelled timer does not block completion", async () => {
    const h = harness(
      {
        Deadline: function* (ctx) {
          const deadline = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 3_600_000));
          const work = ctx.df.callActivity("Hello", "x");
          const winner = yield ctx.df.Task.any([work, deadline]);
          if (!deadline.isCompleted) deadline.cancel();
          return winner === work ? "work" : "timeout";
        },
      },
      hello,
    );
    await h.engine.start();
    await h.engine.startNew("Deadline", "dl", undefined);
    const s = await completed(h.engine, "dl");
    expect(s.output).toBe("work");
    expect(s.runtimeStatus).toBe("Completed");
  });

  test("uncancelled timer: worker isDone but the host completes only when the timer fires", async () => {
    const h = harness(
      {
        Forgot: function* (ctx) {
          const deadline = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 10_000));
          const work = ctx.df.callActivity("Hello", "x");
          yield ctx.df.Task.any([work, deadline]);
          return "early";
        },
      },
      hello,
    );
    await h.engine.start();
    await h.engine.startNew("Forgot", "forgot", undefined);
    await until(() => (h.payloads.get("forgot") ?? []).length >= 2, 5000, "second episode");
    await new Promise((r) => setTimeout(r, 30));
    expect((await h.engine.getStatus("forgot"))!.runtimeStatus).toBe("Running");
    h.clock.advance(10_000);
    const s = await completed(h.engine, "forgot");
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toBe("early");
  });

  test("activity failure caught by the orchestrator; Task.all surfaces the failure", async () => {
    const h = harness(
      {
        Catches: function* (ctx) {
          try {
            yield ctx.df.Task.all([ctx.df.callActivity("Hello", "a"), ctx.df.callActivity("Bad", "b")]);
            return "no";
          } catch (e) {
            return String((e as Error).message).split(" \n ")[0];
          }
        },
      },
      {
        ...hello,
        Bad: () => {
          throw new Error("bad input");
        },
      },
    );
    await h.engine.start();
    await h.engine.startNew("Catches", "c", undefined);
    const s = await completed(h.engine, "c");
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toBe("Activity function 'Bad' failed: bad input");
  });

  test("unhandled activity failure fails the orchestration with the host's message", async () => {
    const h = harness(
      {
        Throws: function* (ctx) {
          yield ctx.df.callActivity("Bad", null);
          return 1;
        },
      },
      {
        Bad: () => {
          throw new Error("kaput");
        },
      },
    );
    await h.engine.start();
    await h.engine.startNew("Throws", "t", undefined);
    const s = await completed(h.engine, "t");
    expect(s.runtimeStatus).toBe("Failed");
    expect(String(s.output)).toMatch(/^Orchestrator function 'Throws' failed: Activity function 'Bad' failed: kaput \n \{/);
  });

  test("unknown activity name fails the orchestration like the host", async () => {
    const h = harness(
      {
        Calls: function* (ctx) {
          yield ctx.df.callActivity("Nope", null);
        },
      },
      hello,
    );
    await h.engine.start();
    await h.engine.startNew("Calls", "u", undefined);
    const s = await completed(h.engine, "u");
    expect(s.runtimeStatus).toBe("Failed");
    expect(s.output).toBe(
      "Orchestrator function 'Calls' failed: The function 'Nope' doesn't exist, is disabled, or is not an activity function. " +
        "Additional info: The following are the known activity functions: 'Hello'.",
    );
  });

  test("re-yielding a task inside a new Task.any schedules it again and warns (durable-js #574)", async () => {
    const h = harness(
      {
        Reyield: function* (ctx) {
          const a = ctx.df.callActivity("Hello", "a");
          const b = ctx.df.callActivity("Hello", "b");
          const first = yield ctx.df.Task.any([a, b]);
          const rest = first === a ? b : a;
          yield ctx.df.Task.any([rest]); // the wrong way: `rest` was already yielded
          return "ok";
        },
      },
      hello,
    );
    await h.engine.start();
    await h.engine.startNew("Reyield", "re", undefined);
    await completed(h.engine, "re");
    const scheduled = historyOf(h, "re").filter((e) => e.EventType === 4);
    expect(scheduled.length).toBeGreaterThanOrEqual(3);
    expect(h.activityCalls.filter((c) => c.name === "Hello").length).toBe(scheduled.length);
    expect(h.logs.some((l) => l.level === "warn" && /yielded the same activity call 'Hello' 2 times/.test(l.message))).toBe(true);
  });

  test("nondeterminism: code that changes between episodes fails the orchestration", async () => {
    let version = 1;
    const h = harness(
      {
        Changes: function* (ctx) {
          yield ctx.df.callActivity(version === 1 ? "Hello" : "Other", "x");
          return "done";
        },
      },
      {
        Hello: () => {
          version = 2;
          return "h";
        },
        Other: () => "o",
      },
    );
    await h.engine.start();
    await h.engine.startNew("Changes", "nd", undefined);
    const s = await completed(h.engine, "nd");
    expect(s.runtimeStatus).toBe("Failed");
    expect(s.output).toBe(
      "Non-Deterministic workflow detected: A previous execution of this orchestration scheduled an activity task with " +
        "sequence number 0 named 'Hello', but the current orchestration replay instead scheduled an activity task named " +
        "'Other' with this sequence number.  Was a change made to the orchestrator code after this instance had already started running?",
    );
  });

  test("an orchestrator that throws fails with 'Orchestrator function ... failed'", async () => {
    /* eslint-disable require-yield -- an orchestrator is a generator, even one that only throws */
    const h = harness(
      {
        Boom: function* () {
          throw new Error("bad state");
        },
      },
      {},
    );
    /* eslint-enable require-yield */
    await h.engine.start();
    await h.engine.startNew("Boom", "boom", undefined);
    const s = await completed(h.engine, "boom");
    expect(s.runtimeStatus).toBe("Failed");
    expect(s.output).toBe("Orchestrator function 'Boom' failed: bad state");
  });
});

describe("events, sub-orchestrations, continueAsNew, custom status", () => {
  test("events raised before the wait are buffered; same-name events are consumed FIFO", async () => {
    const h = harness(
      {
        Collect: function* (ctx) {
          yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 1000));
          const a = yield ctx.df.waitForExternalEvent("Vote");
          const b = yield ctx.df.waitForExternalEvent("Vote");
          return [a, b];
        },
      },
      {},
    );
    await h.engine.start();
    await h.engine.startNew("Collect", "votes", undefined);
    await timersArmed(h.clock);
    await h.engine.raiseEvent("votes", "Vote", 1);
    await h.engine.raiseEvent("votes", "Vote", 2);
    await until(() => historyOf(h, "votes").filter((e) => e.EventType === 15).length === 2, 5000, "events in history");
    h.clock.advance(1000);
    const s = await completed(h.engine, "votes");
    expect(s.output).toEqual([1, 2]);
  });

  test("sub-orchestrations with and without instance id; parent gets results and failures", async () => {
    const h = harness(
      {
        Parent: function* (ctx) {
          const a = yield ctx.df.callSubOrchestrator("Child", "a", "child-a");
          const b = yield ctx.df.callSubOrchestrator("Child", "b");
          let failure = "";
          try {
            yield ctx.df.callSubOrchestrator("Child", "fail", "child-f");
          } catch (e) {
            failure = String((e as Error).message).split(" \n ")[0];
          }
          return { a, b, failure, parentOf: ctx.df.parentInstanceId ?? null };
        },
        Child: function* (ctx) {
          const input = ctx.df.getInput();
          if (input === "fail") throw new Error("child broke");
          const r = yield ctx.df.callActivity("Hello", input);
          return { r, parent: ctx.df.parentInstanceId };
        },
      },
      hello,
    );
    await h.engine.start();
    await h.engine.startNew("Parent", "parent", undefined);
    const s = await completed(h.engine, "parent");
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toEqual({
      a: { r: "Hello, a!", parent: "parent" },
      b: { r: "Hello, b!", parent: "parent" },
      failure: "Orchestrator function 'Child' failed: child broke",
      parentOf: null,
    });
    const created = historyOf(h, "parent").filter((e) => e.EventType === 7);
    expect(created.map((e) => e.InstanceId)).toEqual(["child-a", expect.stringMatching(/^[0-9a-f]{32}:1$/), "child-f"]);
    expect((await h.engine.getStatus("child-f"))!.runtimeStatus).toBe("Failed");
  });

  test("continueAsNew: new execution with the carried input, history reset", async () => {
    const h = harness(
      {
        Counter: function* (ctx) {
          const n: number = ctx.df.getInput();
          yield ctx.df.callActivity("Hello", String(n));
          if (n < 3) {
            ctx.df.continueAsNew(n + 1);
            return undefined;
          }
          return n;
        },
      },
      hello,
    );
    await h.engine.start();
    await h.engine.startNew("Counter", "can", 0);
    const s = await completed(h.engine, "can");
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toBe(3);
    expect(s.input).toBe(3);
    expect(h.activityCalls.map((c) => c.input)).toEqual(["0", "1", "2", "3"]);
    expect(shape(historyOf(h, "can"))[1]).toBe("ExecutionStarted");
    expect(historyOf(h, "can").filter((e) => e.EventType === 0)).toHaveLength(1);
  });

  test("custom status is reported; over 16 KB fails the orchestration", async () => {
    const h = harness(
      {
        Status: function* (ctx) {
          ctx.df.setCustomStatus({ step: 1 });
          yield ctx.df.callActivity("Hello", "x");
          return "ok";
        },
        Huge: function* (ctx) {
          ctx.df.setCustomStatus("x".repeat(9000));
          yield ctx.df.callActivity("Hello", "x");
        },
      },
      hello,
    );
    await h.engine.start();
    await h.engine.startNew("Status", "cs", undefined);
    expect((await completed(h.engine, "cs")).customStatus).toEqual({ step: 1 });
    await h.engine.startNew("Huge", "huge", undefined);
    const s = await completed(h.engine, "huge");
    expect(s.runtimeStatus).toBe("Failed");
    expect(String(s.output)).toMatch(
      /^Orchestrator function 'Huge' failed: The UTF-16 size of the JSON-serialized payload must not exceed 16 KB/,
    );
  });
});

describe("management operations", () => {
  const waitsForever: Record<string, OrchestratorFn> = {
    Waits: function* (ctx) {
      const v = yield ctx.df.waitForExternalEvent("go");
      return v;
    },
  };

  test("terminate: status Terminated, output = reason; later events are dropped", async () => {
    const h = harness(waitsForever, {});
    await h.engine.start();
    await h.engine.startNew("Waits", "term", undefined);
    await h.engine.terminate("term", "enough");
    const s = await completed(h.engine, "term");
    expect(s.runtimeStatus).toBe("Terminated");
    expect(s.output).toBe("enough");
    await expect(h.engine.raiseEvent("term", "go", 1)).rejects.toMatchObject({ code: "invalid_state" });
    await expect(h.engine.raiseEvent("missing", "go", 1)).rejects.toMatchObject({ code: "not_found" });
  });

  test("suspend/resume: events queue while suspended and are processed on resume", async () => {
    const h = harness(waitsForever, {});
    await h.engine.start();
    await h.engine.startNew("Waits", "sus", undefined);
    await until(async () => (await h.engine.getStatus("sus"))!.runtimeStatus === "Running", 5000, "running");
    await h.engine.suspend("sus", "pause");
    await until(async () => (await h.engine.getStatus("sus"))!.runtimeStatus === "Suspended", 5000, "suspended");
    const episodes = h.payloads.get("sus")!.length;
    await h.engine.raiseEvent("sus", "go", "later");
    await new Promise((r) => setTimeout(r, 50));
    expect((await h.engine.getStatus("sus"))!.runtimeStatus).toBe("Suspended");
    expect(h.payloads.get("sus")!.length).toBe(episodes);
    await h.engine.resume("sus", "continue");
    const s = await completed(h.engine, "sus");
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toBe("later");
    const names = (await h.engine.getStatus("sus", { showHistory: true }))!.historyEvents!.map(
      (e) => (e as { EventType: string }).EventType,
    );
    expect(names).toEqual(["ExecutionStarted", "ExecutionSuspended", "ExecutionResumed", "EventRaised", "ExecutionCompleted"]);
  });

  test("status with history is shaped like the host's showHistory output", async () => {
    const h = harness(
      {
        One: function* (ctx) {
          return yield ctx.df.callActivity("Hello", "z");
        },
      },
      hello,
    );
    await h.engine.start();
    await h.engine.startNew("One", "hist", { in: 1 });
    await completed(h.engine, "hist");
    const s = (await h.engine.getStatus("hist", { showHistory: true, showHistoryOutput: true }))!;
    expect(s.createdTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(s.historyEvents).toEqual([
      expect.objectContaining({ EventType: "ExecutionStarted", FunctionName: "One", Input: JSON.stringify({ in: 1 }) }),
      expect.objectContaining({
        EventType: "TaskCompleted",
        FunctionName: "Hello",
        Result: "Hello, z!",
        ScheduledTime: expect.any(String),
      }),
      expect.objectContaining({ EventType: "ExecutionCompleted", OrchestrationStatus: "Completed", Result: "Hello, z!" }),
    ]);
    const noOut = (await h.engine.getStatus("hist", { showHistory: true, showInput: false }))!;
    expect(noOut.historyEvents![1]).not.toHaveProperty("Result");
    expect(noOut.historyEvents![0]).not.toHaveProperty("Input");
    expect(noOut.input).toBeNull();
  });

  test("purge, purgeMany, listInstances paging and filters; duplicate start of a running id is rejected", async () => {
    const h = harness(
      {
        ...waitsForever,
        One: function* (ctx) {
          return yield ctx.df.callActivity("Hello", "q");
        },
      },
      hello,
    );
    await h.engine.start();
    for (const id of ["job-1", "job-2", "job-3"]) {
      await h.engine.startNew("One", id, undefined);
      h.clock.advance(1000);
    }
    await h.engine.startNew("Waits", "other", undefined);
    await expect(h.engine.startNew("Waits", "other", undefined)).rejects.toMatchObject({ code: "invalid_state" });
    await expect(h.engine.startNew("Missing", "x", undefined)).rejects.toMatchObject({ code: "bad_request" });
    for (const id of ["job-1", "job-2", "job-3"]) await completed(h.engine, id);

    const page1 = await h.engine.listInstances({ instanceIdPrefix: "job-", top: 2 });
    expect(page1.instances.map((i) => i.instanceId)).toEqual(["job-1", "job-2"]);
    const page2 = await h.engine.listInstances({ instanceIdPrefix: "job-", top: 2, continuationToken: page1.continuationToken });
    expect(page2.instances.map((i) => i.instanceId)).toEqual(["job-3"]);
    expect(page2.continuationToken).toBeUndefined();
    const runningOnly = await h.engine.listInstances({ runtimeStatus: ["Running", "Pending"] });
    expect(runningOnly.instances.map((i) => i.instanceId)).toEqual(["other"]);

    expect(await h.engine.purge("other")).toBe(0); // not terminal
    expect(await h.engine.purge("job-1")).toBe(1);
    expect(await h.engine.getStatus("job-1")).toBeUndefined();
    expect(fs.existsSync(path.join(h.dataDir, "TestHub", fileNameFor("job-1")))).toBe(false);
    expect(await h.engine.purgeMany({ runtimeStatus: ["Completed"] })).toBe(2);
    expect((await h.engine.listInstances({})).instances.map((i) => i.instanceId)).toEqual(["other"]);
  });

  test("rewind re-runs the failed activity and the instance completes", async () => {
    let fail = true;
    const h = harness(
      {
        Flaky: function* (ctx) {
          const a = yield ctx.df.callActivity("Hello", "ok");
          const b = yield ctx.df.callActivity("Maybe", null);
          return [a, b];
        },
      },
      {
        ...hello,
        Maybe: () => {
          if (fail) throw new Error("down");
          return "up";
        },
      },
    );
    await h.engine.start();
    await h.engine.startNew("Flaky", "rw", undefined);
    expect((await completed(h.engine, "rw")).runtimeStatus).toBe("Failed");
    fail = false;
    await expect(h.engine.rewind("missing")).rejects.toMatchObject({ code: "not_found" });
    await h.engine.rewind("rw", "fixed");
    await until(async () => (await h.engine.getStatus("rw"))!.runtimeStatus === "Completed", 5000, "rewound completion");
    expect((await h.engine.getStatus("rw"))!.output).toEqual(["Hello, ok!", "up"]);
    expect(h.activityCalls.filter((c) => c.name === "Hello")).toHaveLength(1);
  });
});

describe("durability", () => {
  test("stop mid-fan-out, new engine on the same dataDir completes everything (at-least-once)", async () => {
    let gate: Promise<void> = new Promise(() => undefined); // first engine's activities never finish
    const orchestrators = {
      Fan: function* (ctx: { df: any }) {
        const parts: number[] = yield ctx.df.Task.all(Array.from({ length: 20 }, (_, i) => ctx.df.callActivity("Work", i)));
        yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 5000));
        return parts.reduce((a, b) => a + b, 0);
      },
    };
    let finished = 0;
    const activities = {
      Work: async (i: number) => {
        if (i >= 10) await gate;
        finished++;
        return i;
      },
    };
    const h1 = harness(orchestrators, activities, { maxConcurrentActivities: 20 });
    await h1.engine.start();
    await h1.engine.startNew("Fan", "durable", undefined);
    await until(() => historyOf(h1, "durable").filter((e) => e.EventType === 5).length === 10, 5000, "10 completions");
    await h1.engine.stop();

    gate = Promise.resolve();
    const h2 = harness(orchestrators, activities, { dataDir: h1.dataDir, clock: h1.clock });
    await h2.engine.start();
    expect((await h2.engine.getStatus("durable"))!.runtimeStatus).toBe("Running");
    await timersArmed(h2.clock);
    h2.clock.advance(5000);
    const s = await completed(h2.engine, "durable");
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toBe(190);
    // The ten unfinished activities ran again in the second engine, the finished ones did not.
    expect(h2.activityCalls.map((c) => c.input).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 10),
    );
    expect(finished).toBeGreaterThanOrEqual(20);
  });

  test("a torn last log line is tolerated and the instance resumes", async () => {
    const h1 = harness(
      {
        W: function* (ctx: { df: any }) {
          const v = yield ctx.df.waitForExternalEvent("go");
          return v;
        },
      },
      {},
    );
    await h1.engine.start();
    await h1.engine.startNew("W", "torn id/with:odd chars", undefined);
    await until(async () => (await h1.engine.getStatus("torn id/with:odd chars"))!.runtimeStatus === "Running", 5000, "running");
    await h1.engine.stop();
    const file = path.join(h1.dataDir, "TestHub", fileNameFor("torn id/with:odd chars"));
    fs.appendFileSync(file, '{"t":"msg","seq":9,"event":{"EventType":15,"Na'); // kill -9 mid-write

    const h2 = harness(
      {
        W: function* (ctx) {
          return (yield ctx.df.waitForExternalEvent("go")) as unknown;
        },
      },
      {},
      { dataDir: h1.dataDir },
    );
    await h2.engine.start();
    expect(h2.logs.some((l) => l.level === "warn" && /incomplete last record/.test(l.message))).toBe(true);
    await h2.engine.raiseEvent("torn id/with:odd chars", "go", "after crash");
    const s = await completed(h2.engine, "torn id/with:odd chars");
    expect(s.output).toBe("after crash");
    // Every line of the log parses after the repair and the new appends.
    for (const line of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
  });

  test("a sub-orchestration started before a stop completes and reaches its parent after restart", async () => {
    let gate: Promise<void> = new Promise(() => undefined);
    const orchestrators = {
      P: function* (ctx) {
        return (yield ctx.df.callSubOrchestrator("C", 5, "c1")) as unknown;
      },
      C: function* (ctx) {
        return (yield ctx.df.callActivity("Slow", ctx.df.getInput())) as unknown;
      },
    } as Record<string, OrchestratorFn>;
    const activities = {
      Slow: async (n: number) => {
        await gate;
        return n * 2;
      },
    };
    const h1 = harness(orchestrators, activities);
    await h1.engine.start();
    await h1.engine.startNew("P", "p1", undefined);
    await until(() => historyOf(h1, "c1").some((e) => e.EventType === 4), 5000, "child scheduled");
    await h1.engine.stop();
    gate = Promise.resolve();
    const h2 = harness(orchestrators, activities, { dataDir: h1.dataDir });
    await h2.engine.start();
    expect((await completed(h2.engine, "p1")).output).toBe(10);
  });
});

describe("performance", () => {
  test("2,000 activities in one orchestration complete (the time is printed: speed is the bench's to check)", async () => {
    const N = 2000;
    const h = harness(
      {
        Big: function* (ctx: { df: any }) {
          const results: number[] = yield ctx.df.Task.all(Array.from({ length: N }, (_, i) => ctx.df.callActivity("Sq", i)));
          return results.length;
        },
      },
      { Sq: async (i: number) => i * i },
      { maxConcurrentActivities: 64 },
    );
    await h.engine.start();
    const t0 = Date.now();
    await h.engine.startNew("Big", "big", undefined);
    const s = await completed(h.engine, "big", 20000);
    const elapsed = Date.now() - t0;
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toBe(N);
    expect(h.activityCalls).toHaveLength(N);
    console.log(`2,000 activities in one orchestration: ${elapsed} ms`);
  }, 30000);
});

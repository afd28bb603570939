/**
 * CompletionStream, the one touch of durable-functions internals, through the real durable-functions
 * replay and the local host's engine (the host-side numbering of OutOfProcOrchestrationShim): tasks
 * come back in completion order, each task's action is sent once, tasks added later are scheduled by
 * the next wait, isReplaying stays truthful; and the host behaviour that makes it necessary.
 */
import * as df from "durable-functions";
import { CompletionStream } from "../../src/durable/completionStream";
import {
  completed,
  historyOf,
  makeHarness,
  shape,
  until,
  type Harness,
  type OrchestratorFn,
} from "../../tools/local-host/engine/test-support";

const harnesses: Harness[] = [];
function harness(orchestrators: Record<string, OrchestratorFn>, activities: Parameters<typeof makeHarness>[1]): Harness {
  const h = makeHarness(orchestrators, activities);
  harnesses.push(h);
  return h;
}
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.engine.stop();
});

/** An activity whose calls wait until the test releases them, in the order it chooses. */
function gated() {
  const gates = new Map<string, () => void>();
  return {
    gates,
    activity: (name: string) => new Promise<string>((resolve) => gates.set(name, () => resolve(name.toUpperCase()))),
  };
}

test("hands back tasks in completion order; added tasks go out with the next wait; isReplaying truthful", async () => {
  const { gates, activity } = gated();
  const replaying: boolean[] = [];
  const h = harness(
    {
      Stream: function* (context: df.OrchestrationContext) {
        const names = ["a", "b", "c"];
        const tasks = names.map((n) => context.df.callActivity("work", n));
        const stream = new CompletionStream(context, tasks);
        const order: string[] = [];
        while (stream.pending > 0) {
          const task = yield* stream.next();
          order.push(task.result as string);
          replaying.push(context.df.isReplaying);
          // The first answer brings one more task: it is scheduled by the next wait, never yielded again.
          if (order.length === 1) stream.add(context.df.callActivity("work", "d"));
        }
        return order;
      },
    },
    { work: activity },
  );
  await h.engine.start();
  await h.engine.startNew("Stream", "s", null);
  for (const name of ["c", "d", "a", "b"]) {
    await until(() => gates.has(name), 10_000, `call ${name}`);
    gates.get(name)!();
    await until(() => shape(historyOf(h, "s")).some((e) => e === `TaskCompleted->${"abcd".indexOf(name)}`), 10_000, `${name} recorded`);
  }
  const status = await completed(h.engine, "s");
  expect(status.output).toEqual(["C", "D", "A", "B"]);
  // Each call scheduled once, numbered in the order the worker sent them.
  expect(shape(historyOf(h, "s")).filter((e) => e.startsWith("TaskScheduled"))).toEqual([
    "TaskScheduled#0",
    "TaskScheduled#1",
    "TaskScheduled#2",
    "TaskScheduled#3",
  ]);
  // In the last episode the earlier answers are replayed history, the newest is not.
  expect(replaying.slice(-4)).toEqual([true, true, true, false]);
  expect(h.logs.filter((l) => l.level !== "info")).toEqual([]);
});

test("the host behaviour it avoids: callActivityWithRetry in a Task.any whose timer is then cancelled is non-deterministic", async () => {
  // What the orchestrator did before: the host runs the retry (DTFx RetryInterceptor: its retry timer takes
  // the next sequence number when the failure arrives). Once the gather closed, timer.cancel() marked the
  // timer's action cancelled; on every later replay the host cancels it as it invokes the Task.any, so the
  // Task.any is done at once and the next action takes the number the retry timer had: the host fails the
  // orchestration (TaskOrchestrationContext.HandleTimerCreatedEvent). Azure's host does the same.
  const h = harness(
    {
      RetryInAny: function* (context: df.OrchestrationContext) {
        const call = context.df.callActivityWithRetry("bad", new df.RetryOptions(100, 2), null);
        const deadline = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 20_000));
        yield context.df.Task.any([call, deadline]);
        if (!deadline.isCompleted) deadline.cancel();
        yield context.df.callActivity("after", null);
        return "done";
      },
    },
    {
      bad: () => {
        throw new Error("always fails");
      },
      after: () => "ok",
    },
  );
  await h.engine.start();
  await h.engine.startNew("RetryInAny", "r", null);
  await until(() => h.clock.dueTimes().length === 2, 10_000, "the deadline and the retry timer");
  h.clock.advance(100);
  await until(() => h.clock.dueTimes().length === 2, 10_000, "the zero-delay timer after the last attempt");
  h.clock.advance(0);
  const status = await completed(h.engine, "r");
  expect(status.runtimeStatus).toBe("Failed");
  expect(String(status.output)).toContain("Non-Deterministic workflow detected");
  expect(String(status.output)).toContain("scheduled a timer task with sequence number 2");
});

test("refuses to wait with nothing to wait for", () => {
  const stream = new CompletionStream({} as df.OrchestrationContext);
  expect(() => stream.next().next()).toThrow("no task left");
});

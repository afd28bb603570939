/**
 * CompletionStream, the one touch of durable-functions internals, through the real replay executor:
 * tasks come back in completion order, nothing is scheduled twice, and isReplaying stays truthful.
 */
import type * as df from "durable-functions";
import { CompletionStream } from "../../src/durable/completionStream";
import { Replay } from "./replay";

interface Seen {
  order: string[];
  replaying: boolean[];
}

function orchestratorRecording(seen: Seen) {
  return function* (context: df.OrchestrationContext): Generator<df.Task, string[], unknown> {
    const names = ["a", "b", "c"];
    const tasks = names.map((n) => context.df.callActivity("work", n));
    const timer = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60_000));
    const stream = new CompletionStream(context, [...tasks, timer]);
    const order: string[] = [];
    while (order.length < names.length) {
      const task = yield* stream.next();
      if (task === timer) break;
      order.push(names[tasks.indexOf(task)]);
      seen.replaying.push(context.df.isReplaying);
    }
    if (!timer.isCompleted) timer.cancel();
    seen.order = order;
    return order;
  };
}

test("hands back tasks in completion order, one WhenAny scheduled once, isReplaying truthful", async () => {
  const seen: Seen = { order: [], replaying: [] };
  const replay = new Replay(orchestratorRecording(seen) as never, null);
  await replay.start();
  expect(replay.state.actions[0]).toHaveLength(1); // a single WhenAny: 3 activities + the timer
  await replay.episode([replay.completed(2, "C")]);
  expect(replay.state.actions[0]).toHaveLength(1); // later waits add no action
  seen.replaying = [];
  await replay.episode([replay.completed(0, "A"), replay.completed(1, "B")]);
  expect(replay.state.isDone).toBe(true);
  expect(replay.state.output).toEqual(["c", "a", "b"]);
  // In the last episode the first answer is replayed history, the two new ones are not.
  expect(seen.replaying).toEqual([true, false, false]);
  const flat = replay.actions;
  expect(flat.filter((a) => a.functionName === "work")).toHaveLength(3);
  expect(flat.filter((a) => a.actionType === 5).map((a) => a.isCanceled)).toEqual([true]);
});

test("the deadline timer is handed back like any other task", async () => {
  const seen: Seen = { order: [], replaying: [] };
  const replay = new Replay(orchestratorRecording(seen) as never, null);
  await replay.start();
  await replay.episode([replay.completed(1, "B")]);
  await replay.episode([replay.timerFired(3)], 60_000);
  expect(replay.state.isDone).toBe(true);
  expect(replay.state.output).toEqual(["b"]);
});

test("refuses an empty task list", () => {
  expect(() => new CompletionStream({} as df.OrchestrationContext, [])).toThrow("at least one task");
});

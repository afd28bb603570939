/**
 * "Wait for the next of these tasks": .NET's Task.WhenAny over a set of tasks that may grow (retry
 * timers, new attempts), without ever yielding a task twice. durable-functions has no public API for
 * it, and re-yielding a scheduled task inside a new Task.any makes the host schedule it a second time
 * (docs/design.md, traps 1 and 7; durable-js #574).
 *
 * This is the project's one touch of durable-functions internals, pinned to durable-functions 3.5.0
 * (package.json) and covered by test/orchestration through the real replay and the local host's engine.
 *
 * How it works:
 *  - every task added reports its completion to a relay (its `parent`, which the SDK calls when a task
 *    settles) instead of to a Task.any;
 *  - a wait yields a waiter task with a non-numeric id (so it takes no sequence number). When tasks were
 *    added since the last wait, the waiter is yielded inside a public Task.any together with them: that
 *    emits each new task's action exactly once. The waiter's own action is an empty WhenAll, which the
 *    host completes at once (OutOfProcOrchestrationShim: Task.WhenAll of nothing), so on the host every
 *    such Task.any is done as soon as it is invoked and the host's replay walk never blocks on it.
 *  - Why that matters: the host numbers actions as its walk reaches them. If the walk blocked on a
 *    Task.any until its first child finished, a Task.any holding a timer that was later cancelled would
 *    complete at once on every replay (a cancelled timer completes its task), and whatever the host had
 *    numbered in between (e.g. DTFx retry timers) would shift: a non-determinism failure. With every
 *    Task.any done at invocation, the host numbers actions in list order, exactly as the SDK does.
 *  - Without new tasks, the waiter is yielded alone, marked already scheduled: no action at all.
 * Each wait costs O(new tasks), so a gather over N tasks replays in O(N), not O(N^2).
 */
import type * as df from "durable-functions";

// Internal classes of durable-functions 3.5.0 (no typings are published for them).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const internals = require("durable-functions/lib/src/task") as {
  DFTask: new (id: string | number | false, action: unknown) => InternalTask;
  TaskState: { Running: number; Failed: number; Completed: number };
};

interface InternalTask extends df.Task {
  id: string | number | false;
  parent?: { handleCompletion(child: InternalTask, executor?: unknown): void };
  state: number;
  isPlayed: boolean;
  alreadyScheduled: boolean;
  setValue(isError: boolean, value: unknown, executor?: unknown): void;
}

/** The waiter's id: never a sequence number nor an event name the SDK could match in history. */
const WAITER_ID = "completion-stream-waiter";
/** durable-functions' ActionType.WhenAll: with no children the host completes it at once. */
const WHEN_ALL = 12;

export class CompletionStream<T extends df.Task = df.Task> {
  private readonly unscheduled: InternalTask[] = [];
  private readonly settled: InternalTask[] = [];
  private readonly relay = { handleCompletion: (child: InternalTask) => this.onSettled(child) };
  private waiter: InternalTask | undefined;
  private remaining = 0;

  constructor(
    private readonly context: df.OrchestrationContext,
    tasks: readonly T[] = [],
  ) {
    this.add(...tasks);
  }

  /** Adds tasks that were created but never yielded; they are scheduled by the next wait. */
  add(...tasks: T[]): void {
    for (const task of tasks as unknown as InternalTask[]) {
      task.parent = this.relay;
      this.unscheduled.push(task);
      this.remaining++;
    }
  }

  /** How many added tasks have not been handed out by next() yet. */
  get pending(): number {
    return this.remaining;
  }

  /**
   * The next task to settle, in completion order: use as `const task = yield* stream.next()`.
   * Never yields a task that was already yielded.
   */
  *next(): Generator<df.Task, T, unknown> {
    if (this.remaining === 0) throw new Error("CompletionStream: no task left to wait for");
    // A task that settled already is handed out first; new tasks then go out with the next real wait.
    while (this.settled.length === 0) {
      const waiter = new internals.DFTask(WAITER_ID, { actionType: WHEN_ALL, compoundActions: [] });
      this.waiter = waiter;
      if (this.unscheduled.length > 0) {
        const batch = this.unscheduled.splice(0);
        const carrier = this.context.df.Task.any([...batch, waiter]);
        // Task.any made itself their parent: completions go to the relay, which wakes the waiter.
        for (const task of batch) task.parent = this.relay;
        yield carrier;
      } else {
        waiter.alreadyScheduled = true;
        yield waiter;
      }
      this.waiter = undefined;
    }
    this.remaining--;
    return this.settled.shift() as unknown as T;
  }

  private onSettled(task: InternalTask): void {
    this.settled.push(task);
    const waiter = this.waiter;
    if (waiter && waiter.state === internals.TaskState.Running) {
      // isPlayed drives context.df.isReplaying for the code that runs next.
      waiter.isPlayed = task.isPlayed;
      waiter.setValue(false, task);
    }
  }
}

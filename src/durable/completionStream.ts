/**
 * "Wait for the next of these already-scheduled tasks": .NET's Task.WhenAny without scheduling
 * anything again. durable-functions has no public API for it, and re-yielding a scheduled task inside
 * a new Task.any makes the host schedule it a second time (DESIGN.md trap 1, durable-js #574).
 *
 * This is the project's one touch of durable-functions internals, pinned to durable-functions 3.5.0
 * (package.json) and covered by test/orchestration/completionStream.test.ts and orchestrator.test.ts through the real replay:
 *  - the first wait yields a public Task.any over every task: that emits each task's action once;
 *  - afterwards every task reports its completion to a relay (its `parent`, which the SDK calls when a
 *    task settles), and each later wait yields a waiter task that is marked already scheduled, so the
 *    SDK adds no action for it, and that has a non-numeric id, so it takes no sequence number.
 * Each wait costs O(1), so a gather over N tasks replays in O(N), not O(N^2).
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

export class CompletionStream<T extends df.Task = df.Task> {
  private started = false;
  private readonly settled: InternalTask[] = [];
  private waiter: InternalTask | undefined;
  private remaining: number;

  constructor(
    private readonly context: df.OrchestrationContext,
    private readonly tasks: readonly T[],
  ) {
    if (tasks.length === 0) throw new Error("CompletionStream needs at least one task");
    this.remaining = tasks.length;
  }

  /** How many tasks have not been handed out by next() yet. */
  get pending(): number {
    return this.remaining;
  }

  /**
   * The next task to settle, in completion order: use as `const task = yield* stream.next()`.
   * Never yields a task that was already yielded.
   */
  *next(): Generator<df.Task, T, unknown> {
    if (this.remaining === 0) throw new Error("CompletionStream: every task has already been returned");
    if (!this.started) {
      this.started = true;
      const first = (yield this.context.df.Task.any([...this.tasks])) as InternalTask;
      this.attachRelay(first);
      this.remaining--;
      return first as unknown as T;
    }
    if (this.settled.length === 0) {
      this.waiter = new internals.DFTask(WAITER_ID, { actionType: "completion-stream" });
      this.waiter.alreadyScheduled = true;
      yield this.waiter;
      this.waiter = undefined;
    }
    this.remaining--;
    return this.settled.shift() as unknown as T;
  }

  /** From now on, the tasks report to this stream instead of the first Task.any. */
  private attachRelay(first: InternalTask): void {
    const relay = { handleCompletion: (child: InternalTask) => this.onSettled(child) };
    for (const task of this.tasks as unknown as InternalTask[]) {
      if (task === first) continue;
      if (task.state !== internals.TaskState.Running) {
        // Cannot happen with the SDK's one-event-at-a-time replay; kept so no completion is ever lost.
        this.settled.push(task);
      } else {
        task.parent = relay;
      }
    }
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

/**
 * How many attempts a callActivityWithRetry task made: durable-functions' RetryableTask counts them
 * in `attemptNumber` (1-based, incremented on each failure; after the final failure it is one past).
 */
export function attemptsOf(task: df.Task): number {
  const attemptNumber = (task as unknown as { attemptNumber?: number }).attemptNumber;
  if (typeof attemptNumber !== "number") return 1;
  return task.isFaulted ? attemptNumber - 1 : attemptNumber;
}

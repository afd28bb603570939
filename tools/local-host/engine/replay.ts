/**
 * The host side of one orchestration episode: what the Durable extension does with the action list an
 * out-of-process (JavaScript) orchestrator returns. It emulates OutOfProcOrchestrationShim.ProcessAsyncActionsV2
 * running inside DurableTask.Core's TaskOrchestrationExecutor:
 *
 *  - history is processed event by event, in order (DTFx ProcessEvents); ExecutionStarted starts the walk;
 *  - the walk invokes the worker's cumulative actions one after the other and awaits each (a WhenAll waits
 *    for all children like .NET Task.WhenAll, a WhenAny for the first); it stops at a pending action until a
 *    later history event completes it;
 *  - every scheduling call takes the next sequence id (depth first inside WhenAny/WhenAll) and a scheduling
 *    event of the history (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated) must find the same
 *    kind of action with the same name at its EventId, or the orchestration fails as non-deterministic;
 *  - actions the history has not seen yet are the episode's new work; a task the worker emits twice
 *    (a re-yielded task inside a new Task.any/Task.all, durable-js #574) is simply scheduled twice;
 *  - retries follow DTFx's RetryInterceptor (durable timers between attempts, a zero-delay timer after the last);
 *  - the orchestration completes only when the walk has finished and no task is still open
 *    (TaskOrchestrationExecutor's HasOpenTasks check: pending activities, sub-orchestrations, uncancelled timers).
 *
 * Cost is linear in history + actions: one pass, maps keyed by sequence id.
 */
import { EventType, toJsonString } from "./history";
import { unknownFunctionMessage } from "./host-messages";
import { fireAtMs } from "./timer-limit";
import { checkScheduled, NonDeterminismError, type GeneratedAction } from "./nondeterminism";
import type { CreatedTimer } from "./timer-limit";
import type { HistoryEvent } from "./types";

/** durable-functions' ActionType numbers (the host's AsyncActionType). */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  ScheduledSignalEntity: 10,
  WhenAny: 11,
  WhenAll: 12,
} as const;

export interface WorkerRetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export interface WorkerAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  compoundActions?: WorkerAction[];
  fireAt?: string | Date | null;
  isCanceled?: boolean;
  externalEventName?: string;
  retryOptions?: WorkerRetryOptions;
  instanceId?: string;
}

/** Work the episode schedules; ids are the DTFx sequence ids that also go into history. */
export type NewWork =
  | { kind: "activity"; id: number; name: string; input: string | null }
  | { kind: "timer"; id: number; fireAt: string }
  | { kind: "subOrchestration"; id: number; name: string; instanceId: string; input: string | null };

export type ReplayOutcome =
  | { kind: "running" }
  | { kind: "completed"; output: string | null }
  | { kind: "continuedAsNew"; input: string | null }
  | { kind: "failed"; reason: string; details: string };

export interface ReplayInput {
  orchestratorName: string;
  executionId: string;
  /** Past events followed by this episode's new events. */
  history: readonly HistoryEvent[];
  /** The worker's OrchestratorState (or the `.state` of its OrchestrationFailureError); undefined when the invocation failed without one. */
  state?: { isDone?: boolean; actions?: unknown; output?: unknown; error?: string };
  /** When the invocation itself failed without a state: its message. */
  invocationError?: string;
  isKnownActivity(name: string): boolean;
  isKnownOrchestrator(name: string): boolean;
  knownActivities: readonly string[];
  knownOrchestrators: readonly string[];
}

export interface ReplayResult {
  outcome: ReplayOutcome;
  newWork: NewWork[];
  warnings: string[];
  /** The next free sequence id (DTFx's idCounter), used for ExecutionCompleted/ContinueAsNew EventIds. */
  nextId: number;
  /** The CreateTimer actions among the new work, with the fireAt the worker sent (timer-limit.ts checks them). */
  createdTimers: CreatedTimer[];
}

/** An exception the shim throws while invoking an action (unknown function, unsupported API): fails the orchestration. */
class ShimError extends Error {}

/** A .NET Task stand-in: completes once, then tells whoever awaits it. */
class HostTask {
  done = false;
  private waiters: (() => void)[] = [];
  complete(): void {
    if (this.done) return;
    this.done = true;
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
  onDone(fn: () => void): void {
    if (this.done) fn();
    else this.waiters.push(fn);
  }
}

type Generated = GeneratedAction & { work: NewWork };

/** A task waiting for its completion event (DTFx openTasks). */
interface OpenTask {
  task: HostTask;
  onResult: (ok: boolean) => void;
}

/** A fireAt as an ISO string; "" when it is no date (timer-limit.ts refuses those before they reach history). */
function toIso(fireAt: unknown): string {
  const ms = fireAtMs(fireAt);
  return ms === undefined ? "" : new Date(ms).toISOString();
}

/** DTFx RetryInterceptor.ComputeNextDelay (with the Durable extension's defaults: max interval 6 days, no timeout). */
export function computeRetryDelayMs(options: WorkerRetryOptions, retryCount: number, firstAttemptMs: number, nowMs: number): number {
  const coefficient = options.backoffCoefficient ?? 1;
  const maxInterval = options.maxRetryIntervalInMilliseconds ?? 6 * 24 * 3600 * 1000;
  const timeout = options.retryTimeoutInMilliseconds;
  const expiration = timeout === undefined ? Number.POSITIVE_INFINITY : firstAttemptMs + timeout;
  if (!(nowMs < expiration)) return 0;
  const next = options.firstRetryIntervalInMilliseconds * Math.pow(coefficient, retryCount);
  return next < maxInterval ? next : maxInterval;
}

/**
 * WaitForExternalEvent's bookkeeping (DurableOrchestrationContext): waiting tasks per name as a stack, events
 * that arrived before anyone waited buffered FIFO (counted: the JS worker reads the data from history).
 */
class ExternalEvents {
  private readonly waiters = new Map<string, HostTask[]>();
  private readonly buffered = new Map<string, number>();

  wait(name: string, task: HostTask): void {
    const count = this.buffered.get(name) ?? 0;
    if (count > 0) {
      if (count === 1) this.buffered.delete(name);
      else this.buffered.set(name, count - 1);
      task.complete();
      return;
    }
    const stack = this.waiters.get(name) ?? [];
    stack.push(task);
    this.waiters.set(name, stack);
  }

  raised(name: string): void {
    const stack = this.waiters.get(name);
    const waiter = stack?.pop();
    if (stack && stack.length === 0) this.waiters.delete(name);
    if (waiter) waiter.complete();
    else this.buffered.set(name, (this.buffered.get(name) ?? 0) + 1);
  }
}

export function replayEpisode(input: ReplayInput): ReplayResult {
  return new EpisodeReplay(input).run();
}

/** One replay of the history against the worker's cumulative action list (see the file comment). */
class EpisodeReplay {
  private readonly actions: WorkerAction[];
  private readonly warnings: string[] = [];
  private nextId = 0;
  private now = 0;
  /** Actions generated by the walk and not yet matched by a history scheduling event (DTFx orchestratorActionsMap). */
  private readonly generated = new Map<number, Generated>();
  private readonly openTasks = new Map<number, OpenTask>();
  private readonly events = new ExternalEvents();
  private walkIndex = 0;
  private walkStarted = false;
  private walkDone = false;
  private continueAsNewInput: string | null | undefined;
  /** Each scheduling action object seen, to warn about re-yielded tasks (scheduled again by the host). */
  private readonly seenActionObjects = new Map<WorkerAction, number>();
  /** The fireAt each CreateTimer action sent, by sequence id. */
  private readonly timerActions = new Map<number, unknown>();

  constructor(private readonly input: ReplayInput) {
    this.actions = extractActions(input.state);
  }

  run(): ReplayResult {
    let shimFailure: string | undefined;
    try {
      for (const e of this.input.history) this.processEvent(e);
    } catch (e) {
      if (e instanceof ShimError) {
        // An exception thrown while invoking an action (unknown function, unsupported API) surfaces from the shim.
        shimFailure = e.message;
      } else if (e instanceof NonDeterminismError) {
        return this.result(nonDeterministic(e), []);
      } else {
        throw e;
      }
    }
    this.warnAboutReyieldedTasks();
    return this.result(
      this.outcome(shimFailure),
      [...this.generated.values()].map((g) => g.work),
    );
  }

  private result(outcome: ReplayOutcome, newWork: NewWork[]): ReplayResult {
    const createdTimers = newWork
      .filter((w) => w.kind === "timer" && this.timerActions.has(w.id))
      .map((w) => ({ id: w.id, fireAt: this.timerActions.get(w.id) }));
    return { outcome, newWork, warnings: this.warnings, nextId: this.nextId, createdTimers };
  }

  /** DTFx ProcessEvents: one history event. */
  private processEvent(e: HistoryEvent): void {
    switch (e.EventType) {
      case EventType.OrchestratorStarted:
        this.now = Date.parse(e.Timestamp);
        break;
      case EventType.ExecutionStarted:
        this.startWalk();
        break;
      case EventType.TaskScheduled:
      case EventType.TimerCreated:
      case EventType.SubOrchestrationInstanceCreated:
        checkScheduled(e, this.generated.get(e.EventId));
        this.generated.delete(e.EventId);
        break;
      case EventType.TaskCompleted:
      case EventType.SubOrchestrationInstanceCompleted:
        this.completeOpen(e.TaskScheduledId, true);
        break;
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceFailed:
        this.completeOpen(e.TaskScheduledId, false);
        break;
      case EventType.TimerFired:
        this.completeOpen(e.TimerId, true);
        break;
      case EventType.EventRaised:
        this.events.raised(String(e.Name));
        break;
      default:
        break;
    }
  }

  /** The episode's outcome once every event is processed. */
  private outcome(shimFailure: string | undefined): ReplayOutcome {
    const name = this.input.orchestratorName;
    if (shimFailure !== undefined) {
      const reason = `Orchestrator function '${name}' failed: ${shimFailure}`;
      return { kind: "failed", reason, details: reason };
    }
    if (this.input.state === undefined && this.walkStarted) {
      // The invocation failed and carried no state: the shim fails before replaying any action.
      const msg = this.input.invocationError ?? "The orchestrator function failed.";
      return { kind: "failed", reason: `Orchestrator function '${name}' failed: ${msg}`, details: `Message: ${msg}` };
    }
    if (!this.walkDone || this.openTasks.size > 0) return { kind: "running" };
    const state = this.input.state ?? {};
    if (typeof state.error === "string" && state.error.length > 0) {
      return {
        kind: "failed",
        reason: `Orchestrator function '${name}' failed: ${state.error}`,
        details: `Message: ${state.error}, StackTrace: `,
      };
    }
    if (!state.isDone) return { kind: "running" };
    if (this.continueAsNewInput !== undefined) return { kind: "continuedAsNew", input: this.continueAsNewInput };
    return { kind: "completed", output: toJsonString(state.output) };
  }

  private warnAboutReyieldedTasks(): void {
    for (const [action, count] of this.seenActionObjects) {
      if (count <= 1) continue;
      this.warnings.push(
        `The orchestrator '${this.input.orchestratorName}' yielded the same ${describeAction(action)} ${count} times ` +
          `(a task re-yielded inside a new Task.any/Task.all): the host schedules it again each time ` +
          `(durable-functions issue #574), so it now runs ${count} times and later completions may be matched to the wrong tasks.`,
      );
    }
  }

  // ---- the walk: the shim's foreach-await loop over the action list

  private startWalk(): void {
    this.walkStarted = true;
    if (this.input.state === undefined) return; // the invocation failed before returning any state
    this.advanceWalk();
  }

  /** Runs until an action is pending or the list is exhausted. */
  private advanceWalk(): void {
    while (this.walkIndex < this.actions.length) {
      const task = this.invoke(this.actions[this.walkIndex++]);
      if (!task.done) {
        task.onDone(() => this.advanceWalk());
        return;
      }
    }
    this.walkDone = true;
  }

  private completeOpen(id: unknown, ok: boolean): void {
    if (typeof id !== "number") return;
    const open = this.openTasks.get(id);
    if (!open) return; // DTFx logs and ignores completions it has no open task for
    this.openTasks.delete(id);
    open.onResult(ok);
  }

  // ---- invoking one action (the shim's InvokeAPIFromAction)

  private invoke(action: WorkerAction): HostTask {
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry:
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry:
        return this.invokeCall(action);
      case ActionType.ContinueAsNew:
        this.continueAsNewInput = toJsonString(action.input);
        return completedTask();
      case ActionType.CreateTimer: {
        this.noteSchedulingAction(action);
        const task = new HostTask();
        const id = this.createTimer(toIso(action.fireAt), action.isCanceled === true, task);
        this.timerActions.set(id, action.fireAt);
        return task;
      }
      case ActionType.WaitForExternalEvent: {
        const task = new HostTask();
        this.events.wait(action.externalEventName ?? "", task);
        return task;
      }
      case ActionType.WhenAll:
      case ActionType.WhenAny:
        return this.invokeCompound(action);
      default:
        throw unsupportedAction(action);
    }
  }

  /** CallActivity / CallSubOrchestrator, with or without retry. */
  private invokeCall(action: WorkerAction): HostTask {
    this.noteSchedulingAction(action);
    const isActivity = action.actionType === ActionType.CallActivity || action.actionType === ActionType.CallActivityWithRetry;
    const schedule = (task: HostTask, onResult: (ok: boolean) => void) =>
      isActivity
        ? this.scheduleActivity(action.functionName ?? "", action.input, task, onResult)
        : this.scheduleSubOrchestration(action.functionName ?? "", action.instanceId, action.input, task, onResult);
    if (action.actionType === ActionType.CallActivityWithRetry || action.actionType === ActionType.CallSubOrchestratorWithRetry) {
      return this.withRetry(requireRetryOptions(action), schedule);
    }
    const task = new HostTask();
    schedule(task, () => task.complete());
    return task;
  }

  /** Task.WhenAll waits for every child, Task.WhenAny for the first. */
  private invokeCompound(action: WorkerAction): HostTask {
    const task = new HostTask();
    const children = (action.compoundActions ?? []).map((child) => this.invoke(child));
    const isAll = action.actionType === ActionType.WhenAll;
    if (!isAll && children.length === 0) throw new ShimError("The tasks argument contains no tasks.");
    let remaining = children.length;
    if (isAll && remaining === 0) task.complete();
    for (const child of children) {
      child.onDone(() => {
        remaining--;
        if (!isAll || remaining === 0) task.complete();
      });
    }
    return task;
  }

  private noteSchedulingAction(action: WorkerAction): void {
    this.seenActionObjects.set(action, (this.seenActionObjects.get(action) ?? 0) + 1);
  }

  // ---- scheduling: each call takes the next sequence id

  private scheduleActivity(name: string, rawInput: unknown, task: HostTask, onResult: (ok: boolean) => void): void {
    if (!this.input.isKnownActivity(name)) throw unknownFunction(name, "activity", this.input.knownActivities);
    const id = this.nextId++;
    // The shim's CallActivityAsync goes through DTFx ScheduleTask(params object[]): the input is wrapped in an array.
    const serialized = JSON.stringify([rawInput === undefined ? null : rawInput]);
    this.generated.set(id, { type: "TaskScheduled", name, work: { kind: "activity", id, name, input: serialized } });
    this.openTasks.set(id, { task, onResult });
  }

  private scheduleSubOrchestration(
    name: string,
    instanceId: string | undefined,
    rawInput: unknown,
    task: HostTask,
    onResult: (ok: boolean) => void,
  ): void {
    if (!this.input.isKnownOrchestrator(name)) throw unknownFunction(name, "orchestrator", this.input.knownOrchestrators);
    const id = this.nextId++;
    // DTFx CreateSubOrchestrationInstanceCore: a missing instance id becomes "<executionId>:<sequence id>".
    const childId = instanceId && instanceId.trim() !== "" ? instanceId : `${this.input.executionId}:${id}`;
    const work: NewWork = { kind: "subOrchestration", id, name, instanceId: childId, input: toJsonString(rawInput) };
    this.generated.set(id, { type: "SubOrchestrationInstanceCreated", name, work });
    this.openTasks.set(id, { task, onResult });
  }

  private createTimer(fireAtIso: string, canceled: boolean, task: HostTask): number {
    const id = this.nextId++;
    this.generated.set(id, { type: "TimerCreated", work: { kind: "timer", id, fireAt: fireAtIso } });
    if (canceled) {
      // The shim cancels the token right after CreateTimer: the TimerCreated action stays, the task is done.
      task.complete();
    } else {
      this.openTasks.set(id, { task, onResult: () => task.complete() });
    }
    return id;
  }

  /** RetryInterceptor.Invoke as a state machine driven by completion events. */
  private withRetry(options: WorkerRetryOptions, attempt: (task: HostTask, onResult: (ok: boolean) => void) => void): HostTask {
    const outer = new HostTask();
    const firstAttempt = this.now;
    let retryCount = 0;
    const runAttempt = () => {
      if (retryCount >= options.maxNumberOfAttempts) return outer.complete();
      attempt(new HostTask(), (ok) => {
        if (ok) return outer.complete();
        const timer = new HostTask();
        if (retryCount + 1 === options.maxNumberOfAttempts) {
          // DTFx keeps a back-compat "dummy" timer that fires at once after the last failed attempt.
          this.createTimer(new Date(this.now).toISOString(), false, timer);
          return timer.onDone(() => outer.complete());
        }
        const delay = computeRetryDelayMs(options, retryCount, firstAttempt, this.now);
        if (delay === 0) return outer.complete();
        this.createTimer(new Date(this.now + delay).toISOString(), false, timer);
        timer.onDone(() => {
          retryCount++;
          runAttempt();
        });
      });
    };
    runAttempt();
    return outer;
  }
}

function completedTask(): HostTask {
  const task = new HostTask();
  task.complete();
  return task;
}

function nonDeterministic(e: NonDeterminismError): ReplayOutcome {
  const reason = `Non-Deterministic workflow detected: ${e.message}`;
  return {
    kind: "failed",
    reason,
    details: `Unhandled exception while executing orchestration: DurableTask.Core.Exceptions.NonDeterministicOrchestrationException: ${reason}`,
  };
}

function unsupportedAction(action: WorkerAction): ShimError {
  switch (action.actionType) {
    case ActionType.CallEntity:
    case ActionType.SignalEntity:
    case ActionType.ScheduledSignalEntity:
      return new ShimError("Durable entities are not supported by the local host.");
    case ActionType.CallHttp:
      return new ShimError("callHttp (durable HTTP) is not supported by the local host.");
    default:
      return new ShimError(`Received an unexpected action type from the out-of-proc function: '$${String(action.actionType)}'.`);
  }
}

function requireRetryOptions(action: WorkerAction): WorkerRetryOptions {
  const r = action.retryOptions;
  if (!r || typeof r.firstRetryIntervalInMilliseconds !== "number" || typeof r.maxNumberOfAttempts !== "number") {
    throw new ShimError("Invalid JSON. Must contain field firstRetryIntervalInMilliseconds and maxNumberOfAttempts");
  }
  return r;
}

function describeAction(action: WorkerAction): string {
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
      return `activity call '${action.functionName}'`;
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return `sub-orchestrator call '${action.functionName}'`;
    case ActionType.CreateTimer:
      return `timer (fireAt ${toIso(action.fireAt)})`;
    default:
      return `action of type ${action.actionType}`;
  }
}

/** ReplayOOProcOrchestration for schema V2/V3: one flat list nested in a one-element outer array. */
function extractActions(state: ReplayInput["state"]): WorkerAction[] {
  if (!state) return [];
  const actions = state.actions;
  if (!Array.isArray(actions) || actions.length === 0) return [];
  if (actions.length !== 1) {
    throw new Error(`With OOProc schema V3, expected actions array to be of length 1 in outer layer but got size: ${actions.length}`);
  }
  const inner = actions[0];
  return Array.isArray(inner) ? (inner as WorkerAction[]) : [];
}

/** The host's error for a call to a function that is not registered with that trigger kind. */
function unknownFunction(name: string, kind: "activity" | "orchestrator", known: readonly string[]): ShimError {
  return new ShimError(unknownFunctionMessage(name, kind, known));
}

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
  fireAt?: string | Date;
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
}

class NonDeterminismError extends Error {}
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

type Generated =
  | { type: "TaskScheduled"; name: string; work: NewWork }
  | { type: "TimerCreated"; work: NewWork }
  | { type: "SubOrchestrationInstanceCreated"; name: string; instanceId: string; work: NewWork };

/** DTFx action class names, for the non-determinism messages. */
const actionClassName: Record<Generated["type"], string> = {
  TaskScheduled: "ScheduleTaskOrchestratorAction",
  TimerCreated: "CreateTimerOrchestratorAction",
  SubOrchestrationInstanceCreated: "CreateSubOrchestrationAction",
};

const CHANGED = "Was a change made to the orchestrator code after this instance had already started running?";

function toIso(fireAt: string | Date | undefined): string {
  if (fireAt === undefined) return new Date(0).toISOString();
  return new Date(fireAt).toISOString();
}

/** DTFx RetryInterceptor.ComputeNextDelay (with the Durable extension's defaults: max interval 6 days, no timeout). */
export function computeRetryDelayMs(
  options: WorkerRetryOptions,
  retryCount: number,
  firstAttemptMs: number,
  nowMs: number,
): number {
  const coefficient = options.backoffCoefficient ?? 1;
  const maxInterval = options.maxRetryIntervalInMilliseconds ?? 6 * 24 * 3600 * 1000;
  const timeout = options.retryTimeoutInMilliseconds;
  const expiration = timeout === undefined ? Number.POSITIVE_INFINITY : firstAttemptMs + timeout;
  if (!(nowMs < expiration)) return 0;
  const next = options.firstRetryIntervalInMilliseconds * Math.pow(coefficient, retryCount);
  return next < maxInterval ? next : maxInterval;
}

export function replayEpisode(input: ReplayInput): ReplayResult {
  const actions = extractActions(input.state);
  const warnings: string[] = [];
  let nextId = 0;
  let now = 0;
  /** Actions generated by the walk and not yet matched by a history scheduling event (DTFx orchestratorActionsMap). */
  const generated = new Map<number, Generated>();
  /** Tasks waiting for a completion event, by sequence id (DTFx openTasks). */
  const openTasks = new Map<number, { task: HostTask; onResult: (ok: boolean) => void }>();
  /** WaitForExternalEvent: waiting tasks per name (a stack, as DurableOrchestrationContext) and buffered inputs (FIFO). */
  const eventWaiters = new Map<string, HostTask[]>();
  const bufferedEvents = new Map<string, number>();
  let walkIndex = 0;
  let walkStarted = false;
  let walkDone = false;
  let continueAsNewInput: string | null | undefined;
  let shimFailure: string | undefined;
  /** Each scheduling action object seen, to warn about re-yielded tasks (scheduled again by the host). */
  const seenActionObjects = new Map<WorkerAction, number>();

  const newTaskId = () => nextId++;

  function scheduleActivity(name: string, rawInput: unknown, task: HostTask, onResult: (ok: boolean) => void): void {
    if (!input.isKnownActivity(name)) throw unknownFunction(name, "activity", input.knownActivities);
    const id = newTaskId();
    // The shim's CallActivityAsync goes through DTFx ScheduleTask(params object[]): the input is wrapped in an array.
    const serialized = JSON.stringify([rawInput === undefined ? null : rawInput]);
    generated.set(id, { type: "TaskScheduled", name, work: { kind: "activity", id, name, input: serialized } });
    openTasks.set(id, { task, onResult });
  }

  function scheduleSubOrchestration(
    name: string,
    instanceId: string | undefined,
    rawInput: unknown,
    task: HostTask,
    onResult: (ok: boolean) => void,
  ): void {
    if (!input.isKnownOrchestrator(name)) throw unknownFunction(name, "orchestrator", input.knownOrchestrators);
    const id = newTaskId();
    // DTFx CreateSubOrchestrationInstanceCore: a missing instance id becomes "<executionId>:<sequence id>".
    const childId = instanceId && instanceId.trim() !== "" ? instanceId : `${input.executionId}:${id}`;
    const serialized = toJsonString(rawInput);
    generated.set(id, {
      type: "SubOrchestrationInstanceCreated",
      name,
      instanceId: childId,
      work: { kind: "subOrchestration", id, name, instanceId: childId, input: serialized },
    });
    openTasks.set(id, { task, onResult });
  }

  function createTimer(fireAtIso: string, canceled: boolean, task: HostTask): void {
    const id = newTaskId();
    generated.set(id, { type: "TimerCreated", work: { kind: "timer", id, fireAt: fireAtIso } });
    if (canceled) {
      // The shim cancels the token right after CreateTimer: the TimerCreated action stays, the task is done.
      task.complete();
    } else {
      openTasks.set(id, { task, onResult: () => task.complete() });
    }
  }

  /** RetryInterceptor.Invoke as a state machine driven by completion events. */
  function withRetry(options: WorkerRetryOptions, attempt: (task: HostTask, onResult: (ok: boolean) => void) => void): HostTask {
    const outer = new HostTask();
    const firstAttempt = now;
    let retryCount = 0;
    const maxAttempts = options.maxNumberOfAttempts;
    const runAttempt = () => {
      if (retryCount >= maxAttempts) {
        outer.complete();
        return;
      }
      const inner = new HostTask();
      attempt(inner, (ok) => {
        if (ok) {
          outer.complete();
          return;
        }
        const isLastRetry = retryCount + 1 === maxAttempts;
        const timer = new HostTask();
        if (isLastRetry) {
          // DTFx keeps a back-compat "dummy" timer that fires at once after the last failed attempt.
          createTimer(new Date(now).toISOString(), false, timer);
          timer.onDone(() => outer.complete());
          return;
        }
        const delay = computeRetryDelayMs(options, retryCount, firstAttempt, now);
        if (delay === 0) {
          outer.complete();
          return;
        }
        createTimer(new Date(now + delay).toISOString(), false, timer);
        timer.onDone(() => {
          retryCount++;
          runAttempt();
        });
      });
    };
    runAttempt();
    return outer;
  }

  function noteSchedulingAction(action: WorkerAction): void {
    const count = (seenActionObjects.get(action) ?? 0) + 1;
    seenActionObjects.set(action, count);
  }

  function invoke(action: WorkerAction): HostTask {
    const task = new HostTask();
    switch (action.actionType) {
      case ActionType.CallActivity:
        noteSchedulingAction(action);
        scheduleActivity(action.functionName ?? "", action.input, task, () => task.complete());
        return task;
      case ActionType.CallActivityWithRetry: {
        noteSchedulingAction(action);
        const options = requireRetryOptions(action);
        return withRetry(options, (inner, onResult) =>
          scheduleActivity(action.functionName ?? "", action.input, inner, onResult),
        );
      }
      case ActionType.CallSubOrchestrator:
        noteSchedulingAction(action);
        scheduleSubOrchestration(action.functionName ?? "", action.instanceId, action.input, task, () => task.complete());
        return task;
      case ActionType.CallSubOrchestratorWithRetry: {
        noteSchedulingAction(action);
        const options = requireRetryOptions(action);
        return withRetry(options, (inner, onResult) =>
          scheduleSubOrchestration(action.functionName ?? "", action.instanceId, action.input, inner, onResult),
        );
      }
      case ActionType.ContinueAsNew:
        continueAsNewInput = toJsonString(action.input);
        task.complete();
        return task;
      case ActionType.CreateTimer:
        noteSchedulingAction(action);
        createTimer(toIso(action.fireAt), action.isCanceled === true, task);
        return task;
      case ActionType.WaitForExternalEvent: {
        const name = action.externalEventName ?? "";
        const buffered = bufferedEvents.get(name) ?? 0;
        if (buffered > 0) {
          if (buffered === 1) bufferedEvents.delete(name);
          else bufferedEvents.set(name, buffered - 1);
          task.complete();
        } else {
          const stack = eventWaiters.get(name) ?? [];
          stack.push(task);
          eventWaiters.set(name, stack);
        }
        return task;
      }
      case ActionType.WhenAll:
      case ActionType.WhenAny: {
        const children = (action.compoundActions ?? []).map((child) => invoke(child));
        const isAll = action.actionType === ActionType.WhenAll;
        if (!isAll && children.length === 0) {
          throw new ShimError("The tasks argument contains no tasks.");
        }
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
      case ActionType.CallEntity:
      case ActionType.SignalEntity:
      case ActionType.ScheduledSignalEntity:
        throw new ShimError("Durable entities are not supported by the local host.");
      case ActionType.CallHttp:
        throw new ShimError("callHttp (durable HTTP) is not supported by the local host.");
      default:
        throw new ShimError(
          `Received an unexpected action type from the out-of-proc function: '$${String(action.actionType)}'.`,
        );
    }
  }

  /** The shim's foreach-await loop: runs until an action is pending or the list is exhausted. */
  function advanceWalk(): void {
    while (walkIndex < actions.length) {
      const task = invoke(actions[walkIndex++]);
      if (!task.done) {
        task.onDone(advanceWalk);
        return;
      }
    }
    walkDone = true;
  }

  function startWalk(): void {
    walkStarted = true;
    if (input.state === undefined) return; // the invocation failed before returning any state
    advanceWalk();
  }

  function completeOpen(id: unknown, ok: boolean): void {
    if (typeof id !== "number") return;
    const open = openTasks.get(id);
    if (!open) return; // DTFx logs and ignores completions it has no open task for
    openTasks.delete(id);
    open.onResult(ok);
  }

  function matchScheduled(e: HistoryEvent): void {
    const id = e.EventId;
    const g = generated.get(id);
    if (e.EventType === EventType.TaskScheduled) {
      if (!g) {
        throw new NonDeterminismError(
          `A previous execution of this orchestration scheduled an activity task with sequence ID ${id} and name ` +
            `'${String(e.Name)}' (version ''), but the current replay execution hasn't (yet?) scheduled this task. ${CHANGED}`,
        );
      }
      if (g.type !== "TaskScheduled") {
        throw new NonDeterminismError(
          `A previous execution of this orchestration scheduled an activity task with sequence number ${id} named ` +
            `'${String(e.Name)}', but the current orchestration replay instead produced a ${actionClassName[g.type]} action ` +
            `with this sequence number. ${CHANGED}`,
        );
      }
      if (g.name.toLowerCase() !== String(e.Name).toLowerCase()) {
        throw new NonDeterminismError(
          `A previous execution of this orchestration scheduled an activity task with sequence number ${id} named ` +
            `'${String(e.Name)}', but the current orchestration replay instead scheduled an activity task named ` +
            `'${g.name}' with this sequence number.  ${CHANGED}`,
        );
      }
    } else if (e.EventType === EventType.TimerCreated) {
      if (!g) {
        throw new NonDeterminismError(
          `A previous execution of this orchestration scheduled a timer task with sequence number ${id} but the current ` +
            `replay execution hasn't (yet?) scheduled this task. ${CHANGED}`,
        );
      }
      if (g.type !== "TimerCreated") {
        throw new NonDeterminismError(
          `A previous execution of this orchestration scheduled a timer task with sequence number ${id} named but the ` +
            `current orchestration replay instead produced a ${actionClassName[g.type]} action with this sequence number. ${CHANGED}`,
        );
      }
    } else {
      const what =
        `A previous execution of this orchestration scheduled a sub-orchestration task with sequence ID ${id} and name ` +
        `'${String(e.Name)}' (version '', instance ID '${String(e.InstanceId)}')`;
      if (!g) {
        throw new NonDeterminismError(`${what}, but the current replay execution hasn't (yet?) scheduled this task. ${CHANGED}`);
      }
      if (g.type !== "SubOrchestrationInstanceCreated") {
        throw new NonDeterminismError(
          `${what}, but the current orchestration replay instead produced a ${actionClassName[g.type]} action at this sequence number. ${CHANGED}`,
        );
      }
      if (g.name.toLowerCase() !== String(e.Name).toLowerCase()) {
        throw new NonDeterminismError(
          `${what}, but the current orchestration replay instead scheduled a sub-orchestration task with name ${g.name} at this sequence number. ${CHANGED}`,
        );
      }
    }
    generated.delete(id);
  }

  try {
    for (const e of input.history) {
      switch (e.EventType) {
        case EventType.OrchestratorStarted:
          now = Date.parse(e.Timestamp);
          break;
        case EventType.ExecutionStarted:
          startWalk();
          break;
        case EventType.TaskScheduled:
        case EventType.TimerCreated:
        case EventType.SubOrchestrationInstanceCreated:
          matchScheduled(e);
          break;
        case EventType.TaskCompleted:
        case EventType.SubOrchestrationInstanceCompleted:
          completeOpen(e.TaskScheduledId, true);
          break;
        case EventType.TaskFailed:
        case EventType.SubOrchestrationInstanceFailed:
          completeOpen(e.TaskScheduledId, false);
          break;
        case EventType.TimerFired:
          completeOpen(e.TimerId, true);
          break;
        case EventType.EventRaised: {
          const name = String(e.Name);
          const stack = eventWaiters.get(name);
          const waiter = stack?.pop();
          if (stack && stack.length === 0) eventWaiters.delete(name);
          if (waiter) waiter.complete();
          else bufferedEvents.set(name, (bufferedEvents.get(name) ?? 0) + 1);
          break;
        }
        default:
          break;
      }
    }
  } catch (e) {
    if (e instanceof ShimError) {
      // An exception thrown while invoking an action (unknown function, unsupported API) surfaces from the shim.
      shimFailure = e.message;
    } else if (e instanceof NonDeterminismError) {
      const reason = `Non-Deterministic workflow detected: ${e.message}`;
      return {
        outcome: {
          kind: "failed",
          reason,
          details: `Unhandled exception while executing orchestration: DurableTask.Core.Exceptions.NonDeterministicOrchestrationException: ${reason}`,
        },
        newWork: [],
        warnings,
        nextId,
      };
    } else {
      throw e;
    }
  }

  for (const [action, count] of seenActionObjects) {
    if (count > 1) {
      warnings.push(
        `The orchestrator '${input.orchestratorName}' yielded the same ${describeAction(action)} ${count} times ` +
          `(a task re-yielded inside a new Task.any/Task.all): the host schedules it again each time ` +
          `(durable-functions issue #574), so it now runs ${count} times and later completions may be matched to the wrong tasks.`,
      );
    }
  }

  const newWork = [...generated.values()].map((g) => g.work);
  const name = input.orchestratorName;

  if (shimFailure !== undefined) {
    const reason = `Orchestrator function '${name}' failed: ${shimFailure}`;
    return { outcome: { kind: "failed", reason, details: reason }, newWork, warnings, nextId };
  }
  if (input.state === undefined && walkStarted) {
    // The invocation failed and carried no state: the shim fails before replaying any action.
    const msg = input.invocationError ?? "The orchestrator function failed.";
    const reason = `Orchestrator function '${name}' failed: ${msg}`;
    return { outcome: { kind: "failed", reason, details: `Message: ${msg}` }, newWork, warnings, nextId };
  }
  if (!walkDone || openTasks.size > 0) {
    return { outcome: { kind: "running" }, newWork, warnings, nextId };
  }
  const state = input.state ?? {};
  if (typeof state.error === "string" && state.error.length > 0) {
    return {
      outcome: {
        kind: "failed",
        reason: `Orchestrator function '${name}' failed: ${state.error}`,
        details: `Message: ${state.error}, StackTrace: `,
      },
      newWork,
      warnings,
      nextId,
    };
  }
  if (state.isDone) {
    if (continueAsNewInput !== undefined) {
      return { outcome: { kind: "continuedAsNew", input: continueAsNewInput }, newWork, warnings, nextId };
    }
    return { outcome: { kind: "completed", output: toJsonString(state.output) }, newWork, warnings, nextId };
  }
  return { outcome: { kind: "running" }, newWork, warnings, nextId };
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
    throw new Error(
      `With OOProc schema V3, expected actions array to be of length 1 in outer layer but got size: ${actions.length}`,
    );
  }
  const inner = actions[0];
  return Array.isArray(inner) ? (inner as WorkerAction[]) : [];
}

/** The host's error for a call to a function that is not registered with that trigger kind. */
function unknownFunction(name: string, kind: "activity" | "orchestrator", known: readonly string[]): ShimError {
  return new ShimError(unknownFunctionMessage(name, kind, known));
}

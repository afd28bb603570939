/**
 * Drives an orchestrator through durable-functions' real replay executor, episode by episode, with
 * histories shaped as the host sends them. The test plays the host: it appends the events of each
 * episode (completions, timer firings, raised events) and this driver adds the scheduling events for
 * the actions the orchestrator emitted, numbering them in yield order (depth first), as
 * OutOfProcOrchestrationShim does. Actions are audited on the cumulative list the host receives.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Orchestrator } = require("durable-functions/lib/src/orchestrations/Orchestrator") as {
  Orchestrator: new (fn: (context: unknown) => Generator) => { handle(trigger: unknown, context: unknown): Promise<unknown> };
};

// Host-shaped history: the same definitions the local host's engine uses.
export { EventType } from "../../tools/local-host/engine/history";
export type { HistoryEvent } from "../../tools/local-host/engine/types";
import { EventType } from "../../tools/local-host/engine/history";
import type { HistoryEvent } from "../../tools/local-host/engine/types";

export interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  instanceId?: string;
  compoundActions?: Action[];
}

export interface EpisodeState {
  isDone: boolean;
  actions: Action[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

const ActionType = { CallActivity: 0, CallActivityWithRetry: 1, CallSubOrchestrator: 2, CallSubOrchestratorWithRetry: 3, CreateTimer: 5, WaitForExternalEvent: 6, WhenAny: 11, WhenAll: 12 };

/** The cumulative actions flattened depth first, compound actions expanded. */
export function flatten(actions: Action[]): Action[] {
  const out: Action[] = [];
  for (const action of actions) {
    if (action.compoundActions) out.push(...flatten(action.compoundActions));
    else out.push(action);
  }
  return out;
}

/** Actions that take a sequence number on the host (external event waits do not). */
function isScheduling(action: Action): boolean {
  return action.actionType !== ActionType.WaitForExternalEvent;
}

export class Replay {
  readonly history: HistoryEvent[] = [];
  /** The host's next sequence id, and how many worker actions it has scheduled so far. */
  private nextId = 0;
  private workerScheduled = 0;
  /** The state the last episode returned. */
  state!: EpisodeState;
  now: Date;

  constructor(
    private readonly orchestrator: (context: never) => Generator,
    private readonly input: unknown,
    readonly instanceId = "test-instance",
    start = new Date("2026-11-22T10:00:00.000Z"),
  ) {
    this.now = start;
  }

  /** First episode: ExecutionStarted. */
  async start(): Promise<EpisodeState> {
    return this.episode([{ EventType: EventType.ExecutionStarted, EventId: -1, IsPlayed: false, Timestamp: this.now.toISOString(), Name: "orchestrator", Input: JSON.stringify(this.input) }]);
  }

  /** One episode: the given new events after an OrchestratorStarted at `now`. */
  async episode(newEvents: HistoryEvent[], advanceMs = 0): Promise<EpisodeState> {
    this.now = new Date(this.now.getTime() + advanceMs);
    for (const e of this.history) e.IsPlayed = true;
    this.history.push({ EventType: EventType.OrchestratorStarted, EventId: -1, IsPlayed: false, Timestamp: this.now.toISOString() }, ...newEvents);
    const trigger = { history: this.history, input: this.input, instanceId: this.instanceId, isReplaying: false, upperSchemaVersion: 2, upperSchemaVersionNew: 2,
      // What the host sends with schema V3 (Azure Storage's values; DTS has no shorter limit).
      maximumShortTimerDuration: "6.00:00:00", longRunningTimerIntervalDuration: "3.00:00:00" };
    let raw: unknown;
    try {
      raw = await new Orchestrator(this.orchestrator as never).handle(trigger, {});
    } catch (error) {
      raw = (error as { state?: unknown }).state ?? { isDone: false, actions: [[]], error: String(error) };
    }
    this.state = JSON.parse(JSON.stringify(raw)) as EpisodeState;
    this.scheduleNewActions();
    this.history.push({ EventType: EventType.OrchestratorCompleted, EventId: -1, IsPlayed: false, Timestamp: this.now.toISOString() });
    return this.state;
  }

  /** Every action of the cumulative list, flattened. */
  get actions(): Action[] {
    return flatten(this.state.actions[0] ?? []);
  }

  /** Sequence id of the n-th scheduled action with this function name. */
  idOf(functionName: string, nth = 0): number {
    const ids = this.scheduledEvents().filter((e) => e.Name === functionName).map((e) => e.EventId);
    if (ids[nth] === undefined) throw new Error(`no ${functionName} #${nth} scheduled`);
    return ids[nth];
  }

  timerIds(): number[] {
    return this.history.filter((e) => e.EventType === EventType.TimerCreated).map((e) => e.EventId);
  }

  scheduledEvents(): HistoryEvent[] {
    return this.history.filter((e) => e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated);
  }

  completed(taskScheduledId: number, result: unknown): HistoryEvent {
    return { EventType: EventType.TaskCompleted, EventId: -1, IsPlayed: false, Timestamp: this.now.toISOString(), TaskScheduledId: taskScheduledId, Result: JSON.stringify(result) };
  }

  failed(taskScheduledId: number, message: string): HistoryEvent {
    return {
      EventType: EventType.TaskFailed,
      EventId: -1,
      IsPlayed: false,
      Timestamp: this.now.toISOString(),
      TaskScheduledId: taskScheduledId,
      Reason: `Activity function 'callRecipient' failed: RecipientError: ${message}`,
      Details: JSON.stringify({ message, stack: `RecipientError: ${message}\n    at deliver` }),
    };
  }

  timerFired(timerId: number): HistoryEvent {
    const created = this.history.find((e) => e.EventType === EventType.TimerCreated && e.EventId === timerId);
    return { EventType: EventType.TimerFired, EventId: -1, IsPlayed: false, Timestamp: this.now.toISOString(), TimerId: timerId, FireAt: created?.FireAt };
  }

  subCompleted(taskScheduledId: number, result: unknown): HistoryEvent {
    return { EventType: EventType.SubOrchestrationInstanceCompleted, EventId: -1, IsPlayed: false, Timestamp: this.now.toISOString(), TaskScheduledId: taskScheduledId, Result: JSON.stringify(result) };
  }

  eventRaised(name: string, input: unknown): HistoryEvent {
    return { EventType: EventType.EventRaised, EventId: -1, IsPlayed: false, Timestamp: this.now.toISOString(), Name: name, Input: JSON.stringify(input) };
  }

  /**
   * What the host schedules on its own for callActivityWithRetry after a failed attempt: the retry
   * timer, then (after it fires) the next attempt. Each takes the next sequence id, no worker action.
   */
  hostTimer(fireAt: Date): HistoryEvent {
    return { EventType: EventType.TimerCreated, EventId: this.nextId++, IsPlayed: false, Timestamp: this.now.toISOString(), FireAt: fireAt.toISOString() };
  }

  hostScheduled(functionName: string, input: unknown): HistoryEvent {
    return { EventType: EventType.TaskScheduled, EventId: this.nextId++, IsPlayed: false, Timestamp: this.now.toISOString(), Name: functionName, Input: JSON.stringify(input) };
  }

  private scheduleNewActions(): void {
    const scheduling = this.actions.filter(isScheduling);
    for (; this.workerScheduled < scheduling.length; this.workerScheduled++) {
      const action = scheduling[this.workerScheduled];
      const base = { EventId: this.nextId++, IsPlayed: false, Timestamp: this.now.toISOString() };
      switch (action.actionType) {
        case ActionType.CallActivity:
        case ActionType.CallActivityWithRetry:
          this.history.push({ ...base, EventType: EventType.TaskScheduled, Name: action.functionName, Input: JSON.stringify(action.input) });
          break;
        case ActionType.CallSubOrchestrator:
        case ActionType.CallSubOrchestratorWithRetry:
          this.history.push({ ...base, EventType: EventType.SubOrchestrationInstanceCreated, Name: action.functionName, InstanceId: action.instanceId, Input: JSON.stringify(action.input) });
          break;
        case ActionType.CreateTimer:
          this.history.push({ ...base, EventType: EventType.TimerCreated, FireAt: action.fireAt });
          break;
        default:
          throw new Error(`the test host does not schedule action type ${action.actionType}`);
      }
    }
  }
}

/**
 * The runtime state of one episode (durabletask-go's OrchestrationRuntimeState): the instance's history (old
 * events) plus this episode's new events, taken from its mailbox; and how the episode's outcome becomes history
 * events and the one log record that commits them.
 */
import { randomUUID } from "node:crypto";
import { EventType, ev, OrchestrationStatus } from "./history";
import { isTerminal } from "./host-messages";
import { refusalReason } from "./payload-limit";
import type { NewWork, ReplayOutcome } from "./replay";
import type { InstanceData, LogRecord, MailboxEntry } from "./store";
import type { HistoryEvent, RuntimeStatus } from "./types";

export type EpisodeRecord = Extract<LogRecord, { t: "episode" }>;

export function newExecutionId(): string {
  return randomUUID().replace(/-/g, "");
}

/** An instance with messages an episode can process now (a suspended one waits for resume or terminate). */
export function hasRunnableMessages(inst: InstanceData): boolean {
  if (inst.mailbox.length === 0 || isTerminal(inst.status)) return false;
  if (inst.status !== "Suspended") return true;
  return inst.mailbox.some((m) => m.event.EventType === EventType.ExecutionResumed || m.event.EventType === EventType.ExecutionTerminated);
}

function lastOrchestratorStarted(history: readonly HistoryEvent[]): number {
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i].EventType === EventType.OrchestratorStarted) return Date.parse(history[i].Timestamp);
  }
  return 0;
}

export class RuntimeState {
  /** The episode's time: never behind the previous OrchestratorStarted. */
  readonly now: number;
  /** The mailbox entries this episode saw (all of them, consumed or deferred). */
  readonly batch: MailboxEntry[];
  /** Mailbox sequence numbers this episode consumes. */
  readonly consumed: number[] = [];
  /** OrchestratorStarted, the consumed messages, then what the episode adds. */
  readonly newEvents: HistoryEvent[];
  suspended: boolean;
  /** A terminate (or a refused payload) in the batch: the execution ends without running the orchestrator. */
  terminatedBy?: HistoryEvent;
  /** Messages the orchestrator has to see (anything but suspend/resume bookkeeping). */
  hasWork = false;
  private deferred: MailboxEntry[] = [];

  constructor(
    readonly inst: InstanceData,
    clockNow: number,
  ) {
    this.now = Math.max(clockNow, lastOrchestratorStarted(inst.history));
    this.batch = inst.mailbox.slice();
    this.newEvents = [ev.orchestratorStarted(this.now)];
    this.suspended = inst.status === "Suspended";
    for (const m of this.batch) if (!this.take(m)) break;
  }

  /** Takes one message into the episode; false stops the batch (terminated). */
  private take(m: MailboxEntry): boolean {
    const type = m.event.EventType;
    if (type === EventType.ExecutionTerminated || refusalReason(m.event) !== undefined) {
      this.flushDeferred(false);
      this.consume(m);
      this.terminatedBy = m.event;
      return false;
    }
    if (type === EventType.ExecutionSuspended) {
      this.consume(m);
      this.suspended = true;
    } else if (type === EventType.ExecutionResumed) {
      this.consume(m);
      if (this.suspended) {
        this.suspended = false;
        this.flushDeferred(true);
      }
    } else if (this.suspended) {
      this.deferred.push(m);
    } else {
      this.consume(m);
      this.hasWork = true;
    }
    return true;
  }

  private consume(m: MailboxEntry): void {
    this.consumed.push(m.seq);
    this.newEvents.push(m.event);
  }

  private flushDeferred(isWork: boolean): void {
    for (const d of this.deferred) this.consume(d);
    if (isWork && this.deferred.length > 0) this.hasWork = true;
    this.deferred = [];
  }

  /** The trigger payload's history: past events played, this episode's new ones not. Fresh copies. */
  triggerHistory(): HistoryEvent[] {
    const past = this.inst.history;
    const out: HistoryEvent[] = new Array(past.length + this.newEvents.length);
    for (let i = 0; i < past.length; i++) out[i] = { ...past[i], IsPlayed: true };
    for (let i = 0; i < this.newEvents.length; i++) out[past.length + i] = { ...this.newEvents[i], IsPlayed: false };
    return out;
  }

  /** Terminate (or a refused payload: Failed) completes the execution without running the orchestrator. */
  terminationRecord(): EpisodeRecord {
    const refused = refusalReason(this.terminatedBy!);
    const reason = refused ?? (this.terminatedBy!.Input as string | null) ?? null;
    const status: RuntimeStatus = refused !== undefined ? "Failed" : "Terminated";
    this.newEvents.push(ev.executionCompleted(this.now, -1, OrchestrationStatus[status], reason, refused));
    this.newEvents.push(ev.orchestratorCompleted(this.now));
    return this.record(
      this.batch.map((m) => m.seq),
      status,
      reason,
      this.inst.customStatus,
    );
  }

  /** Only suspend/resume bookkeeping: no orchestrator call. */
  idleRecord(): EpisodeRecord {
    this.newEvents.push(ev.orchestratorCompleted(this.now));
    const status: RuntimeStatus = this.suspended ? "Suspended" : this.inst.status === "Suspended" ? "Running" : this.inst.status;
    return this.record(this.consumed, status, this.inst.output, this.inst.customStatus);
  }

  /** The episode's new work and outcome as history events, and the record that commits them. */
  outcomeRecord(newWork: readonly NewWork[], outcome: ReplayOutcome, nextId: number, customStatus: string | null): EpisodeRecord {
    for (const work of newWork) this.newEvents.push(scheduleEvent(this.now, work));
    let status: RuntimeStatus = this.suspended ? "Suspended" : "Running";
    let output: string | null = null;
    let continueAsNew: EpisodeRecord["continueAsNew"];
    if (outcome.kind === "completed") {
      status = "Completed";
      output = outcome.output;
      this.newEvents.push(ev.executionCompleted(this.now, nextId, OrchestrationStatus.Completed, outcome.output));
    } else if (outcome.kind === "failed") {
      status = "Failed";
      output = outcome.reason;
      this.newEvents.push(ev.executionCompleted(this.now, nextId, OrchestrationStatus.Failed, outcome.reason, outcome.details));
    } else if (outcome.kind === "continuedAsNew") {
      status = "ContinuedAsNew";
      this.newEvents.push(ev.continueAsNew(this.now, nextId, outcome.input));
      continueAsNew = this.nextExecution(outcome.input);
    }
    this.newEvents.push(ev.orchestratorCompleted(this.now));
    return { ...this.record(this.consumed, status, output, customStatus), continueAsNew };
  }

  private nextExecution(input: string | null): NonNullable<EpisodeRecord["continueAsNew"]> {
    const executionId = newExecutionId();
    const { name, instanceId, parent } = this.inst;
    return {
      executionId,
      input,
      startEvent: ev.executionStarted(this.now, { name, input, instanceId, executionId, parent: parent ?? undefined }),
    };
  }

  private record(consumed: number[], status: RuntimeStatus, output: string | null, customStatus: string | null): EpisodeRecord {
    return { t: "episode", consumed, events: this.newEvents, status, output, customStatus, at: this.now };
  }
}

function scheduleEvent(now: number, work: NewWork): HistoryEvent {
  if (work.kind === "activity") return ev.taskScheduled(now, work.id, work.name, work.input);
  if (work.kind === "timer") return ev.timerCreated(now, work.id, work.fireAt);
  return ev.subOrchestrationCreated(now, work.id, work.name, work.instanceId, work.input);
}

/**
 * The task hub (durabletask-go's backend + worker): the instance table over the Backend, and the worker loop: per
 * instance a mailbox of new events; one episode at a time per instance (messages
 * arriving meanwhile are batched into the next one); up to maxConcurrentOrchestrations episodes and
 * maxConcurrentActivities activities at once; durable timers on the injected clock.
 *
 * Every episode is logged and fsync'd before any of its new work (activities, timers, sub-orchestrations,
 * completion notices to a parent) is dispatched, so a crash at any point re-dispatches instead of losing.
 */
import * as os from "node:os";
import { ActivityProcessor, type ActivityWork } from "./activity-processor";
import type { Backend } from "./backend";
import { errorParts } from "./errors";
import { EventType, ev, type ParentInstanceInfo } from "./history";
import { alreadyExistsMessage, isTerminal } from "./host-messages";
import { DEFAULT_MAX_INSTANCE_ID_LENGTH, instanceIdProblem } from "./instance-ids";
import { OrchestrationProcessor } from "./orchestration-processor";
import { PayloadLimit } from "./payload-limit";
import { outstandingWork, parentStillWaits } from "./recovery";
import type { NewWork } from "./replay";
import { hasRunnableMessages, newExecutionId, RuntimeState } from "./runtime-state";
import { applyRecord, InstanceStore, type InstanceData, type LogRecord } from "./store";
import { TimerLimit } from "./timer-limit";
import { realClock, TimerSet, type DurableTimer } from "./timers";
import { InstanceQuarantinedError, type Clock, type EngineOptions, type HistoryEvent } from "./types";
import { BoundedWorkerLoop } from "./worker-loop";

interface Runtime {
  episodeRunning: boolean;
  queued: boolean;
}

/** An instance waiting for (or running) an episode; `rt` is its runtime entry when the episode began. */
interface EpisodeTicket {
  id: string;
  rt?: Runtime;
}

/** The engine's core; engine.ts puts the DurableEngine client API on top of it. */
export class TaskHub {
  private readonly store: Backend;
  readonly clock: Clock;
  readonly log: NonNullable<EngineOptions["log"]>;
  private readonly maxActivities: number;
  private readonly maxOrchestrations: number;
  readonly payloadLimit: PayloadLimit;
  readonly maxInstanceIdLength: number;

  private readonly instances = new Map<string, InstanceData>();
  private readonly runtime = new Map<string, Runtime>();
  private readonly episodes: BoundedWorkerLoop<EpisodeTicket>;
  private readonly activityLoop: BoundedWorkerLoop<ActivityWork>;
  private readonly activityProcessor: ActivityProcessor;
  private readonly orchestrations: OrchestrationProcessor;
  private readonly timers: TimerSet;
  private readonly completionWaiters = new Map<string, Set<() => void>>();
  /** Sub-orchestrations being created (outside the two loops until their first episode is queued). */
  private childrenStarting = 0;
  private started = false;
  /** Bumped by stop(): callbacks of an older generation (in-flight work) are ignored. */
  private generation = 0;

  constructor(options: EngineOptions, backend?: Backend) {
    this.store = backend ?? new InstanceStore(options.dataDir, options.taskHubName);
    this.clock = options.clock ?? realClock;
    this.log =
      options.log ??
      ((level, message) => {
        if (level === "error") console.error(message);
        else if (level === "warn") console.warn(message);
        else console.log(message);
      });
    const cores = Math.max(1, os.cpus().length);
    this.maxActivities = Math.max(1, options.maxConcurrentActivities ?? 10 * cores);
    this.maxOrchestrations = Math.max(1, options.maxConcurrentOrchestrations ?? 10 * cores);
    this.payloadLimit = new PayloadLimit(options.maxPayloadBytes);
    this.maxInstanceIdLength = options.maxInstanceIdLength ?? DEFAULT_MAX_INSTANCE_ID_LENGTH;
    this.timers = new TimerSet(this.clock, (t) => this.onTimerDue(t));
    this.episodes = new BoundedWorkerLoop<EpisodeTicket>(this.maxOrchestrations, (t) => this.runEpisode(t.id, this.generation), {
      deferred: true,
      onStart: (t) => {
        t.rt = this.runtime.get(t.id);
        if (!t.rt) return false;
        t.rt.queued = false;
        t.rt.episodeRunning = true;
        return true;
      },
      onError: (t, e) => this.log("error", `Durable engine: episode of '${t.id}' failed internally: ${errorParts(e).stack ?? e}`),
      onDone: (t) => {
        t.rt!.episodeRunning = false;
        this.schedule(t.id);
      },
    });
    this.orchestrations = new OrchestrationProcessor({
      invokeOrchestrator: options.invokeOrchestrator,
      activities: options.activities,
      orchestrators: options.orchestrators,
      payloadLimit: this.payloadLimit,
      timerLimit: new TimerLimit(options.maxTimerSpanMs),
      log: this.log,
    });
    this.activityProcessor = new ActivityProcessor({
      activities: options.activities,
      invokeActivity: options.invokeActivity,
      clock: this.clock,
      payloadLimit: this.payloadLimit,
      log: this.log,
      deliver: (instanceId, event, executionId) => this.deliver(instanceId, event, executionId),
      isCurrent: (gen) => gen === this.generation,
    });
    this.activityLoop = new BoundedWorkerLoop<ActivityWork>(
      this.maxActivities,
      (work) => this.activityProcessor.process(work, this.generation),
      {
        onError: (work, e) => this.log("error", `Durable engine: activity '${work.name}' failed internally: ${errorParts(e).stack ?? e}`),
      },
    );
  }

  /**
   * Nothing left to do until a timer fires or a client acts: no episode or activity running or waiting, no child
   * being created. What a test on a fake clock waits for before it moves the clock.
   */
  get idle(): boolean {
    return (
      this.episodes.running + this.episodes.waiting + this.activityLoop.running + this.activityLoop.waiting + this.childrenStarting === 0
    );
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.started) return;
    await this.store.open();
    this.instances.clear();
    for (const data of await this.store.loadAll(this.log)) this.instances.set(data.instanceId, data);
    if (this.store.quarantinedCount > 0) {
      this.log(
        "error",
        `Durable engine: ${this.store.quarantinedCount} instance log(s) quarantined in ${this.store.dir}; those ids are refused.`,
      );
    }
    this.started = true;
    this.episodes.start();
    this.activityLoop.start();
    let resumed = 0;
    for (const inst of this.instances.values()) {
      if (isTerminal(inst.status)) continue;
      resumed++;
      this.resumeOutstandingWork(inst);
      this.schedule(inst.instanceId);
    }
    // A finished child whose completion never reached its waiting parent (crash in between) is re-notified.
    for (const inst of this.instances.values()) {
      if (isTerminal(inst.status) && inst.parent) this.renotifyParentIfWaiting(inst);
    }
    if (resumed > 0) this.log("info", `Durable engine: resumed ${resumed} instance(s) from ${this.store.dir}.`);
  }

  async stop(): Promise<void> {
    this.started = false;
    this.generation++;
    this.timers.cancelAll();
    this.activityLoop.stop();
    this.episodes.stop();
    this.runtime.clear();
    await this.store.drain();
  }

  requireStarted(): void {
    if (!this.started) throw new Error("The durable engine is not started.");
  }

  // ---------------------------------------------------------------- the instance table

  get(instanceId: string): InstanceData | undefined {
    return this.instances.get(instanceId);
  }

  all(): IterableIterator<InstanceData> {
    return this.instances.values();
  }

  /** A quarantined id (corrupt log set aside at start) must never run again: say so instead of "not found". */
  refuseQuarantined(instanceId: string): void {
    const why = this.store.quarantineOf(instanceId);
    if (why) throw new InstanceQuarantinedError(`Instance '${instanceId}' is quarantined: ${why}.`);
  }

  /** Forgets an instance and deletes its log (purge). */
  async remove(instanceId: string): Promise<void> {
    this.instances.delete(instanceId);
    this.runtime.delete(instanceId);
    await this.store.remove(instanceId);
  }

  /** Resolves when the instance finishes or after timeoutMs, whichever comes first. */
  onceTerminal(instanceId: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiters = this.completionWaiters.get(instanceId) ?? new Set<() => void>();
      this.completionWaiters.set(instanceId, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      waiters.add(done);
    });
  }

  // ---------------------------------------------------------------- durable state changes

  /** Applies records to memory and appends them to the instance's log (resolves once fsync'd). */
  commit(instanceId: string, records: LogRecord[]): Promise<void> {
    let inst = this.instances.get(instanceId);
    for (const r of records) inst = applyRecord(inst, r);
    if (inst) this.instances.set(instanceId, inst);
    return this.store.append(instanceId, records);
  }

  async createInstance(name: string, instanceId: string, input: string | null, parent: ParentInstanceInfo | null): Promise<void> {
    const now = this.clock.now();
    const executionId = newExecutionId();
    this.runtime.delete(instanceId);
    const start = ev.executionStarted(now, { name, input, instanceId, executionId, parent: parent ?? undefined });
    await this.commit(instanceId, [
      { t: "create", instanceId, name, executionId, input, parent, createdTime: now },
      { t: "msg", seq: 0, event: start, at: now },
    ]);
    this.schedule(instanceId);
  }

  /**
   * Queues a message for an instance (durably) and schedules an episode. Messages for a gone instance, a
   * finished one, or another execution (expectExecutionId) are dropped, as the backend drops them.
   */
  async deliver(instanceId: string, event: HistoryEvent, expectExecutionId?: string): Promise<void> {
    const inst = this.instances.get(instanceId);
    if (!inst || isTerminal(inst.status)) return;
    if (expectExecutionId !== undefined && inst.executionId !== expectExecutionId) return;
    const seq = inst.nextSeq;
    const p = this.commit(instanceId, [{ t: "msg", seq, event, at: this.clock.now() }]);
    this.schedule(instanceId);
    await p;
  }

  // ---------------------------------------------------------------- orchestration episodes

  private schedule(instanceId: string): void {
    if (!this.started) return;
    let rt = this.runtime.get(instanceId);
    if (!rt) {
      rt = { episodeRunning: false, queued: false };
      this.runtime.set(instanceId, rt);
    }
    if (rt.episodeRunning || rt.queued) return;
    const inst = this.instances.get(instanceId);
    if (!inst || !hasRunnableMessages(inst)) return;
    rt.queued = true;
    this.episodes.push({ id: instanceId });
  }

  private async runEpisode(instanceId: string, gen: number): Promise<void> {
    const inst = this.instances.get(instanceId);
    if (!inst || isTerminal(inst.status)) return;
    const rs = new RuntimeState(inst, this.clock.now());
    if (rs.consumed.length === 0) return;
    if (rs.terminatedBy) {
      await this.commit(instanceId, [rs.terminationRecord()]);
      if (gen === this.generation) this.onTerminal(inst);
      return;
    }
    if (!rs.hasWork) return this.commit(instanceId, [rs.idleRecord()]);

    const reply = await this.orchestrations.invoke(rs);
    if (gen !== this.generation) return;
    const { newWork, outcome, nextId } = this.orchestrations.decide(rs, reply);
    const executionId = inst.executionId;
    await this.commit(instanceId, [rs.outcomeRecord(newWork, outcome, nextId, reply.customStatus)]);
    if (gen !== this.generation) return;

    // ---- dispatch only after the episode is durable
    const stillRunning = outcome.kind === "running";
    for (const work of newWork) this.dispatch(instanceId, executionId, work, stillRunning);
    if (outcome.kind === "completed" || outcome.kind === "failed") this.onTerminal(inst);
  }

  private dispatch(instanceId: string, executionId: string, work: NewWork, stillRunning: boolean): void {
    switch (work.kind) {
      case "activity":
        this.enqueueActivity({ instanceId, executionId, id: work.id, name: work.name, input: work.input });
        break;
      case "timer":
        // A timer created by an execution that just finished would only deliver a message that gets dropped.
        if (stillRunning) this.armTimer(instanceId, executionId, work.id, work.fireAt);
        break;
      case "subOrchestration": {
        const inst = this.instances.get(instanceId)!;
        this.childrenStarting++;
        void this.startSubOrchestration(inst, executionId, work.id, work.name, work.instanceId, work.input)
          .catch((e) =>
            this.log("error", `Durable engine: could not start sub-orchestration '${work.instanceId}': ${errorParts(e).message}`),
          )
          .finally(() => this.childrenStarting--);
        break;
      }
    }
  }

  private async startSubOrchestration(
    parent: InstanceData,
    parentExecutionId: string,
    taskScheduledId: number,
    name: string,
    childId: string,
    input: string | null,
  ): Promise<void> {
    const existing = this.instances.get(childId);
    const quarantined = this.store.quarantineOf(childId);
    const tooLong = instanceIdProblem(childId, this.maxInstanceIdLength);
    if (tooLong || quarantined || (existing && !isTerminal(existing.status))) {
      // Not created: the parent's task fails and says why (DTFx has no such path: the backends drop or retry the
      // creation and the parent waits forever; see NOTES.md). A terminal child is replaced, as a client start would.
      const reason = tooLong
        ? `Sub-orchestration '${name}' was not started: ${tooLong}`
        : quarantined
          ? `Sub-orchestration '${childId}' is quarantined: ${quarantined}.`
          : alreadyExistsMessage(existing!.status);
      this.log("error", `[${parent.instanceId}] ${reason}`);
      await this.deliver(
        parent.instanceId,
        ev.subOrchestrationFailed(this.clock.now(), taskScheduledId, reason, reason),
        parentExecutionId,
      );
      return;
    }
    await this.createInstance(name, childId, input, {
      name: parent.name,
      instanceId: parent.instanceId,
      executionId: parentExecutionId,
      taskScheduledId,
    });
  }

  /** A finished execution: tell its parent (if any) and whoever waits for it. */
  private onTerminal(inst: InstanceData): void {
    if (inst.parent) this.notifyParent(inst);
    const waiters = this.completionWaiters.get(inst.instanceId);
    if (waiters) {
      this.completionWaiters.delete(inst.instanceId);
      for (const w of [...waiters]) w();
    }
  }

  private notifyParent(child: InstanceData): void {
    const p = child.parent!;
    const now = this.clock.now();
    let event: HistoryEvent;
    if (child.status === "Completed") {
      event = ev.subOrchestrationCompleted(now, p.taskScheduledId, child.output);
    } else {
      const failed = [...child.history].reverse().find((e) => e.EventType === EventType.ExecutionCompleted);
      const reason = child.output ?? `Orchestration '${child.instanceId}' ${child.status.toLowerCase()}.`;
      const details = (failed?.Details as string | null) ?? reason;
      event = ev.subOrchestrationFailed(now, p.taskScheduledId, reason, details);
    }
    void this.deliver(p.instanceId, event, p.executionId).catch((e) =>
      this.log("error", `Durable engine: could not notify parent '${p.instanceId}': ${errorParts(e).message}`),
    );
  }

  // ---------------------------------------------------------------- activities

  private enqueueActivity(work: ActivityWork): void {
    this.activityLoop.push(work);
  }

  // ---------------------------------------------------------------- timers

  private armTimer(instanceId: string, executionId: string, id: number, fireAt: string): void {
    this.timers.arm({ instanceId, executionId, id, fireAt });
  }

  private onTimerDue({ instanceId, executionId, id, fireAt }: DurableTimer): void {
    if (!this.started) return;
    void this.deliver(instanceId, ev.timerFired(this.clock.now(), id, fireAt), executionId).catch((e) =>
      this.log("error", `Durable engine: could not fire timer ${id} of '${instanceId}': ${errorParts(e).message}`),
    );
  }

  // ---------------------------------------------------------------- recovery

  /** After a restart: re-dispatch activities without a result, re-arm timers, start missing sub-orchestrations. */
  private resumeOutstandingWork(inst: InstanceData): void {
    for (const work of outstandingWork(inst)) {
      // A child that exists already: a finished one is re-notified (renotifyParentIfWaiting), a running one notifies on completion.
      if (work.kind === "subOrchestration" && this.instances.has(work.instanceId)) continue;
      this.dispatch(inst.instanceId, inst.executionId, work, true);
    }
  }

  private renotifyParentIfWaiting(child: InstanceData): void {
    if (parentStillWaits(child, this.instances.get(child.parent!.instanceId))) this.notifyParent(child);
  }
}

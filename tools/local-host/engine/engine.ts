/**
 * The durable engine's client API (DurableEngine: what the Durable HTTP API and the durable client call), with
 * DurableClient's state rules and messages, on top of the task hub (task-hub.ts: instance table, worker loop).
 */
import { ev, toJsonString } from "./history";
import { alreadyExistsMessage, isTerminal, unknownFunctionMessage } from "./host-messages";
import { instanceIdProblem } from "./instance-ids";
import { matchInstances, pageOf } from "./paging";
import { keepRewoundChildren, planRewind } from "./rewind";
import { instanceStatus } from "./status";
import type { Backend } from "./backend";
import type { InstanceData, LogRecord } from "./store";
import { TaskHub } from "./task-hub";
import { InstanceNotFoundError, InstanceStateError, InvalidInstanceIdError, UnknownFunctionError } from "./types";
import type { DurableEngine, EngineOptions, HistoryEvent, InstanceQuery, InstanceStatus, RuntimeStatus, StatusOptions } from "./types";

export { realClock } from "./timers";

export class Engine implements DurableEngine {
  private readonly hub: TaskHub;
  private readonly knownOrchestrators: string[];

  constructor(
    private readonly options: EngineOptions,
    backend?: Backend,
  ) {
    this.hub = new TaskHub(options, backend);
    this.knownOrchestrators = [...options.orchestrators];
  }

  start(): Promise<void> {
    return this.hub.start();
  }

  stop(): Promise<void> {
    return this.hub.stop();
  }

  /** No episode, activity or child start running or waiting (task-hub.ts `idle`): for tests on a fake clock. */
  get idle(): boolean {
    return this.hub.idle;
  }

  // ---------------------------------------------------------------- client operations

  async startNew(orchestratorName: string, instanceId: string, input: unknown): Promise<InstanceStatus> {
    this.hub.requireStarted();
    if (!this.options.orchestrators.has(orchestratorName)) {
      throw new UnknownFunctionError(unknownFunctionMessage(orchestratorName, "orchestrator", this.knownOrchestrators));
    }
    const tooLong = instanceIdProblem(instanceId, this.hub.maxInstanceIdLength);
    if (tooLong) {
      this.hub.log("error", `Refused a client call: ${tooLong}`);
      throw new InvalidInstanceIdError(tooLong);
    }
    this.hub.refuseQuarantined(instanceId);
    const existing = this.hub.get(instanceId);
    if (existing && !isTerminal(existing.status)) {
      throw new InstanceStateError(alreadyExistsMessage(existing.status));
    }
    const serialized = toJsonString(input);
    this.hub.payloadLimit.refuseClientPayload(`the input of orchestration '${orchestratorName}' ('${instanceId}')`, serialized, (m) =>
      this.hub.log("error", m),
    );
    await this.hub.createInstance(orchestratorName, instanceId, serialized, null);
    return this.toStatus(this.hub.get(instanceId)!, {});
  }

  async getStatus(instanceId: string, options: StatusOptions = {}): Promise<InstanceStatus | undefined> {
    this.hub.refuseQuarantined(instanceId);
    const inst = this.hub.get(instanceId);
    return inst ? this.toStatus(inst, options) : undefined;
  }

  async listInstances(query: InstanceQuery): Promise<{ instances: InstanceStatus[]; continuationToken?: string }> {
    const { page, continuationToken } = pageOf(this.query(query), query);
    return { instances: page.map((i) => this.toStatus(i, {})), continuationToken };
  }

  async raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<void> {
    const inst = this.requireInstance(instanceId);
    if (isTerminal(inst.status)) {
      throw new InstanceStateError(`Instance '${instanceId}' is in the ${inst.status} state and cannot receive events.`);
    }
    const serialized = toJsonString(data);
    this.hub.payloadLimit.refuseClientPayload(`event '${eventName}' raised to '${instanceId}'`, serialized, (m) =>
      this.hub.log("error", m),
    );
    await this.hub.deliver(instanceId, ev.eventRaised(this.hub.clock.now(), eventName, serialized));
  }

  async terminate(instanceId: string, reason?: string): Promise<void> {
    this.requireState(instanceId, "terminate", (s) => !isTerminal(s));
    await this.hub.deliver(instanceId, ev.executionTerminated(this.hub.clock.now(), reason ?? null));
  }

  async suspend(instanceId: string, reason?: string): Promise<void> {
    this.requireState(instanceId, "suspend", (s) => s === "Running" || s === "Pending" || s === "ContinuedAsNew");
    await this.hub.deliver(instanceId, ev.executionSuspended(this.hub.clock.now(), reason ?? null));
  }

  async resume(instanceId: string, reason?: string): Promise<void> {
    this.requireState(instanceId, "resume", (s) => s === "Suspended");
    await this.hub.deliver(instanceId, ev.executionResumed(this.hub.clock.now(), reason ?? null));
  }

  /**
   * The host's legacy rewind (Azure Storage provider): in the failed execution's history every failed task
   * (and its TaskScheduled) and the failing ExecutionCompleted become GenericEvents, failed sub-orchestrations
   * are rewound too, and the instance runs again: the replay finds those tasks unscheduled and re-runs them.
   */
  async rewind(instanceId: string, reason?: string): Promise<void> {
    const inst = this.requireInstance(instanceId);
    if (inst.status !== "Failed") {
      throw new InstanceStateError(`Instance '${instanceId}' is in the ${inst.status} state; only Failed instances can be rewound.`);
    }
    const now = this.hub.clock.now();
    const plan = planRewind(inst.history);
    for (const child of plan.failedChildren) {
      const c = this.hub.get(child);
      if (c && c.status === "Failed") await this.rewind(child, reason);
    }
    const rewoundChildren = new Set(plan.failedChildren.filter((c) => this.hub.get(c)?.status !== "Failed"));
    const finalHistory = keepRewoundChildren(inst.history, plan, rewoundChildren);
    const rec: LogRecord = { t: "rewrite", history: finalHistory, status: "Running", output: null, at: now };
    await this.hub.commit(inst.instanceId, [rec]);
    await this.hub.deliver(instanceId, ev.genericEvent(now, reason ?? "Rewind"));
  }

  async purge(instanceId: string): Promise<number> {
    this.hub.refuseQuarantined(instanceId);
    const inst = this.hub.get(instanceId);
    if (!inst || !isTerminal(inst.status)) return 0;
    await this.hub.remove(instanceId);
    return 1;
  }

  async purgeMany(query: InstanceQuery): Promise<number> {
    const targets = this.query({ ...query, top: undefined, continuationToken: undefined }).filter((i) => isTerminal(i.status));
    let n = 0;
    for (const t of targets) n += await this.purge(t.instanceId);
    return n;
  }

  async waitForCompletion(instanceId: string, timeoutMs: number): Promise<InstanceStatus | undefined> {
    this.hub.refuseQuarantined(instanceId);
    const inst = this.hub.get(instanceId);
    if (!inst) return undefined;
    if (isTerminal(inst.status)) return this.toStatus(inst, {});
    await this.hub.onceTerminal(instanceId, timeoutMs);
    const now = this.hub.get(instanceId);
    return now ? this.toStatus(now, {}) : undefined;
  }

  /** The current execution's history in the host's JSON shape (for tests and diagnostics; not part of DurableEngine). */
  historyOf(instanceId: string): HistoryEvent[] | undefined {
    return this.hub.get(instanceId)?.history.slice();
  }

  // ---------------------------------------------------------------- helpers

  private toStatus(inst: InstanceData, options: StatusOptions): InstanceStatus {
    return instanceStatus(inst, options);
  }

  private query(q: InstanceQuery): InstanceData[] {
    return matchInstances(this.hub.all(), q);
  }

  private requireInstance(instanceId: string): InstanceData {
    this.hub.requireStarted();
    this.hub.refuseQuarantined(instanceId);
    const inst = this.hub.get(instanceId);
    if (!inst) throw new InstanceNotFoundError(`No instance with ID '${instanceId}' found.`);
    return inst;
  }

  /**
   * DurableClient's state rules (IsOrchestrationRunning / IsOrchestrationSuspendable / IsOrchestrationSuspended)
   * and its InvalidOperationException text, which HttpApiHandler answers with 500.
   */
  private requireState(instanceId: string, verb: string, allowed: (s: RuntimeStatus) => boolean): void {
    const inst = this.requireInstance(instanceId);
    if (!allowed(inst.status)) {
      throw new InstanceStateError(
        `Cannot ${verb} the orchestration instance ${instanceId} because instance is in the ${inst.status} state.`,
      );
    }
  }
}

/**
 * The orchestration test host: the app's orchestrators run through the local host's durable engine
 * (the host-side replay of OutOfProcOrchestrationShim, sequence numbering and non-determinism checks
 * included) on a fake clock, with stand-in activities the test scripts. Time only moves when a test
 * says so, so a deadline or a 10-minute retry wait takes milliseconds (like Temporal's time-skipping
 * test environment).
 */
import { aggregateResponses } from "../../src/functions/aggregateResponses";
import { recordArrivals, storeAuctionAnswer } from "../../src/functions/auctionAnswers";
import { redriveAgreement } from "../../src/functions/redriveAgreement";
import { concurrencyInput } from "../../src/gather/concurrency";
import { REDRIVABLE, type RedriveStatus } from "../../src/gather/redrive";
import { prepareRedrive } from "../../src/gather/redriveRun";
import { answerFacts } from "../../src/gather/facts";
import { RunPayloads } from "../../src/gather/runPayloads";
import { MemoryPayloadStore, setPayloadStore } from "../../src/payload";
import { runStateOf } from "../../src/durable/client";
import { CLOSE_EVENT, FunctionNames, SHARE_EVENT } from "../../src/durable/names";
import { scatterGatherBatch, scatterGatherOrchestrator } from "../../src/durable/orchestrator";
import type {
  CensusBatchesInput,
  LendSharesInput,
  CallRecipientInput,
  CallRecipientOutput,
  CloseBatchesInput,
  GatherResult,
  Json,
  OrchestrationInput,
  Recipient,
} from "../../src/gather/types";
import { batchInstanceId, runBatchPrefix } from "../../src/gather/instanceIds";
import { readCensus } from "../../src/gather/census";
import { lend } from "../../src/functions/lendShares";
import { historyOf, isIdle, makeHarness, shape, until, type Harness } from "../../tools/local-host/engine/test-support";
import type { HistoryEvent, InstanceStatus } from "../../tools/local-host/engine/types";

// The library's own Orchestrator class, what app.orchestration registers.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Orchestrator } = require("durable-functions/lib/src/orchestrations/Orchestrator") as {
  Orchestrator: new (fn: unknown) => { handle(trigger: unknown, context: unknown): Promise<unknown> };
};

/** What a recipient does on one attempt: answer, fail, or wait until the test releases it. */
export type Outcome = { value: Json; durationMs?: number } | { error: string } | "hold";

export interface WorkerAction {
  actionType: number;
  functionName?: string;
  compoundActions?: WorkerAction[];
  isCanceled?: boolean;
  fireAt?: string;
}

const ORCHESTRATORS = {
  [FunctionNames.orchestrator]: scatterGatherOrchestrator,
  [FunctionNames.batchOrchestrator]: scatterGatherBatch,
};

export class OrchestrationHost {
  private current: Harness;
  /** Every callRecipient invocation, in order. */
  readonly calls: { recipientId: string; attempt: number; input: CallRecipientInput }[] = [];
  /** callRecipient invocations running now, and the most ever, by origin ("simulated" for simulated recipients) and in all. */
  readonly live = new Map<string, number>();
  readonly peak = new Map<string, number>();
  liveTotal = 0;
  peakTotal = 0;
  readonly notified: unknown[] = [];
  /** The last action list each instance's orchestrator returned. */
  private readonly actions = new Map<string, WorkerAction[]>();
  private readonly held: {
    recipientId: string;
    index: number;
    input: CallRecipientInput;
    /** The instance that scheduled the call (its batch, or the gather). */
    owner: string;
    release: () => void;
    cancel: () => void;
  }[] = [];
  private closeBatchesGate: Promise<void> = Promise.resolve();
  /** censusBatches activities run. */
  censuses = 0;
  /** lendShares activities run. */
  loans = 0;
  /** Raise every loan twice, as a lendShares activity the host runs again would (at-least-once). */
  raiseLoansTwice = false;
  /** Each raised loan waits for it (a lending held after it raised, to crash the host in). */
  lendingGate: Promise<void> = Promise.resolve();
  /** Runs after a census has read the batches' statuses and before its result goes back (a race to stage). */
  afterCensusRead: (() => Promise<void>) | undefined;
  private readonly poller = setInterval(() => void this.endStoppedCalls().catch(() => undefined), 5).unref();

  /** The payload store the real activities (aggregation, auction answers) use in this test. */
  readonly store = new MemoryPayloadStore();

  /** `script(recipientId, attempt)` says what each attempt does; default: answer `{ ok: true }`. */
  constructor(private readonly script: (recipientId: string, attempt: number) => Outcome = () => ({ value: { ok: true } })) {
    this.current = this.makeHarness();
    setPayloadStore(this.store);
  }

  get harness(): Harness {
    return this.current;
  }

  private makeHarness(from?: Harness): Harness {
    return makeHarness(ORCHESTRATORS, this.activities(), {
      invokeOrchestrator: (name, payload) => this.invokeOrchestrator(name, payload),
      ...(from ? { dataDir: from.dataDir, clock: from.clock } : {}),
    });
  }

  /**
   * A host restart mid-gather: the engine stops (the calls it was running are lost, as in a crash: held
   * calls never answer) and a new one resumes every instance from the same data and clock.
   */
  async restart(): Promise<void> {
    this.held.splice(0);
    await this.engine.stop();
    this.live.clear();
    this.liveTotal = 0;
    this.current = this.makeHarness(this.current);
    await this.engine.start();
  }

  get engine() {
    return this.harness.engine;
  }

  get clock() {
    return this.harness.clock;
  }

  /** Stores the request and recipients as the starter does, then starts the orchestration. */
  async start(gather: GatherSpec, instanceId = "g1"): Promise<void> {
    const { recipients, request, ...rest } = gather;
    const run = { instanceId, runId: "run-1" };
    const payloads = new RunPayloads(this.store, run);
    await payloads.storeRequest(request ?? null);
    if (recipients) await payloads.storeRecipients(recipients);
    const input: OrchestrationInput = {
      ...rest,
      run,
      responsesUri: `http://localhost:7071/api/scatter-gather/${instanceId}/responses`,
      ...(recipients ? { recipientCount: recipients.length } : {}),
      // What the starter adds for concurrency (origin table, batch slots), unless the test gives its own.
      ...(rest.concurrency && recipients
        ? { ...concurrencyInput(recipients, rest.concurrency, rest.fanoutBatchSize ?? Number.MAX_SAFE_INTEGER), ...rest }
        : {}),
    };
    await this.engine.start();
    await this.engine.startNew(FunctionNames.orchestrator, instanceId, input);
  }

  /**
   * One batch on its own, as a parent started it (`input`: its RecipientGatherInput without the run and the slice),
   * over `recipients` stored as the starter stores them.
   */
  async startBatch(recipients: Recipient[], input: Record<string, unknown>, instanceId = "g1~batch-0"): Promise<void> {
    const run = { instanceId: "g1", runId: "run-1" };
    const payloads = new RunPayloads(this.store, run);
    await payloads.storeRequest(null);
    await payloads.storeRecipients(recipients);
    await this.engine.start();
    await this.engine.startNew(FunctionNames.batchOrchestrator, instanceId, {
      requestId: "g1",
      run,
      first: 0,
      count: recipients.length,
      deadline: null,
      ...input,
    });
  }

  /**
   * A redrive of the finished instance, as the redrive route makes it (gather/redriveRun.ts): run `runId`'s
   * folder and input, then a new start of the same id. Throws with the refusal's message when it is refused.
   */
  async redrive(
    options: { statuses?: readonly RedriveStatus[]; runId?: string; fanoutBatchSize?: number } = {},
    instanceId = "g1",
  ): Promise<void> {
    const status = await this.finished(instanceId);
    const prepared = await prepareRedrive(this.store, status.input as OrchestrationInput, options.statuses ?? REDRIVABLE, {
      runId: options.runId ?? `run-${Date.now()}`,
      fanoutBatchSize: options.fanoutBatchSize ?? Number.MAX_SAFE_INTEGER,
    });
    if (!prepared.ok) throw new Error(`${prepared.status}: ${prepared.message}`);
    await this.engine.startNew(FunctionNames.orchestrator, instanceId, prepared.input);
  }

  async stop(): Promise<void> {
    clearInterval(this.poller);
    this.releaseHeld();
    await this.engine.stop();
    setPayloadStore(undefined);
  }

  /** Waits for the instance to finish; fails the test if it did not complete successfully. */
  async result(instanceId = "g1"): Promise<GatherResult> {
    const status = await this.finished(instanceId);
    if (status.runtimeStatus !== "Completed") throw new Error(`${instanceId} is ${status.runtimeStatus}: ${JSON.stringify(status.output)}`);
    return status.output as GatherResult;
  }

  async finished(instanceId = "g1"): Promise<InstanceStatus> {
    await until(async () => isFinished((await this.engine.getStatus(instanceId))?.runtimeStatus), 10_000, `${instanceId} to finish`);
    return (await this.engine.getStatus(instanceId))!;
  }

  async status(instanceId = "g1"): Promise<InstanceStatus> {
    return (await this.engine.getStatus(instanceId))!;
  }

  /** The customStatus phase ("gathering" until the first episode has run). */
  async phase(instanceId = "g1"): Promise<string> {
    return ((await this.status(instanceId)).customStatus as { phase?: string } | null)?.phase ?? "gathering";
  }

  /** Waits until a condition on the host holds (episodes and activities run asynchronously). */
  until(condition: () => boolean | Promise<boolean>, what = "condition"): Promise<void> {
    return until(condition, 10_000, what);
  }

  /**
   * Waits until the engine has nothing to do but wait for the fake clock: no episode, activity or child start running
   * or waiting. (A call held until the test releases it keeps the engine busy.)
   */
  settled(): Promise<void> {
    return until(() => isIdle(this.harness), 10_000, "the engine to settle");
  }

  /** Waits for `n` armed durable timers, then moves the fake clock. */
  async advance(ms: number, armedTimers = 1): Promise<void> {
    await until(() => this.clock.dueTimes().length >= armedTimers, 10_000, `${armedTimers} armed timer(s)`);
    this.clock.advance(ms);
  }

  /**
   * Holds closeBatches until the returned function is called, as a host whose activity slots are all taken by
   * recipient calls queues it behind them.
   */
  holdCloseBatches(): () => void {
    let open!: () => void;
    this.closeBatchesGate = new Promise<void>((resolve) => (open = resolve));
    return () => open();
  }

  /** Lets the first `count` held attempts (all by default), in the order they were held, answer `{ late: true }`. */
  releaseHeld(count = Number.POSITIVE_INFINITY): void {
    for (const { release } of this.held.splice(0, count)) release();
  }

  /** Lets the held attempt of one recipient answer. */
  release(recipientId: string): void {
    const at = this.held.findIndex((h) => h.recipientId === recipientId);
    if (at < 0) throw new Error(`no held attempt of ${recipientId} (held: ${this.heldIds().join(", ")})`);
    this.held.splice(at, 1)[0].release();
  }

  /** The recipients whose attempts are held now, in the order they were held. */
  heldIds(): string[] {
    return this.held.map((h) => h.recipientId);
  }

  history(instanceId = "g1"): HistoryEvent[] {
    return historyOf(this.harness, instanceId);
  }

  shape(instanceId = "g1"): string[] {
    return shape(this.history(instanceId));
  }

  /** The cumulative action list of the instance's last episode, flattened depth first. */
  flatActions(instanceId = "g1"): WorkerAction[] {
    const flat: WorkerAction[] = [];
    const walk = (list: WorkerAction[]) => list.forEach((a) => (a.compoundActions ? walk(a.compoundActions) : flat.push(a)));
    walk(this.actions.get(instanceId) ?? []);
    return flat;
  }

  /** The engine's warnings and errors (re-yielded tasks, non-determinism). */
  problems(): string[] {
    return this.harness.logs.filter((l) => l.level !== "info").map((l) => l.message);
  }

  private async invokeOrchestrator(name: string, payload: Record<string, unknown>): Promise<unknown> {
    // The host sends the payload as JSON: round-trip it so the SDK sees strings, as in production.
    const trigger = JSON.parse(JSON.stringify(payload)) as { instanceId: string };
    const record = (state: unknown) => {
      const actions = (state as { actions?: WorkerAction[][] } | undefined)?.actions?.[0];
      if (actions) this.actions.set(trigger.instanceId, JSON.parse(JSON.stringify(actions)) as WorkerAction[]);
    };
    try {
      const state = await new Orchestrator(ORCHESTRATORS[name as keyof typeof ORCHESTRATORS]).handle(trigger, { df: undefined });
      record(state);
      return state;
    } catch (error) {
      record((error as { state?: unknown }).state);
      throw error;
    }
  }

  private activities() {
    return {
      [FunctionNames.callRecipient]: (input: CallRecipientInput, trigger?: { instanceId: string }) =>
        this.callRecipient(input, trigger?.instanceId),
      [FunctionNames.aggregateResponses]: async (input: Parameters<typeof aggregateResponses>[0]) => {
        const aggregated = await aggregateResponses(input);
        this.endHeldCalls(); // as markGatherClosed does in the real activity's process
        return aggregated;
      },
      [FunctionNames.notifyResponder]: (input: unknown) => {
        this.notified.push(input);
        return { delivered: true };
      },
      [FunctionNames.storeAuctionAnswer]: (input: Parameters<typeof storeAuctionAnswer>[0]) => storeAuctionAnswer(input),
      [FunctionNames.recordArrivals]: (input: Parameters<typeof recordArrivals>[0]) => recordArrivals(input),
      [FunctionNames.redriveAgreement]: (input: Parameters<typeof redriveAgreement>[0]) => redriveAgreement(input),
      // As the real activity reads them, through an instance query by the run's batch id prefix.
      [FunctionNames.censusBatches]: async ({ requestId, batchIdPrefix, votes }: CensusBatchesInput) => {
        this.censuses++;
        const prefix = runBatchPrefix(requestId, batchIdPrefix);
        const { instances } = await this.engine.listInstances({ instanceIdPrefix: prefix });
        const read = readCensus(prefix, instances, votes);
        const hook = this.afterCensusRead;
        this.afterCensusRead = undefined;
        await hook?.();
        return read;
      },
      // As the real activity does, through an instance query and raised events.
      // The real lending (its stored plan included), through an instance query and the engine's raised events.
      [FunctionNames.lendShares]: async (input: LendSharesInput) => {
        this.loans++;
        const { instances } = await this.engine.listInstances({ instanceIdPrefix: runBatchPrefix(input.requestId, input.batchIdPrefix) });
        return lend(input, instances, this.store, async (batch, loan) => {
          for (let times = this.raiseLoansTwice ? 2 : 1; times > 0; times--)
            await this.engine.raiseEvent(batchInstanceId(input.requestId, input.batchIdPrefix, batch), SHARE_EVENT, loan);
          await this.lendingGate;
        });
      },
      [FunctionNames.closeBatches]: async ({ requestId, batchIdPrefix, batches }: CloseBatchesInput) => {
        await this.closeBatchesGate;
        for (const batch of batches)
          await this.engine.raiseEvent(batchInstanceId(requestId, batchIdPrefix, batch), CLOSE_EVENT, null).catch(() => undefined);
        this.endHeldCalls(); // as markGatherClosed does in the real activity's process
        return { closed: batches.length };
      },
    };
  }

  /** Stands in for callRecipient: the scripted outcome, stored like the real activity stores it. */
  private async callRecipient(input: CallRecipientInput, owner = input.requestId): Promise<CallRecipientOutput> {
    const attempt = input.attempt ?? 1;
    const payloads = new RunPayloads(this.store, input.run);
    const recipient = (await payloads.recipients())[input.index];
    this.calls.push({ recipientId: recipient.id, attempt, input });
    const origin = "url" in recipient ? new URL(recipient.url).origin : "simulated";
    this.running(origin, +1);
    const outcome = this.script(recipient.id, attempt);
    const answer = outcome === "hold" ? await this.hold(recipient.id, input, owner) : outcome;
    this.running(origin, -1);
    if ("error" in answer) throw new Error(answer.error);
    const durationMs = answer.durationMs ?? 5;
    const stored = await payloads.storeAnswer(
      input.index,
      { recipientId: recipient.id, attempts: attempt, durationMs },
      Buffer.from(JSON.stringify(answer.value)),
    );
    return { durationMs, facts: answerFacts(answer.value, input.facts), answer: stored };
  }

  private running(origin: string, delta: number): void {
    const now = (this.live.get(origin) ?? 0) + delta;
    this.live.set(origin, now);
    this.peak.set(origin, Math.max(this.peak.get(origin) ?? 0, now));
    this.liveTotal += delta;
    this.peakTotal = Math.max(this.peakTotal, this.liveTotal);
  }

  /**
   * The gather's calls still running end, as gather/closing.ts ends them in the process of the activity that
   * marks the gather closed (closeBatches, aggregateResponses). This host runs one gather at a time, so every
   * held call is one of its.
   */
  private endHeldCalls(which: (index: number) => boolean = () => true): void {
    const ending = this.held.filter((h) => which(h.index));
    this.held.splice(0, this.held.length, ...this.held.filter((h) => !which(h.index)));
    for (const { cancel } of ending) cancel();
  }

  /**
   * As each callRecipient polls (closing.ts, callRecipient's schedulerStopped): a held call ends once its gather's
   * status, or its batch's, says it has stopped gathering. Polled in real time; the durable clock does not move.
   */
  private async endStoppedCalls(): Promise<void> {
    const stopped = new Map<string, boolean>();
    const isStopped = async (instanceId: string, runId: string) => {
      if (!stopped.has(instanceId)) {
        const status = await this.engine.getStatus(instanceId);
        stopped.set(instanceId, status !== undefined && runStateOf(status as never, runId) === "stopped");
      }
      return stopped.get(instanceId)!;
    };
    for (const held of [...this.held]) {
      const { requestId, run } = held.input;
      if ((await isStopped(requestId, run.runId)) || (held.owner !== requestId && (await isStopped(held.owner, run.runId)))) {
        const at = this.held.indexOf(held);
        if (at >= 0) this.held.splice(at, 1)[0].cancel();
      }
    }
  }

  /** Until released (answers `{ late: true }`) or ended by the gather's close (fails, as callRecipient does). */
  private hold(
    recipientId: string,
    input: CallRecipientInput,
    owner: string,
  ): Promise<{ value: Json; durationMs: number } | { error: string }> {
    return new Promise((resolve) =>
      this.held.push({
        recipientId,
        index: input.index,
        input,
        owner,
        release: () => resolve({ value: { late: true }, durationMs: 1 }),
        cancel: () => resolve({ error: "cancelled: the gather closed before this call finished" }),
      }),
    );
  }
}

function isFinished(status: string | undefined): boolean {
  return status === "Completed" || status === "Failed" || status === "Terminated";
}

/** A gather as a test gives it: the orchestration input with the data the starter would store. */
export type GatherSpec = Omit<OrchestrationInput, "run" | "responsesUri" | "recipientCount"> & { recipients?: Recipient[]; request?: Json };

/** A gather with defaults: three simulated recipients, mode all, collect. */
export function gatherInput(overrides: Partial<GatherSpec> = {}): GatherSpec {
  const sim = (id: string): Recipient => ({ id, simulate: { latencyMs: 0, failureRate: 0, value: null } });
  return {
    request: { item: "widget" },
    recipients: [sim("a"), sim("b"), sim("c")],
    completion: { mode: "all", agree: false },
    aggregate: { kind: "collect", order: "min" },
    ...overrides,
  };
}

/**
 * A test file's hosts: `host(script)` makes one, and every host made is stopped after each test
 * (registers the afterEach itself).
 */
export function useHosts(): (script?: (recipientId: string, attempt: number) => Outcome) => OrchestrationHost {
  const hosts: OrchestrationHost[] = [];
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.stop();
  });
  return (script) => {
    const h = new OrchestrationHost(script);
    hosts.push(h);
    return h;
  };
}

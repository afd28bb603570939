/**
 * The durable client side of a gather, shared by the HTTP functions and callRecipient (never by
 * orchestrator code): status lookups, and terminate and purge reaching a gather's batches.
 * A gather is one orchestration plus, above FANOUT_BATCH_SIZE recipients, its batch sub-orchestrations
 * (`<id>~batch-<run tag>-<n>`, gather/instanceIds.ts); the Durable client reaches one instance at a time and the host's terminate does
 * not cascade to sub-orchestrations.
 */
import type { InvocationContext } from "@azure/functions";
import type { DurableClient, DurableOrchestrationStatus } from "durable-functions";
import type { OrchestrationInput } from "../gather/types";
import { notifyInstanceId, runBatchPrefix } from "../gather/instanceIds";
import { CLOSE_EVENT } from "./names";

/**
 * The durable client's own endpoint (`rpcBaseUrl` of the durableClient binding: the extension's loopback
 * listener), read from the binding data as df.getClient reads it; undefined when the host gives none.
 */
export function durableRpcBaseUrl(context: InvocationContext): string | undefined {
  const binding = context.options.extraInputs.find((input) => input.type === "durableClient");
  const data = binding ? (context.extraInputs.get(binding) as { rpcBaseUrl?: unknown } | undefined) : undefined;
  return typeof data?.rpcBaseUrl === "string" && data.rpcBaseUrl !== "" ? data.rpcBaseUrl : undefined;
}

const ACTIVE = new Set(["Pending", "Running", "Suspended", "ContinuedAsNew"]);

/** The instance's status, or undefined when the id is unknown (the client throws on the host's 404). */
export async function findStatus(
  client: DurableClient,
  instanceId: string,
  showInput = false,
): Promise<DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId, { showHistory: false, showHistoryOutput: false, showInput });
  } catch (error) {
    if (/\b404\b/.test((error as Error).message)) return undefined;
    throw error;
  }
}

export function isActive(status: Pick<DurableOrchestrationStatus, "runtimeStatus"> | { runtimeStatus: string }): boolean {
  return ACTIVE.has(String(status.runtimeStatus));
}

/** What a gather's batch ids start with, from its input (status read with showInput); undefined without batches. */
export function batchPrefixOf(status: DurableOrchestrationStatus): string | undefined {
  const input = status.input as Partial<OrchestrationInput> | null | undefined;
  const recipients = input?.recipientCount ?? 0;
  if (!input?.fanoutBatchSize || recipients <= input.fanoutBatchSize) return undefined;
  return runBatchPrefix(status.instanceId, input.batchIdPrefix);
}

/** The batch instance ids of a gather, from its input (recipient count and batch size). */
export function batchIdsOf(status: DurableOrchestrationStatus): string[] {
  const prefix = batchPrefixOf(status);
  const input = status.input as OrchestrationInput;
  return prefix ? Array.from({ length: Math.ceil(input.recipientCount! / input.fanoutBatchSize!) }, (_, i) => `${prefix}${i}`) : [];
}

/** Terminates the gather and each of its batches still running; returns how many were running. */
export async function terminateGather(client: DurableClient, status: DurableOrchestrationStatus, reason: string): Promise<number> {
  let terminated = 0;
  for (const id of [status.instanceId, ...batchIdsOf(status)]) {
    const current = id === status.instanceId ? status : await findStatus(client, id);
    if (!current || !isActive(current)) continue;
    await client.terminate(id, reason);
    terminated++;
  }
  return terminated;
}

/**
 * Raises CLOSE_EVENT on each batch; returns how many took it. A batch that is gone (404; a finished one answers
 * 410, which the client takes as delivered) needs no closing. Any other failure is tried again a few times: the
 * parent waits for every batch it closes, so a batch left open keeps the gather from ending until it ends on its
 * own. One that still fails is logged and skipped.
 */
export async function closeBatchInstances(
  client: DurableClient,
  instanceIds: readonly string[],
  {
    attempts = 3,
    delayMs = 500,
    log = () => undefined,
    sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  }: {
    attempts?: number;
    delayMs?: number;
    log?: (message: string) => void;
    sleep?: (ms: number) => Promise<void>;
  } = {},
): Promise<number> {
  let closed = 0;
  for (const instanceId of instanceIds) {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.raiseEvent(instanceId, CLOSE_EVENT, null);
        closed++;
        break;
      } catch (error) {
        const message = (error as Error).message;
        if (isInstanceGone(error) || attempt >= attempts) {
          log(`batch ${instanceId} was not closed: ${message}`);
          break;
        }
        await sleep(delayMs * attempt);
      }
    }
  }
  return closed;
}

/**
 * Purges the gather and its batches. Batches still running (the gather was terminated through the
 * host's own terminate URL, which does not reach them) are terminated first and purged once they stop.
 */
export async function purgeGather(client: DurableClient, status: DurableOrchestrationStatus, waitMs = 10_000): Promise<void> {
  await purgeBatches(client, status, waitMs);
  await client.purgeInstanceHistory(status.instanceId);
  // The close event's delivery of a terminated run, if any (gather/instanceIds.ts notifyInstanceId).
  const runId = runIdOf(status);
  if (runId) await client.purgeInstanceHistory(notifyInstanceId(status.instanceId, runId)).catch(() => undefined);
}

/**
 * Purges the batches of the gather's run `status` shows (terminating those still running first). Also before a
 * redrive starts a new run: the batch ids of the new run differ (run tag), and only the latest run's are known later.
 */
export async function purgeBatches(client: DurableClient, status: DurableOrchestrationStatus, waitMs = 10_000): Promise<void> {
  const batches = batchIdsOf(status);
  for (const id of batches) {
    const batch = await findStatus(client, id);
    if (batch && isActive(batch)) await client.terminate(id, `gather ${status.instanceId} deleted`).catch(() => undefined);
  }
  const until = Date.now() + waitMs;
  for (const id of batches) {
    for (;;) {
      const batch = await findStatus(client, id);
      if (!batch) break;
      if (!isActive(batch)) {
        await client.purgeInstanceHistory(id);
        break;
      }
      if (Date.now() > until) throw new Error(`batch ${id} did not stop within ${waitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const RUNNING_CHECK_TTL_MS = 1000;

interface RunCheck {
  /** When the read started (at the latest: a lower bound is safe, it only makes the read count for less). */
  at: number;
  state: Promise<RunState>;
  settled: boolean;
}

const runChecks = new Map<string, RunCheck>();
/** Per run, the read that starts once the one in flight settles, shared by everyone who asked meanwhile. */
const nextChecks = new Map<string, RunCheck>();

/** What a status read says of one run: it gathers, it has stopped (closed, ended, or a later run owns the id), or nothing (unknown id, unreadable, lagging). */
export type RunState = "gathering" | "stopped" | "unknown";

/**
 * The state of the run `runId` of an instance. Keyed by run, not by instance id: a finished or terminated
 * id may be started again at once, and its new run's calls must not take the earlier run's "stopped" for
 * their own. Cached per process for a second, so a gather's thousands of calls cost one status read a
 * second; `notBefore` refuses a read that started earlier (a check that must see the status as it is after
 * some moment, such as a write). Such checks are coalesced: while a read that started too early is in
 * flight, callers wait for it and then share one read started after all of them asked, so a process makes
 * at most one such read at a time per run, not one per answer (callRecipient's orphan check: 2,000 windowed
 * answers made about 250 reads instead of 2,000).
 */
export function runState(
  client: DurableClient | (() => DurableClient),
  instanceId: string,
  runId: string,
  { now = Date.now(), notBefore = Number.NEGATIVE_INFINITY }: { now?: number; notBefore?: number } = {},
): Promise<RunState> {
  const key = `${instanceId}\n${runId}`;
  const cached = runChecks.get(key);
  // Strictly after: clocks count milliseconds, and a read started in the same one may have come first.
  if (cached && now - cached.at < RUNNING_CHECK_TTL_MS && cached.at > notBefore) return cached.state;
  // A factory is called only here, on a miss: building a client per call costs more than the check.
  const read = (at: number): RunCheck => {
    const check: RunCheck = { at, settled: false, state: readRunState(client, instanceId, runId) };
    void check.state.then(() => (check.settled = true));
    runChecks.set(key, check);
    return check;
  };
  if (cached && !cached.settled && cached.at <= notBefore) {
    let next = nextChecks.get(key);
    if (!next) {
      // Starts after the read in flight settles, so after every caller that joins before then asked.
      const queued: RunCheck = {
        at: now,
        settled: false,
        state: cached.state.then(() => {
          nextChecks.delete(key);
          return read(queued.at).state;
        }),
      };
      nextChecks.set(key, (next = queued));
    }
    next.at = Math.max(next.at, now);
    return next.state;
  }
  const state = read(now).state;
  for (const [id, entry] of runChecks) if (now - entry.at > 60_000) runChecks.delete(id);
  return state;
}

function readRunState(client: DurableClient | (() => DurableClient), instanceId: string, runId: string): Promise<RunState> {
  return findStatus(typeof client === "function" ? client() : client, instanceId, true).then(
    (status): RunState => (status ? runStateOf(status, runId) : "unknown"),
    (): RunState => "unknown",
  );
}

/** The run a status shows (its input's run id; undefined for a status read without its input). */
export function runIdOf(status: DurableOrchestrationStatus): string | undefined {
  return (status.input as Partial<OrchestrationInput> | null | undefined)?.run?.runId;
}

/**
 * Whether a durable client call failed because its instance is gone: the client says "No instance with ID … found."
 * for the extension's 404 to raiseEvent (and takes its 410 for an ended instance as delivered).
 */
export function isInstanceGone(error: unknown): boolean {
  return /No instance with ID|\b(404|410)\b/.test((error as Error).message);
}

/** What one status read says of run `runId` (see RunState). */
export function runStateOf(status: DurableOrchestrationStatus, runId: string): RunState {
  const statusRun = runIdOf(status);
  // Run ids sort by start time: a later run owns the id now, so this call's run is over. An earlier one
  // (a status read that lags behind the start) says nothing about this run.
  if (statusRun !== undefined && statusRun !== runId) return statusRun < runId ? "unknown" : "stopped";
  const phase = (status.customStatus as { phase?: string } | null)?.phase;
  return isActive(status) && phase !== "aggregating" && phase !== "done" ? "gathering" : "stopped";
}

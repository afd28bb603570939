import * as df from "durable-functions";
import type { InvocationContext } from "@azure/functions";
import { QueueAllowlist, UrlAllowlist } from "../gather/allowlist";
import { watchGather } from "../gather/closing";
import { deliver, RecipientError, type ReplyChannel } from "../gather/deliver";
import { repliesLater } from "../gather/transports";
import { answerTokenKey, recipientToken, TOKEN_PARAMETER } from "../http/answerTokens";
import { gatherApiBase } from "../http/publicUrls";
import { answerFacts, type AnswerFacts } from "../gather/facts";
import { sweepIfRunDeleted } from "../gather/orphans";
import { readLimits } from "../gather/limits";
import { RunPayloads } from "../gather/runPayloads";
import { getPayloadStore } from "../payload";
import type { CallRecipientInput, CallRecipientOutput } from "../gather/types";
import { durableRpcBaseUrl, runState, type RunState } from "../durable/client";
import { batchStates } from "../views/gatherStatus";
import { batchIdPrefixOf } from "../gather/instanceIds";
import { FunctionNames } from "../durable/names";
import { trackRecipientCall } from "../telemetry";
import { getQueueSender } from "../queues/sender";

/**
 * Delivers the gather's request to one recipient and stores its answer in the payload store; the
 * orchestrator gets the answer's facts and where it is stored (bounded whatever the answer).
 * Throws a RecipientError when the attempt failed; the orchestrator decides about retries.
 * A call whose gather was terminated or has closed (this process or another) is not made: activities
 * already queued still run after a terminate, and each would otherwise reach its recipient.
 * Each attempt (each invocation) is one dependency in Application Insights. Activities run at least
 * once: should the host run an invocation again, its dependency is recorded again (accepted).
 */
async function callRecipient(input: CallRecipientInput, context: InvocationContext): Promise<CallRecipientOutput> {
  const limits = readLimits();
  const payloads = new RunPayloads(getPayloadStore(), input.run);
  const [recipients, request] = await Promise.all([payloads.recipients(), payloads.request()]);
  const recipient = recipients[input.index];
  const call = { instanceId: input.requestId, recipient, invocationId: context?.invocationId };
  const stopped = gatherStopped(input, context);
  if (await stopped?.()) throw new RecipientError(STOPPED);
  const started = performance.now();
  // Ends the call at once if the gather closes meanwhile in this process, or within about a second once its own or
  // its batch's status says gathering has ended (closing.ts), whichever process or queue the close comes through.
  const watch = watchGather(input.closeKey ?? input.requestId, { stopped });
  try {
    const reply = repliesLater(recipient) ? await replyChannel(input, recipient.id, context) : undefined;
    const delivery = { requestId: input.requestId, recipient, request, ...(reply ? { reply } : {}) };
    const received = await deliver(delivery, {
      maxResponseBytes: limits.maxResponseBytes,
      allowlist: new UrlAllowlist(limits.recipientUrlAllowlist),
      queueAllowlist: new QueueAllowlist(limits.recipientQueueAllowlist),
      // Built on first use: only queue recipients need the Queue service.
      queues: { send: (queue, text, signal) => getQueueSender().send(queue, text, signal) },
      cancel: watch.signal,
    });
    if (received.acknowledged) {
      // Delivered: the answer comes later as a reply (REPLY_EVENT); nothing is stored now.
      trackRecipientCall({ ...call, durationMs: received.durationMs, success: true });
      return { durationMs: received.durationMs, acknowledged: true };
    }
    const { facts, valueJson, durationMs } = factsOf(received, input);
    trackRecipientCall({ ...call, durationMs, success: true });
    // Stored with the answers other calls of this process store meanwhile (answerGroups.ts).
    const answer = await payloads.storeAnswer(
      input.index,
      { recipientId: recipient.id, attempts: input.attempt ?? 1, durationMs },
      valueJson,
    );
    const writtenAt = Date.now();
    // A terminated run may have been deleted while this call ran: then its answer group must go too. A status
    // read after the write that finds the run still gathering proves it was not (a DELETE needs it ended first).
    if (
      (await runStateAfter(input, context, writtenAt)) !== "gathering" &&
      (await sweepIfRunDeleted(getPayloadStore(), input.run, answer.group))
    )
      throw new RecipientError(DELETED);
    return { durationMs, facts, answer };
  } catch (error) {
    if (error instanceof RecipientError) {
      trackRecipientCall({ ...call, durationMs: performance.now() - started, success: false, error: error.message });
    }
    throw error;
  } finally {
    watch.release();
  }
}

/**
 * The answer's facts, and its UTF-8 JSON (as received, or serialized once). The parsed value ends
 * here: it is not kept alive while the answer waits for its group write (64 KB values that outlive a
 * young-generation collection are what made the garbage collector the host's largest cost).
 */
function factsOf(
  { value, json, durationMs }: Awaited<ReturnType<typeof deliver>>,
  input: CallRecipientInput,
): { facts: AnswerFacts; valueJson: Uint8Array; durationMs: number } {
  const valueJson = json ?? Buffer.from(JSON.stringify(value), "utf8");
  return { facts: answerFacts(value, input.facts, valueJson.byteLength), valueJson, durationMs };
}

/**
 * Where a recipient that answers later replies: the answers route with its recipient token, made here so the
 * token never enters history. The public origin comes from the durable client's management URLs (publicUrls.ts).
 */
async function replyChannel(input: CallRecipientInput, recipientId: string, context: InvocationContext): Promise<ReplyChannel> {
  if (!context?.extraInputs) throw new Error("a recipient that replies later needs the durable client binding (the app's public URL)");
  const base = gatherApiBase(df.getClient(context), input.requestId);
  const token = recipientToken(await answerTokenKey(getPayloadStore), input.run, input.index, recipientId);
  const query = `${TOKEN_PARAMETER}=${encodeURIComponent(token)}`;
  return { respondUrl: `${base}/answers?${query}`, requestUrl: `${base}/request?${query}`, token };
}

const STOPPED = "cancelled: the gather was stopped or closed before this call started";
const DELETED = "cancelled: the gather was deleted while this call ran (its answer was not kept)";

/** The state of this call's run, as a status read started at or after `since` sees it ("unknown" without a client). */
async function runStateAfter(input: CallRecipientInput, context: InvocationContext, since: number): Promise<RunState> {
  if (!context?.extraInputs) return "unknown";
  try {
    return await runState(() => df.getClient(context), input.requestId, input.run.runId, { notBefore: since });
  } catch {
    return "unknown"; // no client binding
  }
}

/**
 * Whether this call's gather, or the batch that scheduled it (the trigger's instanceId), has stopped gathering, as
 * their statuses say: a gather that has decided (or passed its deadline) says it aggregates, a batch that decided
 * or was closed says it is done. Asked before the call starts and every second while it runs (closing.ts); a
 * call that ends for it is abandoned, not failed (RecipientCalls). Per process, a gather's status is read at most
 * once a second (runState) and its batches' with one instance query a second (batchStates), however many
 * calls ask. Unknown or unreadable counts as gathering: the check may only ever save calls, never lose one.
 * Undefined without the client binding (a test calling the handler directly): nothing to check.
 */
function gatherStopped(input: CallRecipientInput, context: InvocationContext): (() => Promise<boolean>) | undefined {
  if (!context?.extraInputs) return undefined;
  const owner = context.triggerMetadata?.instanceId;
  const batch = typeof owner === "string" && owner !== input.requestId ? owner : undefined;
  const rpcBaseUrl = batch ? durableRpcBaseUrl(context) : undefined;
  let client: df.DurableClient | undefined;
  const lazyClient = () => (client ??= df.getClient(context));
  const stopped = (instanceId: string) =>
    runState(lazyClient, instanceId, input.run.runId).then(
      (state) => state === "stopped",
      () => false,
    );
  // Its batch from the listing of the run's batches; one the listing does not show (cut off, or no endpoint for it)
  // from its own status.
  const batchStopped = async (id: string) => {
    const listed = rpcBaseUrl ? await batchStates(rpcBaseUrl, batchIdPrefixOf(id)).catch(() => undefined) : undefined;
    return listed?.get(id) ?? stopped(id);
  };
  return async () => (await Promise.all([stopped(input.requestId), batch ? batchStopped(batch) : false])).includes(true);
}

df.app.activity(FunctionNames.callRecipient, { handler: callRecipient, extraInputs: [df.input.durableClient()] });

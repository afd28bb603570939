import * as df from "durable-functions";
import type { InvocationContext } from "@azure/functions";
import { UrlAllowlist } from "../gather/allowlist";
import { watchGather } from "../gather/closing";
import { deliver, RecipientError } from "../gather/deliver";
import { readLimits } from "../gather/limits";
import type { CallRecipientInput, CallRecipientOutput } from "../gather/types";
import { stillGathering } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { trackRecipientCall } from "../telemetry";

/**
 * Throws a RecipientError when the attempt failed; the orchestrator decides about retries.
 * A call whose gather was terminated or has closed (this process or another) is not made: activities
 * already queued still run after a terminate, and each would otherwise reach its recipient.
 * Each attempt (each invocation) is one dependency in Application Insights. Activities run at least
 * once: should the host run an invocation again, its dependency is recorded again (accepted).
 */
export async function callRecipient(input: CallRecipientInput, context: InvocationContext): Promise<CallRecipientOutput> {
  const limits = readLimits();
  const { recipient } = input;
  const call = {
    instanceId: input.requestId,
    recipientId: recipient.id,
    url: "url" in recipient ? recipient.url : undefined,
    method: "url" in recipient ? recipient.method : undefined,
    invocationId: context?.invocationId,
  };
  if (!(await gatherStillOpen(input, context))) throw new RecipientError(STOPPED);
  const started = performance.now();
  // Ends the call at once if the gather closes meanwhile (closing.ts).
  const watch = watchGather(input.closeKey ?? input.requestId);
  try {
    const output = await deliver(input, { maxResponseBytes: limits.maxResponseBytes, allowlist: new UrlAllowlist(limits.recipientUrlAllowlist), cancel: watch.signal });
    trackRecipientCall({ ...call, durationMs: output.durationMs, success: true });
    return output;
  } catch (error) {
    trackRecipientCall({ ...call, durationMs: performance.now() - started, success: false, error: (error as Error)?.message ?? String(error) });
    throw error;
  } finally {
    watch.release();
  }
}

const STOPPED = "cancelled: the gather was stopped or closed before this call started";

/** Both the gather and the batch that scheduled this call (the trigger's instanceId) still gather. */
async function gatherStillOpen(input: CallRecipientInput, context: InvocationContext): Promise<boolean> {
  let client: df.DurableClient;
  try {
    client = df.getClient(context);
  } catch {
    return true; // invoked without the client binding (a test calling the handler directly)
  }
  const owner = context.triggerMetadata?.instanceId;
  const checks = [stillGathering(client, input.requestId)];
  if (typeof owner === "string" && owner !== input.requestId) checks.push(stillGathering(client, owner));
  return (await Promise.all(checks)).every(Boolean);
}

df.app.activity(FunctionNames.callRecipient, { handler: callRecipient, extraInputs: [df.input.durableClient()] });

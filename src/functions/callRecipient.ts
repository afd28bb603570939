import * as df from "durable-functions";
import type { InvocationContext } from "@azure/functions";
import { UrlAllowlist } from "../gather/allowlist";
import { watchGather } from "../gather/closing";
import { deliver } from "../gather/deliver";
import { readLimits } from "../gather/limits";
import type { CallRecipientInput, CallRecipientOutput } from "../gather/types";
import { FunctionNames } from "../durable/names";
import { trackRecipientCall } from "../telemetry";

/**
 * Throws a RecipientError when the attempt failed, so callActivityWithRetry can retry it.
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

df.app.activity(FunctionNames.callRecipient, { handler: callRecipient });

import * as df from "durable-functions";
import type { InvocationContext } from "@azure/functions";
import { UrlAllowlist } from "../gather/allowlist";
import { deliver } from "../gather/deliver";
import { readLimits } from "../gather/limits";
import type { CallRecipientInput, CallRecipientOutput } from "../gather/types";
import { FunctionNames } from "../durable/names";

/** Throws a RecipientError when the attempt failed, so callActivityWithRetry can retry it. */
export async function callRecipient(input: CallRecipientInput, _context: InvocationContext): Promise<CallRecipientOutput> {
  const limits = readLimits();
  return deliver(input, { maxResponseBytes: limits.maxResponseBytes, allowlist: new UrlAllowlist(limits.recipientUrlAllowlist) });
}

df.app.activity(FunctionNames.callRecipient, { handler: callRecipient });

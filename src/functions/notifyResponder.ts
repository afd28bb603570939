import * as df from "durable-functions";
import type { InvocationContext } from "@azure/functions";
import { UrlAllowlist } from "../gather/allowlist";
import { notify } from "../gather/deliver";
import { readLimits } from "../gather/limits";
import type { Json } from "../gather/types";
import { FunctionNames } from "../durable/names";

/** Publishes an auction request to one notify URL, once. Never throws: the auction goes on regardless. */
export async function notifyResponder(input: { url: string; payload: Json }, context: InvocationContext): Promise<{ url: string; delivered: boolean; error?: string }> {
  const limits = readLimits();
  try {
    await notify(input.url, input.payload, { maxResponseBytes: limits.maxResponseBytes, allowlist: new UrlAllowlist(limits.recipientUrlAllowlist) });
    return { url: input.url, delivered: true };
  } catch (error) {
    context.warn(`notify ${input.url} failed: ${(error as Error).message}`);
    return { url: input.url, delivered: false, error: (error as Error).message };
  }
}

df.app.activity(FunctionNames.notifyResponder, { handler: notifyResponder });

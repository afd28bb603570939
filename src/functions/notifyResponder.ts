import * as df from "durable-functions";
import type { InvocationContext } from "@azure/functions";
import { UrlAllowlist } from "../gather/allowlist";
import { notify } from "../gather/deliver";
import { readLimits } from "../gather/limits";
import { RunPayloads } from "../gather/runPayloads";
import type { RunRef } from "../gather/types";
import { answerTokenKey, withToken } from "../http/answerTokens";
import { getPayloadStore } from "../payload";
import { FunctionNames } from "../durable/names";

interface NotifyInput {
  url: string;
  requestId: string;
  /** The run whose stored request is published. */
  run: RunRef;
  /** The bidders' route without its token: the token is added here, so it never enters history. */
  respondUrl: string;
}

/**
 * Publishes an auction request to one notify URL, once: `{ requestId, request, respondUrl }`, the
 * request read from the payload store, respondUrl with the run's capability token. Never throws: the
 * auction goes on regardless.
 */
async function notifyResponder(
  input: NotifyInput,
  context: InvocationContext,
): Promise<{ url: string; delivered: boolean; error?: string }> {
  const limits = readLimits();
  try {
    const request = await new RunPayloads(getPayloadStore(), input.run).request();
    const respondUrl = withToken(input.respondUrl, await answerTokenKey(getPayloadStore), input.run);
    await notify(
      input.url,
      { requestId: input.requestId, request, respondUrl },
      { maxResponseBytes: limits.maxResponseBytes, allowlist: new UrlAllowlist(limits.recipientUrlAllowlist) },
    );
    return { url: input.url, delivered: true };
  } catch (error) {
    context.warn(`notify ${input.url} failed: ${(error as Error).message}`);
    return { url: input.url, delivered: false, error: (error as Error).message };
  }
}

df.app.activity(FunctionNames.notifyResponder, { handler: notifyResponder });

import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { closeBatchInstances } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { markGatherClosed } from "../gather/closing";
import { batchInstanceId } from "../gather/instanceIds";
import type { CloseBatchesInput } from "../gather/types";

/**
 * Closes the batches of a large fan-out that are still running once their parent gather has decided or reached
 * its deadline: each gets CLOSE_EVENT and ends its gathering at once, cancelling its deadline and retry timers
 * (durable/client.ts closeBatchInstances). Then the gather's calls still running in this process end at once
 * (closing.ts): a closed batch completes, and hands its parent what it recorded, only once no call of its is
 * open. Calls elsewhere, or all of them when the host queued this behind them, end as they read the parent's
 * status (it says aggregating as it decides) or their batch's. Never throws.
 */
async function closeBatches(input: CloseBatchesInput, context: InvocationContext): Promise<{ closed: number }> {
  const instanceIds = input.batches.map((batch) => batchInstanceId(input.requestId, input.batchIdPrefix, batch));
  const closed = await closeBatchInstances(df.getClient(context), instanceIds, { log: (message) => context.log(message) });
  if (input.closeKey) markGatherClosed(input.closeKey);
  return { closed };
}

df.app.activity(FunctionNames.closeBatches, { handler: closeBatches, extraInputs: [df.input.durableClient()] });

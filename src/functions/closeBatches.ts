import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { CLOSE_EVENT, FunctionNames } from "../durable/names";
import { markGatherClosed } from "../gather/closing";

/**
 * Closes the batches of a large fan-out that are still running once their parent gather has decided:
 * each gets CLOSE_EVENT and ends its gathering at once, cancelling its deadline and retry timers. Then the
 * gather's calls still running in this process end (closing.ts): a closed batch completes, and hands its
 * parent what it recorded, only once no call of its is open. The events go first, so each batch takes its
 * close before any call this ends. Never throws: a batch that finished meanwhile (the client answers 404/410)
 * needs no closing.
 */
async function closeBatches(input: { instanceIds: string[]; closeKey?: string }, context: InvocationContext): Promise<{ closed: number }> {
  const client = df.getClient(context);
  let closed = 0;
  for (const instanceId of input.instanceIds) {
    try {
      await client.raiseEvent(instanceId, CLOSE_EVENT, null);
      closed++;
    } catch (error) {
      context.log(`batch ${instanceId} was not closed: ${(error as Error).message}`);
    }
  }
  if (input.closeKey) markGatherClosed(input.closeKey);
  return { closed };
}

df.app.activity(FunctionNames.closeBatches, { handler: closeBatches, extraInputs: [df.input.durableClient()] });

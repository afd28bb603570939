/**
 * What the starter adds to the orchestration input for `concurrency` (docs/api.md "Fan-out control"): the
 * request's limits, the origin table when perOrigin applies (so the orchestrators never need the recipient
 * list), and, above FANOUT_BATCH_SIZE, how many batches run at once. Computed once, outside any orchestrator.
 */
import { originOf, type Recipient } from "./transports";
import type { ConcurrencySpec, OrchestrationInput } from "./types";
import { encodeOriginTable, numberOrigins, planBatchSlots } from "./window";

export function concurrencyInput(
  recipients: readonly Recipient[],
  concurrency: ConcurrencySpec,
  batchSize: number,
): Pick<OrchestrationInput, "concurrency" | "origins" | "batchSlots" | "lendShares"> {
  const origins = concurrency.perOrigin !== undefined ? numberOrigins(recipients.map(originOf)) : undefined;
  const batched = recipients.length > batchSize;
  return {
    concurrency,
    ...(origins ? { origins: encodeOriginTable(origins) } : {}),
    ...(batched ? { batchSlots: planBatchSlots({ total: recipients.length, batchSize, concurrency, origins }), lendShares: true } : {}),
  };
}

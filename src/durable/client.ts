/** Small conveniences over the durable client, shared by the HTTP functions. */
import type { DurableClient, DurableOrchestrationStatus } from "durable-functions";

const ACTIVE = new Set(["Pending", "Running", "Suspended", "ContinuedAsNew"]);

/** The instance's status, or undefined when the id is unknown (the client throws on the host's 404). */
export async function findStatus(client: DurableClient, instanceId: string, showInput = false): Promise<DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId, { showHistory: false, showHistoryOutput: false, showInput });
  } catch (error) {
    if (/\b404\b/.test((error as Error).message)) return undefined;
    throw error;
  }
}

export function isActive(status: DurableOrchestrationStatus): boolean {
  return ACTIVE.has(String(status.runtimeStatus));
}

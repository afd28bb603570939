/** An instance's status document as the host reports it (DurableClient / HttpApiHandler field names and formats). */
import { historyForStatus, parsePayload } from "./history";
import type { InstanceData } from "./store";
import type { InstanceStatus, StatusOptions } from "./types";

/** The host prints DateTime status fields as "yyyy-MM-ddTHH:mm:ssZ". */
export function hostTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

export function instanceStatus(inst: InstanceData, options: StatusOptions): InstanceStatus {
  const showInput = options.showInput !== false;
  const status: InstanceStatus = {
    name: inst.name,
    instanceId: inst.instanceId,
    runtimeStatus: inst.status,
    input: showInput ? parsePayload(inst.input) : null,
    customStatus: parsePayload(inst.customStatus),
    output: parsePayload(inst.output),
    createdTime: hostTime(inst.createdTime),
    lastUpdatedTime: hostTime(inst.lastUpdatedTime),
  };
  if (options.showHistory && inst.status !== "Pending") {
    status.historyEvents = historyForStatus(inst.history, options.showHistoryOutput === true, showInput);
  }
  return status;
}

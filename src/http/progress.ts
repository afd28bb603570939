/** The `progress` field of GET /api/scatter-gather/{id}. */
import type { GatherProgress } from "../gather/types";

/**
 * While the instance is active: its customStatus as it is. Once it has finished, the counts it ended
 * with under `phase: "done"` (the orchestrator's last status may still say "aggregating" or
 * "gathering"), or null when the custom status carries no counts.
 */
export function progressOf(customStatus: unknown, active: boolean): unknown {
  if (active) return customStatus ?? null;
  if (!hasCounts(customStatus)) return null;
  return { ...customStatus, phase: "done" } satisfies GatherProgress;
}

function hasCounts(value: unknown): value is GatherProgress {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return ["total", "succeeded", "failed", "pending"].every((k) => typeof v[k] === "number");
}

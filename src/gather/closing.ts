/**
 * Stopping a closed gather's remaining calls. DTFx completes an orchestration only when no task is
 * open (TaskOrchestrationExecutor: `if (!this.context.HasOpenTasks)`), so after a first / quorum /
 * deadline close, in-flight and queued recipient calls would hold the result back and still cost a
 * call each. The aggregation activity marks its gather closed; calls of that gather running or
 * starting in the same worker process then end at once. Calls on other instances run to their own
 * timeout: this is an optimisation of time and cost, never needed for correctness.
 */

const RETAIN_MS = 60 * 60 * 1000;

const closedAt = new Map<string, number>();
const inFlight = new Map<string, Set<AbortController>>();

export function markGatherClosed(requestId: string, now = Date.now()): void {
  closedAt.set(requestId, now);
  for (const controller of inFlight.get(requestId) ?? []) controller.abort(new GatherClosedError());
  inFlight.delete(requestId);
  for (const [id, at] of closedAt) if (now - at > RETAIN_MS) closedAt.delete(id);
}

export function isGatherClosed(requestId: string): boolean {
  return closedAt.has(requestId);
}

class GatherClosedError extends Error {
  override readonly name = "GatherClosedError";
  constructor() {
    super("the gather closed before this call finished");
  }
}

/** A signal aborted when any of `keys` is marked closed (the gather, or the call's batch); call release() when the call ends. */
export function watchGather(...keys: string[]): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  if (keys.some((key) => closedAt.has(key))) {
    controller.abort(new GatherClosedError());
    return { signal: controller.signal, release: () => undefined };
  }
  for (const key of keys) {
    let set = inFlight.get(key);
    if (!set) inFlight.set(key, (set = new Set()));
    set.add(controller);
  }
  return {
    signal: controller.signal,
    release: () => {
      for (const key of keys) {
        const current = inFlight.get(key);
        current?.delete(controller);
        if (current?.size === 0) inFlight.delete(key);
      }
    },
  };
}

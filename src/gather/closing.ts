/**
 * Stopping a closed gather's remaining calls. DTFx completes an orchestration only when no task is
 * open (TaskOrchestrationExecutor: `if (!this.context.HasOpenTasks)`), so after a first / quorum /
 * deadline close, in-flight and queued recipient calls would hold the result back and still cost a
 * call each. The aggregation activity (or closeBatches) marks its gather closed; calls of that gather
 * running or starting in the same worker process then end at once. A call also asks, every second
 * while it runs, whether the instance that scheduled it has stopped gathering (its status), so it ends
 * within about a second of a close that no activity of its own process marks: one made on another
 * instance, or one whose activity waits in the queue behind the very calls it would end (the host runs
 * at most maxConcurrentActivityFunctions at once). This saves time and calls, never needed for correctness.
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

/** How often a call in flight asks whether its gather has stopped (the status reads behind it are shared per process). */
export const CLOSE_POLL_MS = 1000;

export interface WatchOptions {
  /** Whether the call's gather has stopped gathering, as its instance's status says; a rejection counts as not. */
  stopped?: () => Promise<boolean>;
  everyMs?: number;
}

/**
 * A signal aborted when `closeKey` (the gather's execution) is marked closed in this process or, polled every
 * `everyMs` from the start, `stopped` says so; call release() when the call ends.
 */
export function watchGather(
  closeKey: string,
  { stopped, everyMs = CLOSE_POLL_MS }: WatchOptions = {},
): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  if (closedAt.has(closeKey)) {
    controller.abort(new GatherClosedError());
    return { signal: controller.signal, release: () => undefined };
  }
  let set = inFlight.get(closeKey);
  if (!set) inFlight.set(closeKey, (set = new Set()));
  set.add(controller);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let released = false;
  const poll = () => {
    timer = setTimeout(() => {
      void stopped!()
        .catch(() => false)
        .then((closed) => {
          if (released || controller.signal.aborted) return;
          if (closed) controller.abort(new GatherClosedError());
          else poll();
        });
    }, everyMs);
    timer.unref?.();
  };
  if (stopped) poll();
  return {
    signal: controller.signal,
    release: () => {
      released = true;
      clearTimeout(timer);
      const current = inFlight.get(closeKey);
      current?.delete(controller);
      if (current?.size === 0) inFlight.delete(closeKey);
    },
  };
}

/**
 * Durable timers: the clock (real or injected) and the set of armed timers, keyed so that a timer is armed once
 * per (instance, execution, timer id) however often it is re-dispatched, and all of them are cancelled on stop.
 */
import type { Clock } from "./types";

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    // Node timers cap at 2^31-1 ms; long durable timers re-arm in steps.
    const MAX = 2 ** 31 - 1;
    let handle: NodeJS.Timeout;
    const due = Date.now() + ms;
    const arm = () => {
      const left = due - Date.now();
      handle = setTimeout(left > MAX ? arm : fn, Math.max(0, Math.min(left, MAX)));
      handle.unref?.();
    };
    arm();
    return { cancel: () => clearTimeout(handle) };
  },
};

export interface DurableTimer {
  instanceId: string;
  executionId: string;
  id: number;
  fireAt: string;
}

/** The armed durable timers; `fire` is called once per timer when it is due (not after cancelAll). */
export class TimerSet {
  private readonly armed = new Map<string, { cancel(): void }>();

  constructor(
    private readonly clock: Clock,
    private readonly fire: (timer: DurableTimer) => void,
  ) {}

  get size(): number {
    return this.armed.size;
  }

  /** Arms a timer unless the same one is armed already. */
  arm(timer: DurableTimer): void {
    const key = `${timer.instanceId}\u0000${timer.executionId}\u0000${timer.id}`;
    if (this.armed.has(key)) return;
    const delay = Math.max(0, Date.parse(timer.fireAt) - this.clock.now());
    const handle = this.clock.setTimeout(() => {
      this.armed.delete(key);
      this.fire(timer);
    }, delay);
    this.armed.set(key, handle);
  }

  cancelAll(): void {
    for (const t of this.armed.values()) t.cancel();
    this.armed.clear();
  }
}

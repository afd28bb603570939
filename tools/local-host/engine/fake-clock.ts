/** A manual clock for tests: time moves only when advance() is called; due timers fire in order. */
import type { Clock } from "./types";

export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.parse("2024-01-01T00:00:00.000Z")) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    const id = this.seq++;
    this.pending.set(id, { at: this.current + Math.max(0, ms), fn });
    return { cancel: () => void this.pending.delete(id) };
  }

  /** Timers currently armed, as absolute due times (ms). */
  dueTimes(): number[] {
    return [...this.pending.values()].map((p) => p.at).sort((a, b) => a - b);
  }

  /** Moves time forward, firing every timer that comes due (in due order). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let nextId: number | undefined;
      let next: { at: number; fn: () => void } | undefined;
      for (const [id, p] of this.pending) {
        if (p.at <= target && (!next || p.at < next.at)) {
          next = p;
          nextId = id;
        }
      }
      if (!next || nextId === undefined) break;
      this.pending.delete(nextId);
      this.current = Math.max(this.current, next.at);
      next.fn();
    }
    this.current = target;
  }
}

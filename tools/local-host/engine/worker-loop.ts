/**
 * One generic bounded worker loop (durabletask-go's worker): a FIFO of work items, at most `limit` running at
 * once; each finished item frees its slot and pulls the next. stop() drops the queue and forgets in-flight
 * items (their completions no longer count), start() opens it again.
 */
export interface WorkerLoopOptions<T> {
  /** Called at dequeue time; false skips the item without taking a slot. */
  onStart?: (item: T) => boolean;
  /** Called after an item finished (not when the loop was stopped meanwhile). */
  onDone?: (item: T) => void;
  /** Where a failing item's error goes. */
  onError?: (item: T, err: unknown) => void;
  /** Run each item on a later tick (so that messages arriving in the same burst land in one batch). */
  deferred?: boolean;
}

export class BoundedWorkerLoop<T> {
  private readonly queue: T[] = [];
  private inFlight = 0;
  private generation = 0;
  private open = false;

  constructor(
    private readonly limit: number,
    private readonly run: (item: T) => Promise<void>,
    private readonly options: WorkerLoopOptions<T> = {},
  ) {}

  /** Items running now. */
  get running(): number {
    return this.inFlight;
  }

  /** Items waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  start(): void {
    this.open = true;
    this.pump();
  }

  stop(): void {
    this.open = false;
    this.generation++;
    this.queue.length = 0;
    this.inFlight = 0;
  }

  push(item: T): void {
    this.queue.push(item);
    this.pump();
  }

  private pump(): void {
    while (this.open && this.inFlight < this.limit && this.queue.length > 0) {
      const item = this.queue.shift()!;
      if (this.options.onStart && !this.options.onStart(item)) continue;
      this.inFlight++;
      const gen = this.generation;
      const go = () => {
        if (gen !== this.generation) return; // stopped before a deferred item began
        this.run(item)
          .catch((err) => this.options.onError?.(item, err))
          .finally(() => {
            if (gen !== this.generation) return;
            this.inFlight--;
            this.options.onDone?.(item);
            this.pump();
          });
      };
      if (this.options.deferred) setImmediate(go);
      else go();
    }
  }
}

/**
 * Lending window share across batches (gather/window.ts planLoans). A windowed batch holds its slot's share until it
 * ends; once no batch is left to start, the share of each batch that ends would sit idle while a running batch may
 * have calls waiting behind slow ones. The parent then lends it: a lendShares activity reads the running batches'
 * waiting calls from their statuses and raises SHARE_EVENT on those it lends to, and the parent counts each loan as
 * that batch's share until the batch ends (then it is free again). Only what batches that ended held is lent, so the
 * running batches' shares still add up to at most the window. One lending at a time, and only for batches that ended:
 * what ended while a lending was out is lent as it comes back, but a pool nobody needed waits for the next end rather
 * than being offered again and again.
 */
import type * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import type { ConcurrencySpec } from "../gather/spec";
import type { LendSharesInput, RunRef, ShareLoan } from "../gather/types";
import type { CompletionStream } from "./completionStream";
import { FunctionNames } from "./names";

export class ShareLender {
  private readonly held = new Map<number, ConcurrencySpec>();
  private pool: ConcurrencySpec = {};
  private lending: { task: df.Task; amount: ConcurrencySpec } | undefined;
  /** Lendings so far: the next one's number (it names the loans, which a batch takes once). */
  private lendings = 0;
  /** A batch ended since the last lending went out: its share is new to the pool. */
  private ended = false;

  constructor(
    private readonly context: OrchestrationContext,
    private readonly stream: CompletionStream,
    private readonly at: { requestId: string; batchIdPrefix?: string; run: RunRef },
  ) {}

  /** Batch `batch` started with this share. */
  hold(batch: number, share: ConcurrencySpec): void {
    this.held.set(batch, share);
  }

  /** Batch `batch` ended with no batch left to start: its share (loans included) is lent to `running` if they need it. */
  release(batch: number, running: number[]): void {
    const share = this.held.get(batch);
    this.held.delete(batch);
    if (share) this.pool = plus(this.pool, share);
    this.ended = true;
    this.lend(running);
  }

  private lend(running: number[]): void {
    if (this.lending || !this.ended || running.length === 0 || !someOf(this.pool)) return;
    this.ended = false;
    const input: LendSharesInput = { ...this.at, lending: this.lendings++, running, pool: this.pool };
    this.lending = { task: this.context.df.callActivity(FunctionNames.lendShares, input), amount: this.pool };
    this.pool = {};
    this.stream.add(this.lending.task);
  }

  /** Batch `batch` ended while batches are still to start: its slot goes to the next (its share is not pooled). */
  forget(batch: number): void {
    this.held.delete(batch);
  }

  owns(task: df.Task): boolean {
    return task === this.lending?.task;
  }

  /**
   * The loans came back: each counts as its batch's share (a batch that ended meanwhile gives it back at once). What
   * batches that ended meanwhile freed is lent to `running` now (none when the gather may no longer call: `mayLend`).
   */
  take(task: df.Task, running: number[], mayLend: boolean): void {
    const { amount } = this.lending!;
    this.lending = undefined;
    // A lending that failed may have raised loans before it failed (the activity never throws of its own): its amount
    // is not lent again, as the batches may hold it; their shares then stay within the window, the window a bit less full.
    if (task.isFaulted) return;
    // What was not lent, or lent to a batch that ended meanwhile, is free again.
    let left = amount;
    for (const [batch, maxInFlight, perOrigin] of task.result as ShareLoan[]) {
      const share = this.held.get(batch);
      if (!share) continue;
      const loan = tidy({
        maxInFlight: amount.maxInFlight === undefined ? undefined : maxInFlight,
        perOrigin: amount.perOrigin === undefined ? undefined : perOrigin,
      });
      this.held.set(batch, plus(share, loan));
      left = minus(left, loan);
    }
    this.pool = plus(this.pool, left);
    if (mayLend) this.lend(running);
  }
}

/** Limits add up per field; a field neither side has stays absent (no limit of that kind). */
function plus(a: ConcurrencySpec, b: ConcurrencySpec): ConcurrencySpec {
  const add = (x?: number, y?: number) => (x === undefined && y === undefined ? undefined : (x ?? 0) + (y ?? 0));
  return tidy({ maxInFlight: add(a.maxInFlight, b.maxInFlight), perOrigin: add(a.perOrigin, b.perOrigin) });
}

function minus(a: ConcurrencySpec, b: ConcurrencySpec): ConcurrencySpec {
  return plus(a, {
    maxInFlight: b.maxInFlight === undefined ? undefined : -b.maxInFlight,
    perOrigin: b.perOrigin === undefined ? undefined : -b.perOrigin,
  });
}

function tidy(spec: { maxInFlight?: number; perOrigin?: number }): ConcurrencySpec {
  return {
    ...(spec.maxInFlight !== undefined ? { maxInFlight: spec.maxInFlight } : {}),
    ...(spec.perOrigin !== undefined ? { perOrigin: spec.perOrigin } : {}),
  };
}

function someOf(pool: ConcurrencySpec): boolean {
  return (pool.maxInFlight ?? 0) > 0 || (pool.perOrigin ?? 0) > 0;
}

/**
 * Outcome bookkeeping for one gather: answers recorded as they arrive (O(1) each), the tally the
 * policy reads, the progress shown in customStatus, and the final responses once the gather closes.
 */
import { EqualValueCounter } from "./equalValues";
import { atDeadline, decide, type Decision } from "./policy";
import type { CompletionPolicy, Counts, GatherProgress, Json, RecipientResponse } from "./types";

export class GatherTally {
  private readonly responses: (RecipientResponse | undefined)[];
  private succeeded = 0;
  private failed = 0;
  private timedOut = 0;
  private abandoned = 0;
  private readonly agreement = new EqualValueCounter();

  /** `recipientIds` in recipient-list order; answers are recorded by index into it. */
  constructor(
    private readonly recipientIds: readonly string[],
    private readonly policy: CompletionPolicy,
  ) {
    this.responses = new Array(recipientIds.length);
  }

  get total(): number {
    return this.recipientIds.length;
  }

  get pending(): number {
    return this.total - this.succeeded - this.failed - this.timedOut - this.abandoned;
  }

  isRecorded(index: number): boolean {
    return this.responses[index] !== undefined;
  }

  succeed(index: number, value: Json, extra: { attempts?: number; durationMs?: number } = {}): void {
    this.record(index, { recipientId: this.recipientIds[index], status: "succeeded", value, ...extra });
    this.succeeded++;
    if (this.policy.agree) this.agreement.add(value);
  }

  fail(index: number, error: string, extra: { attempts?: number } = {}): void {
    this.record(index, { recipientId: this.recipientIds[index], status: "failed", error, ...extra });
    this.failed++;
  }

  /** An answer settled elsewhere (a batch's response): recorded as it is. */
  settle(index: number, response: RecipientResponse): void {
    switch (response.status) {
      case "succeeded":
        return this.succeed(index, response.value ?? null, pick(response));
      case "failed":
        return this.fail(index, response.error ?? "failed", pick(response));
      case "timedOut":
        this.record(index, response);
        this.timedOut++;
        return;
      case "abandoned":
        this.record(index, response);
        this.abandoned++;
        return;
    }
  }

  /** The policy's verdict on what has been recorded so far. */
  decision(): Decision | undefined {
    return decide(this.policy, {
      total: this.total,
      succeeded: this.succeeded,
      failed: this.failed,
      timedOut: this.timedOut,
      pending: this.pending,
      largestAgreement: this.agreement.largest,
    });
  }

  /** The verdict when the deadline fires first. */
  deadlineDecision(): Decision {
    return atDeadline({ succeeded: this.succeeded });
  }

  progress(deadline: string | null, phase: GatherProgress["phase"] = "gathering"): GatherProgress {
    return { phase, total: this.total, succeeded: this.succeeded, failed: this.failed, pending: this.pending, deadline };
  }

  /**
   * Closes the gather: every recipient still pending becomes `timedOut` (closed by the deadline) or
   * `abandoned` (closed early by the policy, or with no decision: by a parent gather that decided).
   * Returns the responses in recipient-list order.
   */
  close(decision: Decision | undefined): { responses: RecipientResponse[]; counts: Counts } {
    const status = decision?.closedBy === "deadline" ? "timedOut" : "abandoned";
    for (let i = 0; i < this.responses.length; i++) {
      if (this.responses[i] === undefined) this.settle(i, { recipientId: this.recipientIds[i], status });
    }
    return { responses: this.responses as RecipientResponse[], counts: this.counts() };
  }

  counts(): Counts {
    return { total: this.total, succeeded: this.succeeded, failed: this.failed, timedOut: this.timedOut, abandoned: this.abandoned };
  }

  private record(index: number, response: RecipientResponse): void {
    if (this.responses[index] !== undefined) throw new Error(`recipient ${this.recipientIds[index]} was recorded twice`);
    this.responses[index] = response;
  }
}

function pick(response: RecipientResponse): { attempts?: number; durationMs?: number } {
  return {
    ...(response.attempts !== undefined ? { attempts: response.attempts } : {}),
    ...(response.durationMs !== undefined ? { durationMs: response.durationMs } : {}),
  };
}

/**
 * Recipient outcomes as the orchestrator knows them (no recipient id, no value: both live in the
 * payload store, the value at `answer`), and their packed form for durable payloads: one short row per
 * recipient, each distinct error and each answer group once, so 10,000 outcomes stay around 300 KB
 * whatever the recipients answered.
 */
import type { AnswerRef } from "./answerGroups";
import type { ResponseStatus } from "./types";

export interface RecipientOutcome {
  status: ResponseStatus;
  attempts?: number;
  durationMs?: number;
  error?: string;
  /** Where a succeeded call's answer is stored. */
  answer?: AnswerRef;
}

/**
 * [status code, attempts, durationMs, error number, answer group number, answer offset, answer length];
 * -1 for an absent number, trailing ones left out.
 */
export type PackedRow = [string, number?, number?, number?, number?, number?, number?];
export interface PackedOutcomes {
  rows: PackedRow[];
  errors: string[];
  /** Answer group ids, each once. */
  groups?: string[];
}

const CODE: Record<ResponseStatus, string> = { succeeded: "s", failed: "f", timedOut: "t", abandoned: "a" };
const STATUS: Record<string, ResponseStatus> = { s: "succeeded", f: "failed", t: "timedOut", a: "abandoned" };
/** Error reasons are short ("HTTP 503", "timed out after 2000 ms"); longer ones are cut. */
const MAX_ERROR_CHARS = 300;
const MAX_DISTINCT_ERRORS = 200;
const OTHER_ERRORS = "failed (one of many distinct errors; see the result document)";

export function clipError(error: string): string {
  return error.length > MAX_ERROR_CHARS ? `${error.slice(0, MAX_ERROR_CHARS - 1)}…` : error;
}

export function packOutcomes(outcomes: readonly RecipientOutcome[]): PackedOutcomes {
  const groups: string[] = [];
  const groupNumbers = new Map<string, number>();
  const groupNumber = (group: string): number => {
    let n = groupNumbers.get(group);
    if (n === undefined) groupNumbers.set(group, (n = groups.push(group) - 1));
    return n;
  };
  const errors: string[] = [];
  const numberOf = new Map<string, number>();
  const errorNumber = (error: string): number => {
    let n = numberOf.get(error);
    if (n === undefined) {
      if (errors.length >= MAX_DISTINCT_ERRORS && error !== OTHER_ERRORS) return errorNumber(OTHER_ERRORS);
      n = errors.push(error) - 1;
      numberOf.set(error, n);
    }
    return n;
  };
  const rows = outcomes.map((o): PackedRow => {
    const row: PackedRow = [
      CODE[o.status],
      o.attempts ?? -1,
      o.durationMs ?? -1,
      o.error !== undefined ? errorNumber(clipError(o.error)) : -1,
    ];
    if (o.answer) row.push(groupNumber(o.answer.group), o.answer.offset, o.answer.length);
    while (row.length > 1 && row[row.length - 1] === -1) row.pop();
    return row;
  });
  return { rows, errors, ...(groups.length > 0 ? { groups } : {}) };
}

export function unpackOutcomes(packed: PackedOutcomes): RecipientOutcome[] {
  return packed.rows.map(([code, attempts = -1, durationMs = -1, error = -1, group = -1, offset = -1, length = -1]) => ({
    status: STATUS[code],
    ...(attempts >= 0 ? { attempts } : {}),
    ...(durationMs >= 0 ? { durationMs } : {}),
    ...(error >= 0 ? { error: packed.errors[error] } : {}),
    ...(group >= 0 && packed.groups ? { answer: { group: packed.groups[group], offset, length } } : {}),
  }));
}

/** An outcome as the API shows it: without the internal answer ref. */
export function publicOutcome<T extends { answer?: AnswerRef }>(outcome: T): Omit<T, "answer"> {
  const { answer: _answer, ...shown } = outcome;
  return shown;
}

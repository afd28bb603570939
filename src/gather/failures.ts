/**
 * The short reason a recipient failed, recovered from the error the orchestrator sees. The host wraps
 * an activity's error as "Activity function 'callRecipient' failed: <message>" (the worker may frame
 * the message as "Result: Failure\nException: <message>\nStack: ..."), and durable-functions appends
 * " \n <details JSON>". Only the reason part is read; the details may repeat anything, escaped.
 */
export function failureReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const reason = message.split(" \n ")[0].replace(/^Activity function '[^']*' failed:\s*/, "");
  const framed = /(?:^|\n)Exception:\s*([^\n]*)/.exec(reason);
  const line = framed ? framed[1] : reason.split("\n")[0];
  return line.replace(/^RecipientError:\s*/, "").trim() || "failed";
}

/**
 * The wait a recipient asked for (Retry-After) crosses the activity boundary inside the failure's reason,
 * the one line the orchestrator is sure to get back (above): `HTTP 429 (Retry-After 2 s)`. Seconds with at
 * most three decimals, at most MAX_GATHER_DEADLINE_MS (retryAfter.ts caps it), so the note stays short.
 */
const RETRY_AFTER_NOTE = / \(Retry-After (\d{1,6}(?:\.\d{1,3})?) s\)$/;

/** `reason` with the wait its recipient asked for. */
export function withRetryAfter(reason: string, waitMs: number): string {
  return `${reason} (Retry-After ${seconds(waitMs)} s)`;
}

/** A reason without its Retry-After note, and the wait the note named (ms), if it had one. */
export function retryAfterOf(reason: string): { reason: string; retryAfterMs?: number } {
  const note = RETRY_AFTER_NOTE.exec(reason);
  if (!note) return { reason };
  return { reason: reason.slice(0, note.index), retryAfterMs: Math.round(Number(note[1]) * 1000) };
}

/** `2`, `1.532`: milliseconds as seconds, for people and for the note above. */
export function seconds(ms: number): string {
  return String(Math.round(Math.max(0, ms)) / 1000);
}

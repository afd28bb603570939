/**
 * The short reason a recipient failed, recovered from the error the orchestrator sees. The host wraps
 * an activity's error ("Activity function 'callRecipient' failed: ...", worker framing, stack, then
 * the SDK appends " \n <details>"), so the reason is found by the RecipientError name where present.
 */
export function failureReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const named = /RecipientError: ([^\n]*)/.exec(message);
  if (named) return named[1].trim();
  const firstLine = message.split(" \n ")[0].split("\n")[0];
  return firstLine
    .replace(/^Activity function '[^']*' failed:\s*/, "")
    .replace(/^(Result: Failure\s*)?(Exception:\s*)?/, "")
    .trim() || "failed";
}

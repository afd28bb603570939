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

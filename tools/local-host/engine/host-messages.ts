/**
 * The Durable Functions host's messages and constants that both the engine and the front (worker stand-in,
 * HTTP API) reproduce, in one place: the texts are the host's (DurableClient, HttpApiHandler, the shims), so a
 * change to one must reach every caller.
 */
import type { RuntimeStatus } from "./types";

/** Runtime statuses after which an instance never runs again (OrchestrationRuntimeStatus's terminal states). */
export const TERMINAL_STATUSES: ReadonlySet<RuntimeStatus> = new Set<RuntimeStatus>(["Completed", "Failed", "Terminated", "Canceled"]);

export function isTerminal(status: RuntimeStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** DurableTask.Core OrchestrationStatus numbers, as ExecutionCompleted.OrchestrationStatus (and Enum.TryParse) carry them. */
export const OrchestrationStatus = {
  Running: 0,
  Completed: 1,
  ContinuedAsNew: 2,
  Failed: 3,
  Canceled: 4,
  Terminated: 5,
  Pending: 6,
  Suspended: 7,
} as const satisfies Record<RuntimeStatus, number>;

/** Runtime status names by number. */
export const RuntimeStatusByNumber: Readonly<Record<number, RuntimeStatus>> = Object.fromEntries(
  Object.entries(OrchestrationStatus).map(([name, n]) => [n, name as RuntimeStatus]),
);

/**
 * The host's error for a function name that is not registered with that trigger kind. With the known names
 * (DurableClient / the shims): "... Additional info: The following are the known <kind> functions: 'a', 'b'."
 */
export function unknownFunctionMessage(name: string, kind: string, known?: Iterable<string>): string {
  const head = `The function '${name}' doesn't exist, is disabled, or is not an ${kind} function.`;
  if (known === undefined) return head;
  const names = [...known];
  return (
    `${head} Additional info: ` +
    (names.length > 0
      ? `The following are the known ${kind} functions: '${names.join("', '")}'.`
      : `No ${kind} functions are currently registered!`)
  );
}

/** DurableTask.Core OrchestrationAlreadyExistsException's message (start of a Pending/Running/Suspended id). */
export function alreadyExistsMessage(status: RuntimeStatus): string {
  return `An Orchestration instance with the status ${status} already exists.`;
}

/** durable-functions' OrchestrationFailureError appends the orchestrator state to its message after this label. */
export const OUT_OF_PROC_DATA_LABEL = "\n\n$OutOfProcData$:";

/** The state carried after "$OutOfProcData$:" (what the host's OutOfProcExceptionHelpers extracts), if any. */
export function extractOutOfProcState(message: string): unknown {
  const at = message.indexOf(OUT_OF_PROC_DATA_LABEL);
  if (at === -1) return undefined;
  try {
    return JSON.parse(message.slice(at + OUT_OF_PROC_DATA_LABEL.length));
  } catch {
    return undefined;
  }
}

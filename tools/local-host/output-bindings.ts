/**
 * Output bindings the local host cannot run (everything but HTTP: blob, queue, Twilio, ...). The real host
 * hands outputData to the binding's extension; here a value would be silently lost, so such bindings are named
 * at start-up and an invocation that sets one fails instead (the function ran; its output was not written).
 */
import type { RegisteredFunction, RpcInvocationResponse } from "./worker";

const RUNNABLE_OUTPUT_TYPES = new Set(["http"]);

export interface UnsupportedOutput {
  functionName: string;
  bindingName: string;
  type: string;
}

/** A function's output bindings with no runnable type (durable triggers' implicit `$return` has no binding). */
export function unsupportedOutputs(fn: RegisteredFunction): UnsupportedOutput[] {
  return Object.entries(fn.bindings)
    .filter(([, b]) => b.direction === "out" && !RUNNABLE_OUTPUT_TYPES.has(String(b.type ?? "").toLowerCase()))
    .map(([bindingName, b]) => ({ functionName: fn.name, bindingName, type: String(b.type ?? "") }));
}

/** The start-up warning line, or undefined when every output binding can run. */
export function unsupportedOutputsBanner(fns: RegisteredFunction[]): string | undefined {
  const all = fns.flatMap(unsupportedOutputs);
  if (all.length === 0) return undefined;
  const list = all.map((u) => `${u.functionName}.${u.bindingName} (${u.type})`).join(", ");
  return `Warning: this local host cannot run these output bindings: ${list}. An invocation that sets one of them fails (its output is not written).`;
}

/** Throws when the invocation produced a value for an output binding the host cannot run. */
export function refuseUnsupportedOutputs(fn: RegisteredFunction, response: RpcInvocationResponse): void {
  for (const u of unsupportedOutputs(fn)) {
    const produced =
      u.bindingName === "$return"
        ? response.returnValue !== undefined && response.returnValue !== null
        : (response.outputData ?? []).some((o) => o.name === u.bindingName);
    if (produced) {
      throw new Error(
        `Function '${fn.name}' set its output binding '${u.bindingName}' of type '${u.type}', which the project's local host ` +
          `(tools/local-host) cannot run; the output was NOT written. Use func start for ${u.type} bindings.`,
      );
    }
  }
}

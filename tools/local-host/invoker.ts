/**
 * The invoker: calls a registered function through the worker stand-in the way the host does: trigger data
 * and the durableClient input binding as RpcTypedData, "Executing/Executed 'Functions.x'" lines, unsupported
 * output bindings refused, and an orchestrator failure's $OutOfProcData$ state attached (OutOfProcOrchestrationShim).
 */
import { randomUUID } from "node:crypto";
import { extractOutOfProcState } from "./engine/host-messages";
import type { FunctionIndex } from "./function-index";
import type { HostLog } from "./host-log";
import { refuseUnsupportedOutputs } from "./output-bindings";
import {
  fromTypedData,
  hostTypedData,
  type RegisteredFunction,
  type RpcInvocationResponse,
  type RpcParameterBinding,
  type RpcTypedData,
  type WorkerApp,
} from "./worker";

export interface InvokerDeps {
  app: WorkerApp;
  index: FunctionIndex;
  log: HostLog;
  /** The durableClient binding's JSON (BindingHelper), from the Durable HTTP API. */
  clientBindingData: (binding: { taskHub?: unknown; connectionName?: unknown }) => Record<string, unknown>;
}

export class FunctionInvoker {
  constructor(private readonly deps: InvokerDeps) {}

  /** One invocation with its log lines; throws what the function threw. */
  async invoke(
    fn: RegisteredFunction,
    reason: string,
    inputData: RpcParameterBinding[],
    triggerMetadata: Record<string, RpcTypedData>,
  ): Promise<RpcInvocationResponse> {
    const { app, log } = this.deps;
    const inputs = [...inputData, ...this.extraInputs(fn)];
    const id = randomUUID();
    const t0 = Date.now();
    if (log.verbose) log.line(`Executing 'Functions.${fn.name}' (Reason='${reason}', Id=${id})`);
    try {
      const r = await app.invoke(fn.functionId, inputs, triggerMetadata, id);
      refuseUnsupportedOutputs(fn, r);
      log.line(`Executed 'Functions.${fn.name}' (Succeeded, Id=${id}, Duration=${Date.now() - t0}ms)`);
      return r;
    } catch (err) {
      log.line(`Executed 'Functions.${fn.name}' (Failed, Id=${id}, Duration=${Date.now() - t0}ms)`);
      throw err;
    }
  }

  /** The engine's OrchestratorInvoker. */
  async invokeOrchestrator(name: string, payload: Record<string, unknown>): Promise<unknown> {
    const fn = this.deps.index.find(name, "orchestrationTrigger");
    try {
      const r = await this.invoke(fn, `(null)`, [{ name: fn.triggerName, data: { string: JSON.stringify(payload) } }], {});
      return fromTypedData(r.returnValue);
    } catch (err) {
      attachOutOfProcState(err);
      throw err;
    }
  }

  /** The engine's ActivityInvoker. */
  async invokeActivity(name: string, input: unknown, meta: { instanceId: string; taskScheduledId: number }): Promise<unknown> {
    const fn = this.deps.index.find(name, "activityTrigger");
    const data = hostTypedData(input);
    const triggerMetadata: Record<string, RpcTypedData> = { instanceId: { string: meta.instanceId } };
    if (data) triggerMetadata.data = data;
    const r = await this.invoke(fn, `(null)`, [{ name: fn.triggerName, data }], triggerMetadata);
    return fromTypedData(r.returnValue);
  }

  /** Input data for a function's non-trigger input bindings (durableClient as BindingHelper serializes it). */
  private extraInputs(fn: RegisteredFunction): RpcParameterBinding[] {
    const inputs: RpcParameterBinding[] = [];
    for (const [name, b] of Object.entries(fn.bindings)) {
      if (name === fn.triggerName || b.direction !== "in") continue;
      const type = String(b.type ?? "").toLowerCase();
      if (type !== "durableclient" && type !== "orchestrationclient") {
        throw new Error(`Function '${fn.name}': input binding '${name}' of type '${b.type}' is not supported by this local host.`);
      }
      const data = this.deps.clientBindingData(b as { taskHub?: unknown; connectionName?: unknown });
      inputs.push({ name, data: { string: JSON.stringify(data) } });
    }
    return inputs;
  }
}

/** As the host's OutOfProcOrchestrationShim does: a failure message may carry the orchestrator state. */
function attachOutOfProcState(err: unknown): void {
  if (!(err instanceof Error) || (err as Error & { state?: unknown }).state !== undefined) return;
  const state = extractOutOfProcState(err.message);
  if (state !== undefined) (err as Error & { state?: unknown }).state = state;
}

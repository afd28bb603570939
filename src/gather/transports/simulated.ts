/**
 * Simulated recipients (`{ id, simulate: { latencyMs, failureRate, value } }`), a stand-in for demos,
 * tests and benchmarks: wait latencyMs, fail with probability failureRate, else answer value, or with
 * `valueFrom: "input"` the recipient's own input (per-item work without a server).
 */
import { z } from "zod";
import { int, optionalJson } from "../fields";
import type { Json } from "../spec";
import { CANCELLED, defineTransport, RecipientError, type RecipientBase } from "./transport";

export interface SimulatedRecipient extends RecipientBase {
  /** Answers `value`, or with valueFrom "input" the recipient's input (null when it has none). */
  simulate: { latencyMs: number; failureRate: number } & ({ value: Json } | { valueFrom: "input" });
}

const MAX_LATENCY_MS = 600_000;

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), reject(new RecipientError(CANCELLED))), { once: true });
  });

export const simulatedTransport = defineTransport({
  name: "simulated",
  marker: "simulate",
  label: "simulated",
  fields: {
    simulate: z
      .strictObject(
        {
          latencyMs: int(0, MAX_LATENCY_MS).optional(),
          failureRate: z
            .number({ error: "must be a number" })
            .min(0, { error: "must be between 0 and 1" })
            .max(1, { error: "must be between 0 and 1" })
            .optional(),
          value: optionalJson,
          valueFrom: z.enum(["input"], { error: 'must be "input" (answer the recipient\'s input)' }).optional(),
        },
        { error: "must be an object" },
      )
      .optional(),
  },
  normalize(raw, at, context): SimulatedRecipient {
    const s = raw.simulate!;
    const timing = { latencyMs: s.latencyMs ?? 0, failureRate: s.failureRate ?? 0 };
    if (s.valueFrom === undefined) return { id: raw.id, simulate: { ...timing, value: (s.value ?? null) as Json } };
    if (s.value !== undefined) context.problem(`${at}.simulate.valueFrom`, "give either simulate.value or simulate.valueFrom, not both");
    return { id: raw.id, simulate: { ...timing, valueFrom: s.valueFrom } };
  },
  async deliver({ recipient }, options) {
    const { latencyMs, failureRate } = recipient.simulate;
    const value = "valueFrom" in recipient.simulate ? (recipient.input ?? null) : recipient.simulate.value;
    if (latencyMs > 0) await (options.sleep ?? defaultSleep)(latencyMs, options.cancel);
    if (failureRate > 0 && (options.random ?? Math.random)() < failureRate) {
      throw new RecipientError(`simulated failure (failureRate ${failureRate})`);
    }
    return { value };
  },
  dependency(recipient, { success }) {
    return {
      name: "simulate",
      type: "Simulated",
      target: "simulated",
      data: `simulate ${recipient.id}`,
      resultCode: success ? "OK" : "Failed",
      // The exporter takes a custom dependency type from db.system (and drops it from the properties).
      properties: { "db.system": "Simulated" },
    };
  },
});

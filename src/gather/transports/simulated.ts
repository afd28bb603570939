/**
 * Simulated recipients (`{ id, simulate: { latencyMs, failureRate, value } }`), a stand-in for demos,
 * tests and benchmarks: wait latencyMs, fail with probability failureRate, else answer value.
 */
import { z } from "zod";
import { int, optionalJson } from "../fields";
import type { Json } from "../spec";
import { CANCELLED, defineTransport, RecipientError } from "./transport";

export interface SimulatedRecipient {
  id: string;
  simulate: { latencyMs: number; failureRate: number; value: Json };
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
        },
        { error: "must be an object" },
      )
      .optional(),
  },
  normalize(raw): SimulatedRecipient {
    const s = raw.simulate!;
    return { id: raw.id, simulate: { latencyMs: s.latencyMs ?? 0, failureRate: s.failureRate ?? 0, value: (s.value ?? null) as Json } };
  },
  async deliver({ recipient }, options) {
    const { latencyMs, failureRate, value } = recipient.simulate;
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

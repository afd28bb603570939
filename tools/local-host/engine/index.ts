/** The local host's durable engine: createEngine() is the only entry point the front needs. */
import { Engine } from "./engine";
import type { DurableEngine, EngineOptions } from "./types";

export function createEngine(options: EngineOptions): DurableEngine {
  return new Engine(options);
}

export { realClock } from "./timers";
export { FakeClock } from "./fake-clock";
export * from "./types";

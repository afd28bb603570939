/**
 * Test support: an engine wired to REAL durable-functions orchestrators (the library's own Orchestrator
 * class, what app.orchestration registers) and plain async activity functions, on a temporary data dir.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createEngine } from "./index";
import { FakeClock } from "./fake-clock";
import type { DurableEngine, EngineOptions, HistoryEvent, InstanceStatus } from "./types";
import { EventTypeName } from "./history";
import type { Engine } from "./engine";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Orchestrator } = require("durable-functions/lib/src/orchestrations/Orchestrator") as {
  Orchestrator: new (fn: unknown) => { handle(trigger: unknown, context: unknown): Promise<unknown> };
};

export type OrchestratorFn = (context: any) => Generator<unknown, unknown, any>;
/** An activity; `trigger` names the orchestration that scheduled it, as the host's trigger metadata does. */
export type ActivityFn = (input: any, trigger?: { instanceId: string; taskScheduledId: number }) => unknown | Promise<unknown>;

export interface Harness {
  engine: DurableEngine;
  clock: FakeClock;
  dataDir: string;
  logs: { level: string; message: string }[];
  /** Every trigger payload the orchestrators received, by instance id (for payload-shape checks). */
  payloads: Map<string, Record<string, unknown>[]>;
  activityCalls: { name: string; input: unknown }[];
  options: EngineOptions;
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "df-engine-"));
}

export function makeHarness(
  orchestrators: Record<string, OrchestratorFn>,
  activities: Record<string, ActivityFn>,
  extra: Partial<EngineOptions> & { dataDir?: string; clock?: FakeClock } = {},
): Harness {
  const clock = extra.clock ?? new FakeClock();
  const dataDir = extra.dataDir ?? tempDir();
  const logs: Harness["logs"] = [];
  const payloads = new Map<string, Record<string, unknown>[]>();
  const activityCalls: Harness["activityCalls"] = [];
  const options: EngineOptions = {
    dataDir,
    taskHubName: "TestHub",
    orchestrators: new Set(Object.keys(orchestrators)),
    activities: new Set(Object.keys(activities)),
    clock,
    log: (level, message) => logs.push({ level, message }),
    invokeOrchestrator: async (name, payload) => {
      // The host sends the payload as JSON: round-trip it so the SDK sees strings, as in production.
      const trigger = JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
      const list = payloads.get(String(trigger.instanceId)) ?? [];
      list.push(trigger);
      payloads.set(String(trigger.instanceId), list);
      return new Orchestrator(orchestrators[name]).handle(trigger, { df: undefined });
    },
    invokeActivity: async (name, input, trigger) => {
      activityCalls.push({ name, input });
      return activities[name](input, trigger);
    },
    ...extra,
  };
  return { engine: createEngine(options), clock, dataDir, logs, payloads, activityCalls, options };
}

/** A harness factory for a test file: every harness it made is stopped after each test. */
export function stoppedAfterEach(): (...args: Parameters<typeof makeHarness>) => Harness {
  const running: Harness[] = [];
  afterEach(async () => {
    for (const h of running.splice(0)) await h.engine.stop();
  });
  return (...args) => {
    const h = makeHarness(...args);
    running.push(h);
    return h;
  };
}

export function historyOf(h: Harness, id: string): HistoryEvent[] {
  return (h.engine as unknown as Engine).historyOf(id) ?? [];
}

/** The engine has nothing to do but wait for its clock (Engine.idle). */
export function isIdle(h: Harness): boolean {
  return (h.engine as unknown as Engine).idle;
}

export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function completed(engine: DurableEngine, id: string, timeoutMs = 10000): Promise<InstanceStatus> {
  const s = await engine.waitForCompletion(id, timeoutMs);
  if (!s) throw new Error(`no instance ${id}`);
  return s;
}

/** The raw history of an instance's current execution as the worker gets it, from the last payload sent. */
export function lastPayloadHistory(h: Harness, id: string): HistoryEvent[] {
  const list = h.payloads.get(id) ?? [];
  return (list[list.length - 1]?.history ?? []) as HistoryEvent[];
}

/** Compact shape of a history: "TaskScheduled#0", "TaskCompleted->0", "TimerFired->1", ... */
export function shape(history: readonly HistoryEvent[]): string[] {
  return history.map((e) => {
    const name = EventTypeName[e.EventType] ?? String(e.EventType);
    if (typeof e.TaskScheduledId === "number") return `${name}->${e.TaskScheduledId}`;
    if (typeof e.TimerId === "number") return `${name}->${e.TimerId}`;
    if (e.EventId >= 0 && name !== "ExecutionCompleted" && name !== "ContinueAsNew") return `${name}#${e.EventId}`;
    return name;
  });
}

/** Waits until the fake clock has at least `n` armed timers. */
export async function timersArmed(clock: FakeClock, n = 1): Promise<void> {
  await until(() => clock.dueTimes().length >= n, 10000, `${n} armed timer(s)`);
}

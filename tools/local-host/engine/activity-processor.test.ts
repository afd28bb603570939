/** The activity processor: one scheduled activity → the history event the host records. */
import { ActivityProcessor, activityInputFromHistory, type ActivityWork } from "./activity-processor";
import { FakeClock } from "./fake-clock";
import { EventType } from "./history";
import { PayloadLimit } from "./payload-limit";
import type { HistoryEvent } from "./types";

function processor(invoke: (name: string, input: unknown) => Promise<unknown>, opts: { current?: boolean; maxPayloadBytes?: number } = {}) {
  const delivered: { instanceId: string; event: HistoryEvent; executionId: string }[] = [];
  const p = new ActivityProcessor({
    activities: new Set(["Hello"]),
    invokeActivity: (name, input) => invoke(name, input),
    clock: new FakeClock(),
    payloadLimit: new PayloadLimit(opts.maxPayloadBytes ?? 1024),
    log: () => undefined,
    deliver: async (instanceId, event, executionId) => void delivered.push({ instanceId, event, executionId }),
    isCurrent: () => opts.current ?? true,
  });
  return { p, delivered };
}
const work = (name = "Hello", input: string | null = '["\\"Tokyo\\""]'): ActivityWork => ({
  instanceId: "i",
  executionId: "x",
  id: 3,
  name,
  input,
});

test("a result becomes TaskCompleted with the JSON result; the input arrives unwrapped", async () => {
  const seen: unknown[] = [];
  const { p, delivered } = processor(async (_n, input) => (seen.push(input), `Hello ${input}`));
  await p.process(work(), 0);
  expect(seen).toEqual(["Tokyo"]);
  expect(delivered).toHaveLength(1);
  expect(delivered[0]).toMatchObject({
    instanceId: "i",
    executionId: "x",
    event: { EventType: EventType.TaskCompleted, TaskScheduledId: 3, Result: '"Hello Tokyo"' },
  });
});

test("a throw becomes TaskFailed with the host's reason; an unknown name fails like TaskNonexistentActivityShim", async () => {
  const { p } = processor(async () => {
    throw new Error("nope");
  });
  const failed = await p.execute(work());
  expect(failed).toMatchObject({ EventType: EventType.TaskFailed, Reason: "Activity function 'Hello' failed: nope" });
  expect(JSON.parse(String(failed.Details)).InnerException.RemoteMessage).toBe("nope");
  const unknown = await p.execute(work("Nope"));
  expect(unknown.Reason).toBe("Activity function 'Nope' failed: Activity function 'Nope' does not exist.");
});

test("an oversized result is refused (never stored); after stop nothing is delivered", async () => {
  const big = processor(async () => "x".repeat(2000));
  await big.p.process(work(), 0);
  expect(big.delivered[0].event.EventType).toBe(EventType.GenericEvent);
  const stopped = processor(async () => "ok", { current: false });
  await stopped.p.process(work(), 0);
  expect(stopped.delivered).toEqual([]);
});

test("activityInputFromHistory", () => {
  expect(activityInputFromHistory(null)).toBeNull();
  expect(activityInputFromHistory('[{"a":1}]')).toEqual({ a: 1 });
  expect(activityInputFromHistory('["plain"]')).toBe("plain");
  expect(activityInputFromHistory("not json")).toBe("not json");
});

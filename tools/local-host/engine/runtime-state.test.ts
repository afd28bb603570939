/** The episode's runtime state: mailbox → new events; outcome → history events and the log record. */
import { EventType, ev, OrchestrationStatus } from "./history";
import { OrchestrationProcessor } from "./orchestration-processor";
import { PayloadLimit } from "./payload-limit";
import { TimerLimit } from "./timer-limit";
import { hasRunnableMessages, RuntimeState } from "./runtime-state";
import type { InstanceData } from "./store";

const T = Date.parse("2024-01-01T00:00:00Z");
function instance(status: InstanceData["status"], events: ReturnType<typeof ev.eventRaised>[]): InstanceData {
  return {
    instanceId: "i",
    name: "orch",
    executionId: "x",
    input: null,
    parent: null,
    createdTime: T,
    lastUpdatedTime: T,
    status,
    output: null,
    customStatus: '"old"',
    history: [ev.orchestratorStarted(T + 5000)],
    mailbox: events.map((event, seq) => ({ seq, event })),
    nextSeq: events.length,
  };
}
const raised = (name: string) => ev.eventRaised(T, name, null);

test("time never goes back; the batch's events follow OrchestratorStarted", () => {
  const rs = new RuntimeState(instance("Running", [raised("a"), raised("b")]), T);
  expect(rs.now).toBe(T + 5000);
  expect(rs.consumed).toEqual([0, 1]);
  expect(rs.newEvents.map((e) => e.EventType)).toEqual([EventType.OrchestratorStarted, EventType.EventRaised, EventType.EventRaised]);
  expect(rs.hasWork).toBe(true);
  const h = rs.triggerHistory();
  expect(h.map((e) => e.IsPlayed)).toEqual([true, false, false, false]);
});

test("while suspended, messages wait; resume releases them; terminate ends the batch", () => {
  const suspended = instance("Suspended", [raised("a")]);
  expect(hasRunnableMessages(suspended)).toBe(false);
  const waiting = new RuntimeState(suspended, T);
  expect(waiting.consumed).toEqual([]);
  const resumed = new RuntimeState(instance("Suspended", [raised("a"), ev.executionResumed(T, null)]), T);
  expect(resumed.consumed).toEqual([1, 0]);
  expect(resumed.hasWork).toBe(true);
  expect(resumed.suspended).toBe(false);
  const terminated = new RuntimeState(instance("Running", [ev.executionTerminated(T, '"bye"'), raised("late")]), T);
  expect(terminated.terminatedBy?.EventType).toBe(EventType.ExecutionTerminated);
  const rec = terminated.terminationRecord();
  expect(rec).toMatchObject({ status: "Terminated", output: '"bye"', consumed: [0, 1], customStatus: '"old"' });
  expect(rec.events.at(-2)).toMatchObject({ EventType: EventType.ExecutionCompleted, OrchestrationStatus: OrchestrationStatus.Terminated });
});

test("an outcome becomes schedule events, ExecutionCompleted / ContinueAsNew and OrchestratorCompleted", () => {
  const rs = new RuntimeState(instance("Running", [raised("a")]), T);
  const rec = rs.outcomeRecord(
    [
      { kind: "activity", id: 0, name: "A", input: "[1]" },
      { kind: "timer", id: 1, fireAt: new Date(T).toISOString() },
    ],
    { kind: "completed", output: "42" },
    2,
    '"new"',
  );
  expect(rec.events.map((e) => e.EventType)).toEqual([
    EventType.OrchestratorStarted,
    EventType.EventRaised,
    EventType.TaskScheduled,
    EventType.TimerCreated,
    EventType.ExecutionCompleted,
    EventType.OrchestratorCompleted,
  ]);
  expect(rec).toMatchObject({ status: "Completed", output: "42", customStatus: '"new"' });
  const can = new RuntimeState(instance("Running", [raised("a")]), T).outcomeRecord([], { kind: "continuedAsNew", input: "7" }, 0, null);
  expect(can.status).toBe("ContinuedAsNew");
  expect(can.continueAsNew?.input).toBe("7");
  expect(can.continueAsNew?.startEvent.EventType).toBe(EventType.ExecutionStarted);
});

test("the orchestration processor: payload, $OutOfProcData$ state, customStatus over 16 KB", async () => {
  const logs: string[] = [];
  let seen: Record<string, unknown> | undefined;
  const make = (answer: () => Promise<unknown>) =>
    new OrchestrationProcessor({
      invokeOrchestrator: async (_n, payload) => ((seen = payload), answer()),
      activities: new Set(),
      orchestrators: new Set(["orch"]),
      payloadLimit: new PayloadLimit(0),
      timerLimit: new TimerLimit(0),
      log: (_l, m) => logs.push(m),
    });
  const rs = new RuntimeState(instance("Running", [raised("a")]), T);
  const ok = await make(async () => ({ isDone: false, actions: [[]], customStatus: { p: 1 } })).invoke(rs);
  expect(seen).toMatchObject({ instanceId: "i", isReplaying: true, upperSchemaVersionNew: 2 });
  expect(ok.customStatus).toBe('{"p":1}');
  const carried = await make(async () => {
    throw new Error('boom\n\n$OutOfProcData$:{"isDone":false,"actions":[[]],"error":"boom"}');
  }).invoke(rs);
  expect(carried.state?.error).toBe("boom");
  const big = await make(async () => ({ isDone: false, actions: [[]], customStatus: "x".repeat(9000) })).invoke(rs);
  expect(big.state).toBeUndefined();
  expect(big.customStatus).toBe('"old"');
  expect(big.invocationError).toMatch(/must not exceed 16 KB/);
});

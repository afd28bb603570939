/** Recovery reads, the status document, and DTFx's non-determinism messages. */
import { EventType, ev } from "./history";
import { checkScheduled, NonDeterminismError } from "./nondeterminism";
import { outstandingWork, parentStillWaits } from "./recovery";
import { hostTime, instanceStatus } from "./status";
import type { InstanceData } from "./store";

const T = Date.parse("2024-01-01T00:00:00.750Z");
function inst(over: Partial<InstanceData>): InstanceData {
  return {
    instanceId: "p",
    name: "orch",
    executionId: "x",
    input: '{"a":1}',
    parent: null,
    createdTime: T,
    lastUpdatedTime: T,
    status: "Running",
    output: null,
    customStatus: "not json",
    history: [],
    mailbox: [],
    nextSeq: 0,
    ...over,
  };
}

test("outstanding work: scheduled without a result in history or mailbox", () => {
  const i = inst({
    history: [
      ev.taskScheduled(T, 0, "A", "[1]"),
      ev.taskCompleted(T, 0, "1"),
      ev.taskScheduled(T, 1, "B", "[2]"),
      ev.timerCreated(T, 2, "2024-01-02T00:00:00.000Z"),
      ev.subOrchestrationCreated(T, 3, "Child", "c", null),
      ev.timerCreated(T, 4, "2024-01-03T00:00:00.000Z"),
    ],
    mailbox: [{ seq: 0, event: ev.timerFired(T, 4, "2024-01-03T00:00:00.000Z") }],
  });
  expect(outstandingWork(i)).toEqual([
    { kind: "activity", id: 1, name: "B", input: "[2]" },
    { kind: "timer", id: 2, fireAt: "2024-01-02T00:00:00.000Z" },
    { kind: "subOrchestration", id: 3, name: "Child", instanceId: "c", input: null },
  ]);
});

test("a finished child's parent still waits only if it created the child and has no result for it", () => {
  const child = inst({
    instanceId: "c",
    status: "Completed",
    parent: { name: "orch", instanceId: "p", executionId: "x", taskScheduledId: 3 },
  });
  const created = ev.subOrchestrationCreated(T, 3, "Child", "c", null);
  expect(parentStillWaits(child, inst({ history: [created] }))).toBe(true);
  expect(
    parentStillWaits(child, inst({ history: [created], mailbox: [{ seq: 0, event: ev.subOrchestrationCompleted(T, 3, null) }] })),
  ).toBe(false);
  expect(parentStillWaits(child, inst({ history: [created], executionId: "other" }))).toBe(false);
  expect(parentStillWaits(child, inst({ history: [created], status: "Failed" }))).toBe(false);
  expect(parentStillWaits(child, undefined)).toBe(false);
});

test("the status document: host times, payloads parsed (raw string fallback), input hidden on request", () => {
  expect(hostTime(T)).toBe("2024-01-01T00:00:00Z");
  const s = instanceStatus(inst({}), { showInput: false });
  expect(s).toMatchObject({
    name: "orch",
    runtimeStatus: "Running",
    input: null,
    customStatus: "not json",
    createdTime: "2024-01-01T00:00:00Z",
  });
  expect(s.historyEvents).toBeUndefined();
  expect(instanceStatus(inst({ history: [ev.orchestratorStarted(T)] }), { showHistory: true }).historyEvents).toEqual([]);
});

test("non-determinism: DTFx's messages", () => {
  const scheduled = ev.taskScheduled(T, 0, "A", null);
  expect(() => checkScheduled(scheduled, { type: "TaskScheduled", name: "a" })).not.toThrow();
  expect(() => checkScheduled(scheduled, undefined)).toThrow(
    new NonDeterminismError(
      "A previous execution of this orchestration scheduled an activity task with sequence ID 0 and name 'A' (version ''), but the current replay execution hasn't (yet?) scheduled this task. Was a change made to the orchestrator code after this instance had already started running?",
    ),
  );
  expect(() => checkScheduled(scheduled, { type: "TimerCreated" })).toThrow(/instead produced a CreateTimerOrchestratorAction action/);
  expect(() => checkScheduled(ev.timerCreated(T, 1, "x"), { type: "TaskScheduled", name: "A" })).toThrow(
    /timer task with sequence number 1 named but/,
  );
  expect(() =>
    checkScheduled(ev.subOrchestrationCreated(T, 2, "C", "c", null), { type: "SubOrchestrationInstanceCreated", name: "D" }),
  ).toThrow(/instead scheduled a sub-orchestration task with name D at this sequence number/);
  expect(EventType.TaskScheduled).toBe(4);
});

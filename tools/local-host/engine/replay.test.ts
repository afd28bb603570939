import { ev } from "./history";
import { ActionType, replayEpisode, type ReplayInput } from "./replay";
import type { HistoryEvent } from "./types";

const T0 = Date.parse("2024-01-01T00:00:00Z");
const known = {
  isKnownActivity: () => true,
  isKnownOrchestrator: () => true,
  knownActivities: ["A", "B"],
  knownOrchestrators: ["O"],
};
function run(history: HistoryEvent[], actions: unknown[], extra: Partial<ReplayInput["state"]> = {}) {
  return replayEpisode({
    orchestratorName: "O",
    executionId: "e1",
    history,
    state: { isDone: false, actions: [actions], ...extra },
    ...known,
  });
}
const start = (): HistoryEvent[] => [
  ev.orchestratorStarted(T0),
  ev.executionStarted(T0, { name: "O", input: null, instanceId: "i", executionId: "e1" }),
];
const call = (name: string) => ({ actionType: ActionType.CallActivity, functionName: name, input: 1 });

describe("host-side replay (ProcessAsyncActionsV2 semantics)", () => {
  test("a WhenAll waits for every child like Task.WhenAll (not fail-fast): the walk stops there", () => {
    const history = [
      ...start(),
      ev.taskScheduled(T0, 0, "A", "[1]"),
      ev.taskScheduled(T0, 1, "B", "[1]"),
      ev.orchestratorCompleted(T0),
      ev.orchestratorStarted(T0 + 1000),
      ev.taskFailed(T0 + 1000, 0, "Activity function 'A' failed: x", "{}"),
    ];
    // The worker failed fast (its Task.all threw) and scheduled C after catching; the host still waits for B.
    const r = run(history, [{ actionType: ActionType.WhenAll, compoundActions: [call("A"), call("B")] }, call("C")]);
    expect(r.newWork).toEqual([]);
    expect(r.outcome).toEqual({ kind: "running" });
    const done = run(
      [...history, ev.taskCompleted(T0 + 1000, 1, "1")],
      [{ actionType: ActionType.WhenAll, compoundActions: [call("A"), call("B")] }, call("C")],
    );
    expect(done.newWork).toEqual([{ kind: "activity", id: 2, name: "C", input: "[1]" }]);
  });

  test("ids are assigned depth first in yield order: any([all([a,b]), timer]) -> a=0, b=1, timer=2", () => {
    const fireAt = new Date(T0 + 5000).toISOString();
    const r = run(start(), [
      {
        actionType: ActionType.WhenAny,
        compoundActions: [
          { actionType: ActionType.WhenAll, compoundActions: [call("A"), call("B")] },
          { actionType: ActionType.CreateTimer, fireAt, isCanceled: false },
        ],
      },
    ]);
    expect(r.newWork).toEqual([
      { kind: "activity", id: 0, name: "A", input: "[1]" },
      { kind: "activity", id: 1, name: "B", input: "[1]" },
      { kind: "timer", id: 2, fireAt },
    ]);
  });

  test("a timer where history has an activity is a nondeterminism failure", () => {
    const history = [...start(), ev.taskScheduled(T0, 0, "A", "[1]"), ev.orchestratorCompleted(T0), ev.orchestratorStarted(T0 + 1)];
    const r = run(history, [{ actionType: ActionType.CreateTimer, fireAt: new Date(T0).toISOString() }]);
    expect(r.outcome.kind).toBe("failed");
    expect((r.outcome as { reason: string }).reason).toMatch(
      /^Non-Deterministic workflow detected: A previous execution of this orchestration scheduled an activity task with sequence number 0 named 'A', but the current orchestration replay instead produced a CreateTimerOrchestratorAction action/,
    );
  });

  test("a cancelled timer is still created but does not keep the orchestration open", () => {
    const r = run(start(), [{ actionType: ActionType.CreateTimer, fireAt: new Date(T0 + 1).toISOString(), isCanceled: true }], {
      isDone: true,
      output: 5,
    });
    expect(r.newWork).toEqual([{ kind: "timer", id: 0, fireAt: new Date(T0 + 1).toISOString() }]);
    expect(r.outcome).toEqual({ kind: "completed", output: "5" });
  });
});

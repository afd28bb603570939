/** Instance queries and paging; the rewind history rewrite. */
import { EventType, ev, OrchestrationStatus } from "./history";
import { matchInstances, pageOf } from "./paging";
import { keepRewoundChildren, planRewind } from "./rewind";
import type { InstanceData } from "./store";
import { InstanceStateError } from "./types";

const inst = (instanceId: string, createdTime: number, status: InstanceData["status"] = "Running"): InstanceData => ({
  instanceId,
  name: "o",
  executionId: "x",
  input: null,
  parent: null,
  createdTime,
  lastUpdatedTime: createdTime,
  status,
  output: null,
  customStatus: null,
  history: [],
  mailbox: [],
  nextSeq: 0,
});

describe("paging", () => {
  const all = [inst("b", 2), inst("a", 2), inst("c", 1, "Completed"), inst("pre-1", 3, "Failed")];
  test("filters and order (createdTime, then id)", () => {
    expect(matchInstances(all, {}).map((i) => i.instanceId)).toEqual(["c", "a", "b", "pre-1"]);
    expect(matchInstances(all, { runtimeStatus: ["Completed", "Failed"] }).map((i) => i.instanceId)).toEqual(["c", "pre-1"]);
    expect(matchInstances(all, { instanceIdPrefix: "pre" }).map((i) => i.instanceId)).toEqual(["pre-1"]);
    expect(matchInstances(all, { createdTimeFrom: new Date(2), createdTimeTo: new Date(2) }).map((i) => i.instanceId)).toEqual(["a", "b"]);
  });
  test("pages of top with a continuation token; a bad token is refused", () => {
    const m = matchInstances(all, {});
    const p1 = pageOf(m, { top: 3 });
    expect(p1.page.map((i) => i.instanceId)).toEqual(["c", "a", "b"]);
    const p2 = pageOf(m, { top: 3, continuationToken: p1.continuationToken });
    expect(p2.page.map((i) => i.instanceId)).toEqual(["pre-1"]);
    expect(p2.continuationToken).toBeUndefined();
    expect(() => pageOf(m, { continuationToken: "nope" })).toThrow(InstanceStateError);
  });
});

describe("rewind", () => {
  const t = 1_700_000_000_000;
  const history = [
    ev.taskScheduled(t, 0, "A", null),
    ev.taskCompleted(t, 0, "1"),
    ev.taskScheduled(t, 1, "B", null),
    ev.taskFailed(t, 1, "boom", "d"),
    ev.subOrchestrationCreated(t, 2, "Child", "child-1", null),
    ev.subOrchestrationFailed(t, 2, "child failed", "d"),
    ev.executionCompleted(t, 3, OrchestrationStatus.Failed, "boom", "d"),
  ];
  test("failed tasks, their schedules and the failing completion become GenericEvents", () => {
    const plan = planRewind(history);
    expect(plan.failedChildren).toEqual(["child-1"]);
    expect(plan.history.map((e) => e.EventType)).toEqual([
      EventType.TaskScheduled,
      EventType.TaskCompleted,
      EventType.GenericEvent,
      EventType.GenericEvent,
      EventType.GenericEvent,
      EventType.GenericEvent,
      EventType.GenericEvent,
    ]);
    expect(String(plan.history[3].Data)).toContain("Rewound: ");
  });
  test("a rewound child keeps its SubOrchestrationInstanceCreated", () => {
    const plan = planRewind(history);
    const kept = keepRewoundChildren(history, plan, new Set(["child-1"]));
    expect(kept[4]).toBe(history[4]);
    expect(kept[5].EventType).toBe(EventType.GenericEvent);
  });
});

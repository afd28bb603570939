/** Instance ids: the length limit (100 by default) on client starts and sub-orchestrations; existing sub-orchestration ids. */
import { EventType } from "./history";
import { DEFAULT_MAX_INSTANCE_ID_LENGTH, instanceIdProblem } from "./instance-ids";
import { completed, historyOf, stoppedAfterEach, until, type OrchestratorFn } from "./test-support";
import { InvalidInstanceIdError } from "./types";

const harness = stoppedAfterEach();
const id = (n: number) => "i".repeat(n);

const orchestrators: Record<string, OrchestratorFn> = {
  Wait: function* (ctx) {
    return (yield ctx.df.waitForExternalEvent("go")) as unknown;
  },
  // eslint-disable-next-line require-yield -- returns at once
  Quick: function* (ctx) {
    return `quick ${String(ctx.df.getInput())}`;
  },
  // Starts a child with the given id and reports how the child's task ended.
  Parent: function* (ctx) {
    const { name, childId } = ctx.df.getInput() as { name: string; childId: string };
    try {
      return { ok: (yield ctx.df.callSubOrchestrator(name, "x", childId)) as unknown };
    } catch (e) {
      return { failed: String((e as Error).message).split(" \n ")[0] };
    }
  },
};

test("the default is the Durable Task Scheduler's 100 characters; 0 means none", () => {
  expect(DEFAULT_MAX_INSTANCE_ID_LENGTH).toBe(100);
  expect(instanceIdProblem(id(100), 100)).toBeUndefined();
  expect(instanceIdProblem(id(101), 100)).toBe(
    `The instance id '${id(40)}...' is 101 characters long, over the limit of 100 characters (--max-instance-id-length).`,
  );
  expect(instanceIdProblem(id(5000), 0)).toBeUndefined();
});

test("a client start with an id over the limit is refused (InvalidInstanceIdError); nothing is created", async () => {
  const h = harness(orchestrators, {});
  await h.engine.start();
  const err = await h.engine.startNew("Wait", id(101), undefined).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidInstanceIdError);
  expect((err as Error).message).toMatch(/is 101 characters long, over the limit of 100 characters \(--max-instance-id-length\)/);
  expect(await h.engine.getStatus(id(101))).toBeUndefined();
  expect(h.logs.some((l) => l.level === "error" && l.message.startsWith("Refused a client call: The instance id"))).toBe(true);
  await h.engine.startNew("Wait", id(100), undefined);
  expect((await h.engine.getStatus(id(100)))!.runtimeStatus).toBe("Pending");
});

test("maxInstanceIdLength: 0 means no limit; another limit is honoured", async () => {
  const h = harness(orchestrators, {}, { maxInstanceIdLength: 0 });
  await h.engine.start();
  await h.engine.startNew("Quick", id(300), 1);
  expect((await completed(h.engine, id(300))).output).toBe("quick 1");
  await h.engine.stop();
  const small = harness(orchestrators, {}, { maxInstanceIdLength: 8 });
  await small.engine.start();
  await expect(small.engine.startNew("Quick", id(9), 1)).rejects.toThrow(/over the limit of 8 characters/);
});

test("a sub-orchestration id over the limit: the parent's task fails with the reason, no child is created", async () => {
  const h = harness(orchestrators, {});
  await h.engine.start();
  await h.engine.startNew("Parent", "parent", { name: "Quick", childId: id(101) });
  const s = await completed(h.engine, "parent");
  expect(s.runtimeStatus).toBe("Completed");
  expect(s.output).toEqual({
    failed: `Sub-orchestration 'Quick' was not started: The instance id '${id(40)}...' is 101 characters long, over the limit of 100 characters (--max-instance-id-length).`,
  });
  expect(await h.engine.getStatus(id(101))).toBeUndefined();
  const events = historyOf(h, "parent").map((e) => e.EventType);
  expect(events).toContain(EventType.SubOrchestrationInstanceCreated);
  expect(events).toContain(EventType.SubOrchestrationInstanceFailed);
});

test("a sub-orchestration whose id exists and is not terminal: its task fails with OrchestrationAlreadyExistsException's message", async () => {
  const h = harness(orchestrators, {});
  await h.engine.start();
  await h.engine.startNew("Wait", "busy", undefined);
  await until(async () => (await h.engine.getStatus("busy"))!.runtimeStatus === "Running", 5000, "running");
  await h.engine.startNew("Parent", "p1", { name: "Quick", childId: "busy" });
  expect((await completed(h.engine, "p1")).output).toEqual({ failed: "An Orchestration instance with the status Running already exists." });
  // The running instance is untouched.
  const busy = (await h.engine.getStatus("busy"))!;
  expect(busy.runtimeStatus).toBe("Running");
  expect(busy.name).toBe("Wait");

  // Its own id (the parent is Running) is refused the same way.
  await h.engine.startNew("Parent", "self", { name: "Quick", childId: "self" });
  expect((await completed(h.engine, "self")).output).toEqual({
    failed: "An Orchestration instance with the status Running already exists.",
  });
});

test("a sub-orchestration whose id exists in a terminal state replaces it", async () => {
  const h = harness(orchestrators, {});
  await h.engine.start();
  await h.engine.startNew("Quick", "done", 0);
  expect((await completed(h.engine, "done")).output).toBe("quick 0");
  await h.engine.startNew("Parent", "p2", { name: "Quick", childId: "done" });
  expect((await completed(h.engine, "p2")).output).toEqual({ ok: "quick x" });
  expect((await h.engine.getStatus("done"))!.output).toBe("quick x");
});

/** Client operations' state rules, as DurableClient applies them (SuspendAsync / ResumeAsync / TerminateAsync). */
import { completed, makeHarness, until, type Harness } from "./test-support";
import { InstanceStateError } from "./types";

let h: Harness;
afterEach(async () => {
  await h?.engine.stop();
});

test("suspend needs Running/Pending/ContinuedAsNew, resume needs Suspended, terminate a non-terminal state", async () => {
  h = makeHarness(
    {
      W: function* (ctx) {
        return (yield ctx.df.waitForExternalEvent("go")) as unknown;
      },
    },
    {},
  );
  await h.engine.start();
  await h.engine.startNew("W", "w", undefined);
  await until(async () => (await h.engine.getStatus("w"))!.runtimeStatus === "Running", 5000, "running");

  await expect(h.engine.resume("w")).rejects.toThrow(
    new InstanceStateError("Cannot resume the orchestration instance w because instance is in the Running state."),
  );
  await h.engine.suspend("w");
  await until(async () => (await h.engine.getStatus("w"))!.runtimeStatus === "Suspended", 5000, "suspended");
  await expect(h.engine.suspend("w")).rejects.toThrow(
    "Cannot suspend the orchestration instance w because instance is in the Suspended state.",
  );
  await h.engine.resume("w");
  await until(async () => (await h.engine.getStatus("w"))!.runtimeStatus === "Running", 5000, "running again");
  await h.engine.raiseEvent("w", "go", 1);
  await completed(h.engine, "w");
  await expect(h.engine.terminate("w")).rejects.toThrow(
    "Cannot terminate the orchestration instance w because instance is in the Completed state.",
  );
  await expect(h.engine.suspend("w")).rejects.toBeInstanceOf(InstanceStateError);
});

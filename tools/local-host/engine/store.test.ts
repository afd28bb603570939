/** Corrupt instance logs: only a torn last line is recovered; anything else quarantines that one instance. */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileNameFor, QUARANTINE_DIR } from "./store";
import { completed, stoppedAfterEach, until, type Harness, type OrchestratorFn } from "./test-support";
import { InstanceQuarantinedError } from "./types";
import { DurableHttpApi } from "../durable-api";

const harness = stoppedAfterEach();

const orchestrators: Record<string, OrchestratorFn> = {
  Gather: function* (ctx) {
    const n = ctx.df.getInput() as number;
    const sent: string[] = yield ctx.df.Task.all(Array.from({ length: n }, (_, i) => ctx.df.callActivity("Send", i)));
    return sent.length;
  },
  Wait: function* (ctx) {
    return (yield ctx.df.waitForExternalEvent("go")) as unknown;
  },
};
const activities = { Send: (i: number) => `sent ${i}` };

const logFile = (h: Harness, id: string) => path.join(h.dataDir, "TestHub", fileNameFor(id));
const quarantineDir = (h: Harness) => path.join(h.dataDir, "TestHub", QUARANTINE_DIR);
const errors = (h: Harness) => h.logs.filter((l) => l.level === "error").map((l) => l.message);

/** A first engine with a Completed 5-recipient gather and a Running instance waiting for an event. */
async function seeded(): Promise<Harness> {
  const h1 = harness(orchestrators, activities);
  await h1.engine.start();
  await h1.engine.startNew("Gather", "done", 5);
  expect((await completed(h1.engine, "done")).runtimeStatus).toBe("Completed");
  await h1.engine.startNew("Wait", "waiting", undefined);
  await until(async () => (await h1.engine.getStatus("waiting"))!.runtimeStatus === "Running", 5000, "waiting runs");
  await h1.engine.stop();
  return h1;
}

function rewriteLine(file: string, index: number, text: string | null): void {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  if (text === null) lines.splice(index, 1);
  else lines[index] = text;
  fs.writeFileSync(file, lines.join("\n"));
}

async function restart(h1: Harness): Promise<Harness> {
  const h2 = harness(orchestrators, activities, { dataDir: h1.dataDir });
  await h2.engine.start();
  return h2;
}

/** The other instance still serves: it receives an event and completes. */
async function othersServe(h: Harness): Promise<void> {
  await h.engine.raiseEvent("waiting", "go", "still here");
  expect((await completed(h.engine, "waiting")).output).toBe("still here");
}

describe("corrupt instance logs are quarantined, never re-run", () => {
  test("corrupt middle line of a Completed gather: no activity re-runs, file named, others serve", async () => {
    const h1 = await seeded();
    const file = logFile(h1, "done");
    const original = fs.readFileSync(file, "utf8");
    rewriteLine(file, 2, '{"t":"episode","consumed":[0],"ev'); // damaged in the middle, not at the end

    const h2 = await restart(h1);
    expect(h2.activityCalls).toHaveLength(0);
    const [message] = errors(h2).filter((m) => m.includes(file));
    expect(message).toMatch(/line 3: not valid JSON .*not the last line/);
    expect(message).toMatch(/instance 'done' will not run/);
    // Kept for inspection, byte for byte apart from the damage.
    const moved = path.join(quarantineDir(h2), fileNameFor("done"));
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.readFileSync(moved, "utf8").split("\n")[0]).toBe(original.split("\n")[0]);
    // Reported clearly, and a new start under the same id is refused too (it would re-send everything).
    await expect(h2.engine.getStatus("done")).rejects.toThrow(InstanceQuarantinedError);
    await expect(h2.engine.getStatus("done")).rejects.toThrow(/quarantined: its log is corrupt: .*line 3/);
    await expect(h2.engine.startNew("Gather", "done", 5)).rejects.toThrow(/quarantined/);
    expect((await h2.engine.listInstances({})).instances.map((i) => i.instanceId)).toEqual(["waiting"]);
    await othersServe(h2);
    expect(h2.activityCalls).toHaveLength(0);

    // Still refused after another restart (the log stays in quarantine/ until someone removes it).
    await h2.engine.stop();
    const h3 = await restart(h2);
    await expect(h3.engine.startNew("Gather", "done", 5)).rejects.toThrow(/remove that file to reuse the id/);
    fs.rmSync(moved);
    await h3.engine.stop();
    const h4 = await restart(h3);
    expect(await h4.engine.getStatus("done")).toBeUndefined();
  });

  test("a log without its create record", async () => {
    const h1 = await seeded();
    const file = logFile(h1, "done");
    rewriteLine(file, 0, null);
    const h2 = await restart(h1);
    expect(errors(h2).join("\n")).toMatch(/done\.jsonl, line 1: a 'msg' record before the instance's create record/);
    expect(h2.activityCalls).toHaveLength(0);
    await expect(h2.engine.getStatus("done")).rejects.toThrow(InstanceQuarantinedError);
    await othersServe(h2);
  });

  test.each([
    [
      "a field of the wrong type",
      '{"t":"msg","seq":"one","event":{"EventType":15,"EventId":-1,"Timestamp":"x"},"at":1}',
      /'seq' is not a non-negative integer/,
    ],
    ["an event without EventType", '{"t":"msg","seq":7,"event":{"EventId":-1,"Timestamp":"x"},"at":1}', /event\.EventType is not a number/],
    ["an unknown record kind", '{"t":"bogus"}', /unknown record kind "bogus"/],
    ["not an object", "[1,2]", /not a JSON object/],
  ])("a record of the wrong shape (%s) quarantines, even as the last line", async (_what, line, expected) => {
    const h1 = await seeded();
    const file = logFile(h1, "done");
    fs.appendFileSync(file, line + "\n");
    const h2 = await restart(h1);
    const message = errors(h2).find((m) => m.includes(file)) ?? "";
    expect(message).toMatch(/wrong record shape/);
    expect(message).toMatch(expected);
    expect(h2.activityCalls).toHaveLength(0);
    await othersServe(h2);
  });

  test("a directory named x.jsonl does not stop the host", async () => {
    const h1 = await seeded();
    const dir = path.join(h1.dataDir, "TestHub", "x.jsonl");
    fs.mkdirSync(dir);
    const h2 = await restart(h1);
    expect(errors(h2).find((m) => m.includes(dir))).toMatch(/not a regular file/);
    expect(fs.existsSync(path.join(quarantineDir(h2), "x.jsonl"))).toBe(true);
    expect((await h2.engine.getStatus("done"))!.runtimeStatus).toBe("Completed");
    await othersServe(h2);
  });

  test("an unreadable entry (dangling symlink) is quarantined by name", async () => {
    const h1 = await seeded();
    const link = path.join(h1.dataDir, "TestHub", "gone.jsonl");
    fs.symlinkSync(path.join(h1.dataDir, "nowhere"), link);
    const h2 = await restart(h1);
    expect(errors(h2).find((m) => m.includes(link))).toMatch(/unreadable: ENOENT/);
    await expect(h2.engine.getStatus("gone")).rejects.toThrow(InstanceQuarantinedError);
    await othersServe(h2);
  });

  test("the HTTP API answers 500 naming the quarantine (not 404, which would invite a re-start)", async () => {
    const h1 = await seeded();
    rewriteLine(logFile(h1, "done"), 1, "{");
    const h2 = await restart(h1);
    const api = new DurableHttpApi({
      engine: h2.engine,
      hubName: "TestHub",
      connectionName: "Storage",
      orchestrators: () => new Set(Object.keys(orchestrators)),
      entities: () => new Set(),
      webhookUri: () => new URL("http://localhost:7071/runtime/webhooks/durabletask"),
      rpcBaseUrl: () => undefined,
    });
    const call = (method: string, p: string) =>
      api.handle(
        { method, url: new URL(`http://localhost:7071/runtime/webhooks/durabletask${p}`), headers: {}, body: Buffer.alloc(0) },
        "/runtime/webhooks/durabletask",
      );
    for (const [method, p] of [
      ["GET", "/instances/done"],
      ["POST", "/orchestrators/Gather/done"],
      ["POST", "/instances/done/terminate"],
    ]) {
      const res = await call(method, p);
      expect(res.status).toBe(500);
      expect(JSON.parse(String(res.body)).ExceptionMessage).toMatch(
        /Instance 'done' is quarantined: its log is corrupt: .*done\.jsonl, line 2/,
      );
    }
    expect(h2.activityCalls).toHaveLength(0);
  });

  test("a create record for another instance id", async () => {
    const h1 = await seeded();
    fs.copyFileSync(logFile(h1, "done"), path.join(h1.dataDir, "TestHub", "copy.jsonl"));
    const h2 = await restart(h1);
    expect(errors(h2).join("\n")).toMatch(/copy\.jsonl, line 1: a create record for instance 'done', whose log is done\.jsonl/);
    expect((await h2.engine.getStatus("done"))!.runtimeStatus).toBe("Completed");
    expect(h2.activityCalls).toHaveLength(0);
  });

  test("a torn last line is still only an interrupted write (no quarantine)", async () => {
    const h1 = await seeded();
    const file = logFile(h1, "waiting");
    fs.appendFileSync(file, '{"t":"msg","seq":9,"event":{"EventType":15,"Na');
    const h2 = await restart(h1);
    expect(errors(h2)).toEqual([]);
    expect(
      h2.logs.some((l) => l.level === "warn" && l.message.includes(file) && /line \d+: ignored an incomplete last record/.test(l.message)),
    ).toBe(true);
    expect(fs.existsSync(quarantineDir(h2))).toBe(false);
    await othersServe(h2);
  });

  test("a quarantined sub-orchestration is not re-run: its parent gets a failure that says why", async () => {
    let gate: Promise<void> = new Promise(() => undefined);
    const orch: Record<string, OrchestratorFn> = {
      P: function* (ctx) {
        try {
          return (yield ctx.df.callSubOrchestrator("C", 1, "child")) as unknown;
        } catch (e) {
          return `failed: ${String((e as Error).message).split(" \n ")[0]}`;
        }
      },
      C: function* (ctx) {
        return (yield ctx.df.callActivity("Slow", ctx.df.getInput())) as unknown;
      },
    };
    const acts = {
      Slow: async (n: number) => {
        await gate;
        return n;
      },
    };
    const h1 = harness(orch, acts);
    await h1.engine.start();
    await h1.engine.startNew("P", "parent", undefined);
    await until(
      () => fs.existsSync(logFile(h1, "child")) && fs.readFileSync(logFile(h1, "child"), "utf8").includes('"episode"'),
      5000,
      "child episode",
    );
    await h1.engine.stop();
    rewriteLine(logFile(h1, "child"), 1, "garbage");
    gate = Promise.resolve();
    const h2 = harness(orch, acts, { dataDir: h1.dataDir });
    await h2.engine.start();
    const s = await completed(h2.engine, "parent");
    expect(String(s.output)).toMatch(/Sub-orchestration 'child' is quarantined/);
    expect(h2.activityCalls).toHaveLength(0);
  });
});

/** The backend seam: the engine runs on any Backend; an in-memory one here, restarted with its records. */
import type { Backend } from "./backend";
import { Engine } from "./engine";
import { applyRecord, type InstanceData, type LogRecord } from "./store";
import { completed, makeHarness } from "./test-support";

class MemoryBackend implements Backend {
  readonly dir = "memory";
  readonly quarantinedCount = 0;
  readonly logs = new Map<string, LogRecord[]>();
  async open(): Promise<void> {}
  async loadAll(): Promise<InstanceData[]> {
    const out: InstanceData[] = [];
    for (const records of this.logs.values()) {
      let inst: InstanceData | undefined;
      for (const r of records) inst = applyRecord(inst, r);
      if (inst) out.push(inst);
    }
    return out;
  }
  async append(instanceId: string, records: LogRecord[]): Promise<void> {
    this.logs.set(instanceId, [...(this.logs.get(instanceId) ?? []), ...structuredClone(records)]);
  }
  async remove(instanceId: string): Promise<void> {
    this.logs.delete(instanceId);
  }
  async drain(): Promise<void> {}
  quarantineOf(): string | undefined {
    return undefined;
  }
}

test("an orchestration runs on an injected backend, which holds every record; a new engine resumes from it", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const h = makeHarness(
    {
      Seq: function* (ctx) {
        const a = yield ctx.df.callActivity("Hello", "a");
        const b = yield ctx.df.callActivity("Slow", "b");
        return [a, b];
      },
    },
    { Hello: (x: string) => `hello ${x}`, Slow: async (x: string) => (await gate, `slow ${x}`) },
  );
  const backend = new MemoryBackend();
  const first = new Engine(h.options, backend);
  await first.start();
  await first.startNew("Seq", "s", null);
  const t0 = Date.now();
  while (!(backend.logs.get("s") ?? []).some((r) => r.t === "episode" && r.events.some((e) => e.Name === "Slow"))) {
    if (Date.now() - t0 > 5000) throw new Error("Slow never scheduled");
    await new Promise((r) => setTimeout(r, 5));
  }
  await first.stop();
  expect(backend.logs.get("s")![0].t).toBe("create");

  const second = new Engine(h.options, backend);
  await second.start();
  release();
  const s = await completed(second, "s");
  expect(s.runtimeStatus).toBe("Completed");
  expect(s.output).toEqual(["hello a", "slow b"]);
  expect(await second.purge("s")).toBe(1);
  expect(backend.logs.has("s")).toBe(false);
  await second.stop();
});

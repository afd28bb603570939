/**
 * A redrive at the largest size the limits allow: 15,000 recipients (60 batches), a third of them failing, on a
 * host that refuses any durable payload over 512 KiB (half the Durable Task Scheduler's 1 MiB): the redriven
 * 5,000 are a new run whose durable payloads carry references and counts, never the earlier outcomes or the
 * list of redriven indexes (those are in the run's redrive document). Prints the largest payload the host
 * persisted in its histories (every input, output and event crosses the durable boundary through them).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ownsHost, pollUntil, pollUntilDone, postJson, request, startOk, uniqueId, withHost, type AnyJson } from "./harness";

const LIMIT = 524_288;

/**
 * The largest single payload the host persisted in its histories (one JSON record per line, per instance): an
 * input, a result, an output or event data, as the UTF-8 bytes of the string the engine stored (or the JSON of a
 * value). Everything that crosses the durable boundary is in there.
 */
function largestPayload(dir: string, since: ReadonlyMap<string, number> = new Map()): { bytes: number; at: string } {
  let largest = { bytes: 0, at: "" };
  const visit = (value: unknown, at: string) => {
    if (value !== null && typeof value === "object") {
      for (const [key, child] of Object.entries(value)) visit(child, `${at}.${key}`);
      return;
    }
    const bytes = Buffer.byteLength(typeof value === "string" ? value : JSON.stringify(value), "utf8");
    if (bytes > largest.bytes) largest = { bytes, at };
  };
  for (const [name, text] of histories(dir)) {
    for (const line of text
      .subarray(since.get(name) ?? 0)
      .toString("utf8")
      .split("\n")) {
      if (line.length > 1000) visit(JSON.parse(line), name.slice(0, 40));
    }
  }
  return largest;
}

/** Each instance's history log (`<dataDir>/default/<id>.jsonl`), as bytes. */
function histories(dir: string): Map<string, Buffer> {
  const logs = new Map<string, Buffer>();
  for (const name of fs.readdirSync(path.join(dir, "default"))) {
    if (name.endsWith(".jsonl")) logs.set(name, fs.readFileSync(path.join(dir, "default", name)));
  }
  return logs;
}

(ownsHost ? test : test.skip)(
  "15,000 recipients, 5,000 failed, redriven: every durable payload under 512 KiB",
  async () => {
    const env = { MAX_RECIPIENTS: "15000", MAX_REQUEST_BYTES: "4194304", LOCAL_HOST_MAX_PAYLOAD_BYTES: String(LIMIT) };
    await withHost({ env }, async (host) => {
      const site = { baseUrl: host.url };
      const id = `${uniqueId("redrive-15k")}-`.padEnd(100, "x");
      const N = 15_000;
      const recipients = Array.from({ length: N }, (_, i) => ({
        id: `r${i}`,
        simulate: { latencyMs: i % 10, value: { price: i }, failureRate: i % 3 === 0 ? 1 : 0 },
      }));
      await startOk(site, { id, request: { big: true }, recipients, aggregate: { kind: "summary", field: "price" } });
      const first = await pollUntilDone(site, id, 200_000, 1000);
      expect(first.runtimeStatus).toBe("Completed");
      expect(first.result.counts).toEqual({ total: N, succeeded: 10_000, failed: 5_000, timedOut: 0, abandoned: 0 });

      const beforeRedrive = new Map([...histories(host.dataDir)].map(([name, text]) => [name, text.length]));
      const accepted = await postJson(`${site.baseUrl}/api/scatter-gather/${id}/redrive?status=failed`, {});
      expect(accepted.status).toBe(202);
      const second = await pollUntil(site, id, (b) => b.runtimeStatus !== "Running" && b.result?.redrives === 1, 200_000, 1000);
      expect(second.runtimeStatus).toBe("Completed");
      // The simulated failures fail again: the whole gather's counts, attempts added up, the kept answers' aggregate.
      expect(second.result.counts).toEqual({ total: N, succeeded: 10_000, failed: 5_000, timedOut: 0, abandoned: 0 });
      expect(second.result.aggregate).toMatchObject({ kind: "summary", count: 10_000 });
      const failed = await request(`${site.baseUrl}/api/scatter-gather/${id}/responses?status=failed&limit=3`);
      expect(failed.body.items.map((r: AnyJson) => [r.recipientId, r.attempts])).toEqual([
        ["r0", 2],
        ["r3", 2],
        ["r6", 2],
      ]);
      const largest = largestPayload(host.dataDir);
      const ofRedrive = largestPayload(host.dataDir, beforeRedrive);
      console.log(
        `15,000 recipients: the largest durable payload is ${largest.bytes} bytes (${largest.at}); ` +
          `of the redrive of 5,000: ${ofRedrive.bytes} bytes (${ofRedrive.at})`,
      );
      expect(largest.bytes).toBeLessThan(LIMIT);
      // The redrive's own payloads grow with the 5,000 it runs, not with the 15,000 of the gather.
      expect(ofRedrive.bytes).toBeLessThan(largest.bytes / 2);
    });
  },
  420_000,
);

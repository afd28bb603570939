/**
 * `scatter-gather redrive <id> [--status …]` (dist/src/cli/scatter-gather.js) against a real local host: the
 * failed recipient runs again (a new run of the same id, `redrives: 1`), --json prints the management URLs, a
 * bad --status is a usage error, and the API's 400 / 404 are errors with the server's message, exit 1.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { ScatterGatherClient } from "../../src/client";
import { keysFor, pollUntil, repoRoot, uniqueId, useTarget } from "../e2e/harness";

const target = useTarget();
jest.setTimeout(60_000);

const BIN = path.join(repoRoot, "dist", "src", "cli", "scatter-gather.js");

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const key = keysFor(target.baseUrl).function;
  const env = { ...process.env, SCATTER_GATHER_URL: target.baseUrl, ...(key ? { SCATTER_GATHER_KEY: key } : {}) };
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, timeout: 45_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

test("redrive, redrive --json, a bad --status, nothing to redrive, an unknown id", async () => {
  const client = new ScatterGatherClient({ baseUrl: target.baseUrl, key: keysFor(target.baseUrl).function });
  const id = uniqueId("cli-redrive");
  await client.start({
    id,
    request: {},
    recipients: [
      { id: "ok", simulate: { latencyMs: 0, value: { price: 1 } } },
      { id: "down", simulate: { latencyMs: 0, failureRate: 1 } },
    ],
  });
  await client.waitFor(id, { intervalMs: 100 });

  const redriven = await cli(["redrive", id]);
  expect(redriven).toMatchObject({ code: 0, stdout: `redriving ${id}: scatter-gather watch ${id}\n` });
  const done = await pollUntil(target, id, (b) => b.result?.redrives === 1);
  expect(done.result.counts).toEqual({ total: 2, succeeded: 1, failed: 1, timedOut: 0, abandoned: 0 });
  expect(done.result.responses.map((r: { attempts?: number }) => r.attempts)).toEqual([1, 2]);

  const json = await cli(["redrive", id, "--status", "failed", "--json"]);
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toMatchObject({ id, statusQueryGetUri: expect.stringMatching(/^http/) });
  await pollUntil(target, id, (b) => b.result?.redrives === 2);

  const bad = await cli(["redrive", id, "--status", "failed,sideways"]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("each status must be one of failed, timedOut, abandoned");

  const nothing = await cli(["redrive", id, "--status", "abandoned,timedOut"]);
  expect(nothing.code).toBe(1);
  expect(nothing.stderr).toMatch(/400.*nothing to redrive/);

  const unknown = await cli(["redrive", uniqueId("nobody")]);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain("404");
});

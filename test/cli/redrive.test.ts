/**
 * `scatter-gather redrive <id> [--status …]` (dist/src/cli/scatter-gather.js) against a real local host: the
 * failed recipient runs again (a new run of the same id, `redrives: 1`) and the command waits for it and prints
 * the whole gather's outcome, exit code as `run`; --json prints that final status, --detach the management URLs
 * without waiting; a bad --status is a usage error, and the API's 400 / 404 are errors with the server's message, exit 1.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { ScatterGatherClient } from "../../src/client";
import { keysFor, pollUntil, repoRoot, uniqueId, useTarget } from "../e2e/harness";
import { cli as cliWithEnv, fakeApi, gatherStatus, managementUrls, sendJson } from "./fake-server";

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

test("redrive (watching), --json, --detach, a bad --status, nothing to redrive, an unknown id", async () => {
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

  // Waits for the redrive's run and reports the whole gather: every recipient settled (one failed again), exit 0.
  const redriven = await cli(["redrive", id, "--interval", "100"]);
  expect(redriven.stderr).toContain(`redriving ${id} (scatter-gather watch ${id})`);
  expect(redriven.code).toBe(0);
  expect(redriven.stdout).toMatch(new RegExp(`^${id}: complete \\(all-responded\\) in \\d+ ms \\(redrive 1\\)$`, "m"));
  expect(redriven.stdout).toMatch(/down\s+failed\s+2\s/);
  const done = await client.get(id);
  expect(done.result?.redrives).toBe(1);
  expect(done.result?.counts).toEqual({ total: 2, succeeded: 1, failed: 1, timedOut: 0, abandoned: 0 });
  expect(done.result?.responses?.map((r) => r.attempts)).toEqual([1, 2]);

  const json = await cli(["redrive", id, "--status", "failed", "--json", "--interval", "100"]);
  expect(json.code).toBe(0);
  expect(json.stderr).toBe("");
  expect(JSON.parse(json.stdout)).toMatchObject({ id, runtimeStatus: "Completed", result: { redrives: 2, counts: { failed: 1 } } });

  const detached = await cli(["redrive", id, "--detach"]);
  expect(detached).toMatchObject({ code: 0, stdout: `redriving ${id}: scatter-gather watch ${id}\n` });
  await pollUntil(target, id, (b) => b.result?.redrives === 3);
  const detachedJson = await cli(["redrive", id, "--detach", "--json"]);
  expect(detachedJson.code).toBe(0);
  expect(JSON.parse(detachedJson.stdout)).toMatchObject({ id, statusQueryGetUri: expect.stringMatching(/^http/) });
  await pollUntil(target, id, (b) => b.result?.redrives === 4);

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

test("redrive waits past a status read that still shows the earlier run (a store that lags behind the start)", async () => {
  const earlier = gatherStatus("g1");
  const running = gatherStatus("g1", { runtimeStatus: "Running", result: null });
  const redriven = gatherStatus("g1", { result: { ...earlier.result!, redrives: 1 } });
  // The read before the POST, then two reads of the earlier run, then the redrive's own run.
  const server = await fakeApi({
    statuses: [earlier, earlier, earlier, running, redriven],
    override: (req, res) => {
      if (req.method !== "POST" || !req.path.startsWith("/api/scatter-gather/g1/redrive")) return false;
      sendJson(res, 202, managementUrls("g1"));
      return true;
    },
  });
  try {
    const run = await cliWithEnv(["redrive", "g1", "--interval", "50", "--json"], { SCATTER_GATHER_URL: server.url });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).result.redrives).toBe(1);
    expect(server.requests.filter((r) => r.method === "GET" && r.path === "/api/scatter-gather/g1")).toHaveLength(5);
  } finally {
    await server.close();
  }
});

/** Payload limits through the HTTP front: the fixture's 1.5 MiB activity result, oversized client calls. */
import { parseArgs } from "../cli";
import { hostForSuite, fixtureApp, json, outputMatching, pollUntil, tempDir, type HostProcess } from "./harness";

jest.setTimeout(60000);

const MiB = 1024 * 1024;
let host: HostProcess;

hostForSuite({ appDir: fixtureApp, dataDir: tempDir("local-host-payload-") }, (h) => (host = h));

const webhooks = () => `${host.url}/runtime/webhooks/durabletask`;

test("the banner states the limit", () => {
  expect(host.output()).toContain("Durable payloads over 1048576 bytes (UTF-8) are refused (--max-payload-bytes; 0 = none).");
});

test("an activity returning 1.5 MiB fails the instance; the reason names the result, its size and the limit", async () => {
  const res = await fetch(`${webhooks()}/orchestrators/bigOrchestrator/big-1`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: String(1.5 * MiB),
  });
  expect(res.status).toBe(202);
  const { res: status, body } = await pollUntil((await json(res)).statusQueryGetUri, (b) => b.runtimeStatus === "Failed");
  expect(status.status).toBe(200);
  expect(body.output).toBe(
    `The payload of the result of activity 'bigResult' (task 0) is ${1.5 * MiB + 2} bytes (UTF-8), over the limit of 1048576 bytes (--max-payload-bytes).`,
  );
  const logged = /Error: \[big-1\] The payload of the result of activity 'bigResult'/;
  expect(await outputMatching(host, logged)).toMatch(logged);
});

test("a start input or event data over the limit: 500 naming the size and the limit, nothing started", async () => {
  const payload = JSON.stringify("y".repeat(1.5 * MiB));
  let res = await fetch(`${webhooks()}/orchestrators/fixtureOrchestrator/too-big`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: payload,
  });
  expect(res.status).toBe(500);
  expect((await json(res)).ExceptionMessage).toBe(
    `The payload of the input of orchestration 'fixtureOrchestrator' ('too-big') is ${1.5 * MiB + 2} bytes (UTF-8), over the limit of 1048576 bytes (--max-payload-bytes).`,
  );
  expect((await fetch(`${webhooks()}/instances/too-big`)).status).toBe(404);

  res = await fetch(`${host.url}/api/orchestrators/fixtureOrchestrator?id=evt-big`, {
    method: "POST",
    body: JSON.stringify({ waitForEvent: true, timerMs: 10 }),
  });
  const started = await json(res);
  await pollUntil(started.statusQueryGetUri, (b) => b.customStatus?.phase === "waiting");
  res = await fetch(started.sendEventPostUri.replace("{eventName}", "approval"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: payload,
  });
  expect(res.status).toBe(500);
  expect((await json(res)).ExceptionMessage).toMatch(
    /event 'approval' raised to 'evt-big' is 1572866 bytes \(UTF-8\), over the limit of 1048576 bytes/,
  );
  await fetch(started.terminatePostUri.replace("{text}", "done"), { method: "POST" });
});

test("CLI: --max-payload-bytes, else LOCAL_HOST_MAX_PAYLOAD_BYTES", () => {
  expect(parseArgs([], {}).maxPayloadBytes).toBeUndefined();
  expect(parseArgs(["--max-payload-bytes", "0"], {}).maxPayloadBytes).toBe(0);
  expect(parseArgs([], { LOCAL_HOST_MAX_PAYLOAD_BYTES: "2048" }).maxPayloadBytes).toBe(2048);
  expect(parseArgs(["--max-payload-bytes=10"], { LOCAL_HOST_MAX_PAYLOAD_BYTES: "2048" }).maxPayloadBytes).toBe(10);
  expect(() => parseArgs(["--max-payload-bytes", "-1"], {})).toThrow(/Invalid --max-payload-bytes/);
});

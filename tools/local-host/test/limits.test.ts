/** Instance id and timer limits through HTTP: client starts (webhook and RPC endpoint), sub-orchestrations, timers. */
import { parseArgs } from "../cli";
import { fixtureApp, hostForSuite, json, pollUntil, tempDir, type HostProcess } from "./harness";

jest.setTimeout(60000);

let host: HostProcess;
hostForSuite({ appDir: fixtureApp, dataDir: tempDir("local-host-limits-") }, (h) => (host = h));

const webhooks = () => `${host.url}/runtime/webhooks/durabletask`;
const long = (n: number) => "L".repeat(n);
const tooLong = (n: number) =>
  `The instance id '${long(40)}...' is ${n} characters long, over the limit of 100 characters (--max-instance-id-length).`;

test("the banner states the limits", () => {
  expect(host.output()).toContain(
    "Durable timers firing over 518400000 ms (6 days) after their instance started are refused (--max-timer-span-ms; 0 = none).",
  );
  expect(host.output()).toContain("Instance ids over 100 characters are refused (--max-instance-id-length; 0 = none).");
});

test("a client start with an id over 100 characters: 400 as for the extension's own id checks, on the webhook and the RPC endpoint", async () => {
  for (const base of [webhooks(), host.rpcBaseUrl.replace(/\/$/, "")]) {
    const res = await fetch(`${base}/orchestrators/fixtureOrchestrator/${long(101)}`, { method: "POST", body: "{}" });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({
      Message: "One or more of the arguments submitted is incorrect",
      ExceptionMessage: tooLong(101),
      ExceptionType: "System.ArgumentException",
    });
  }
  expect((await fetch(`${webhooks()}/instances/${long(101)}`)).status).toBe(404);
  // Over 256, the extension's DurableClient refuses first, with its own message.
  const res = await fetch(`${webhooks()}/orchestrators/fixtureOrchestrator/${long(257)}`, { method: "POST", body: "{}" });
  expect((await json(res)).ExceptionMessage).toBe("Instance ID lengths must not exceed 256 characters.");
  // 100 is fine.
  expect((await fetch(`${webhooks()}/orchestrators/fixtureOrchestrator/${long(100)}`, { method: "POST", body: "{}" })).status).toBe(202);
});

test("the durable client's startNew gets the refusal too (the app's HTTP function fails)", async () => {
  const res = await fetch(`${host.url}/api/orchestrators/fixtureOrchestrator?id=${long(101)}`, { method: "POST", body: "{}" });
  expect(res.status).toBe(500);
});

test("a sub-orchestration id over the limit: the parent's task fails with the reason", async () => {
  const res = await fetch(`${webhooks()}/orchestrators/parentOf/parent-long`, {
    method: "POST",
    body: JSON.stringify({ childId: long(101) }),
  });
  const { body } = await pollUntil((await json(res)).statusQueryGetUri, (b) => b.runtimeStatus === "Completed");
  expect(body.output.failed).toContain(`Sub-orchestration 'fixtureOrchestrator' was not started: ${tooLong(101)}`);
});

test("a sub-orchestration whose id is running: the parent's task fails with OrchestrationAlreadyExistsException's message", async () => {
  const busy = await fetch(`${webhooks()}/orchestrators/fixtureOrchestrator/busy-child`, {
    method: "POST",
    body: JSON.stringify({ waitForEvent: true }),
  });
  await pollUntil((await json(busy)).statusQueryGetUri, (b) => b.runtimeStatus === "Running");
  const res = await fetch(`${webhooks()}/orchestrators/parentOf/parent-busy`, {
    method: "POST",
    body: JSON.stringify({ childId: "busy-child" }),
  });
  const { body } = await pollUntil((await json(res)).statusQueryGetUri, (b) => b.runtimeStatus === "Completed");
  expect(body.output.failed).toContain("An Orchestration instance with the status Running already exists.");
  await fetch(`${webhooks()}/instances/busy-child/terminate`, { method: "POST" });
});

test("a timer 7 days after the start, or with fireAt null, fails the orchestration with the reason", async () => {
  let res = await fetch(`${webhooks()}/orchestrators/timerAfter/week`, { method: "POST", body: JSON.stringify({ days: 7 }) });
  let done = await pollUntil((await json(res)).statusQueryGetUri, (b) => b.runtimeStatus === "Failed");
  expect(done.body.output).toMatch(
    /^The timer 0 created by orchestration 'timerAfter' fires at \S+, 6048\d{5} ms \(7 days\) after the instance started at \S+, over the limit of 518400000 ms \(6 days\) \(--max-timer-span-ms\)\.$/,
  );
  res = await fetch(`${webhooks()}/orchestrators/timerAfter/nan`, { method: "POST", body: JSON.stringify({ invalid: true }) });
  done = await pollUntil((await json(res)).statusQueryGetUri, (b) => b.runtimeStatus === "Failed");
  expect(done.body.output).toBe(
    "The timer 0 created by orchestration 'timerAfter' has fireAt null, which is not a date (an invalid Date is sent as null).",
  );
  // A 5-day timer is accepted (and left waiting).
  res = await fetch(`${webhooks()}/orchestrators/timerAfter/five`, { method: "POST", body: JSON.stringify({ days: 5 }) });
  const five = await pollUntil((await json(res)).statusQueryGetUri, (b) => b.runtimeStatus === "Running");
  expect(five.body.output).toBeNull();
  await fetch(`${webhooks()}/instances/five/terminate`, { method: "POST" });
});

test("CLI: --max-timer-span-ms and --max-instance-id-length, else their environment variables", () => {
  const none = parseArgs([], {});
  expect([none.maxTimerSpanMs, none.maxInstanceIdLength]).toEqual([undefined, undefined]);
  expect(parseArgs(["--max-timer-span-ms", "0", "--max-instance-id-length=256"], {})).toMatchObject({
    maxTimerSpanMs: 0,
    maxInstanceIdLength: 256,
  });
  expect(parseArgs([], { LOCAL_HOST_MAX_TIMER_SPAN_MS: "60000", LOCAL_HOST_MAX_INSTANCE_ID_LENGTH: "50" })).toMatchObject({
    maxTimerSpanMs: 60000,
    maxInstanceIdLength: 50,
  });
  expect(parseArgs(["--max-timer-span-ms", "1"], { LOCAL_HOST_MAX_TIMER_SPAN_MS: "60000" }).maxTimerSpanMs).toBe(1);
  expect(() => parseArgs(["--max-instance-id-length", "-1"], {})).toThrow(
    /Invalid --max-instance-id-length '-1' \(characters, 0 = no limit\)/,
  );
  expect(() => parseArgs([], { LOCAL_HOST_MAX_TIMER_SPAN_MS: "6d" })).toThrow(/Invalid LOCAL_HOST_MAX_TIMER_SPAN_MS/);
});

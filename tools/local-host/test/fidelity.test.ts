/** Fidelity fixes: suspend/resume state rules, entity reads refused, unsupported output bindings, --rpc-port. */
import { parseArgs } from "../cli";
import { buildHost, fixtureApp, freePort, json, pollUntil, startHostProcess, tempDir, type HostProcess } from "./harness";

jest.setTimeout(60000);

let host: HostProcess;
let rpcPort: number;

beforeAll(async () => {
  buildHost();
  rpcPort = await freePort();
  host = await startHostProcess({ appDir: fixtureApp, dataDir: tempDir("local-host-fid-"), args: ["--rpc-port", String(rpcPort)] });
});
afterAll(async () => {
  if (host) await host.stop();
});

const webhooks = () => `${host.url}/runtime/webhooks/durabletask`;
const post = (url: string) => fetch(url, { method: "POST" });

async function waitingInstance(id: string): Promise<string> {
  const res = await fetch(`${host.url}/api/orchestrators/fixtureOrchestrator?id=${id}`, {
    method: "POST",
    body: JSON.stringify({ waitForEvent: true, timerMs: 10 }),
  });
  const started = await json(res);
  await pollUntil(started.statusQueryGetUri, (b) => b.customStatus?.phase === "waiting");
  return `${webhooks()}/instances/${id}`;
}

describe("suspend / resume follow DurableClient's state rules", () => {
  test("webhook: resuming a Running instance and suspending a Suspended one answer 500 with the host's message", async () => {
    const base = await waitingInstance("fid-1");
    let res = await post(`${base}/resume?reason=x`);
    expect(res.status).toBe(500);
    expect(await json(res)).toMatchObject({
      Message: "Something went wrong while processing your request",
      ExceptionMessage: "Cannot resume the orchestration instance fid-1 because instance is in the Running state.",
      ExceptionType: "System.InvalidOperationException",
    });
    expect((await post(`${base}/suspend?reason=x`)).status).toBe(202);
    await pollUntil(base, (b) => b.runtimeStatus === "Suspended");
    res = await post(`${base}/suspend?reason=again`);
    expect(res.status).toBe(500);
    expect((await json(res)).ExceptionMessage).toBe(
      "Cannot suspend the orchestration instance fid-1 because instance is in the Suspended state.",
    );
    expect((await post(`${base}/resume?reason=x`)).status).toBe(202);
    await pollUntil(base, (b) => b.runtimeStatus === "Running");
    await post(`${base}/terminate?reason=done`);
  });

  test("client RPC path: the durable client's suspend/resume fail the same way", async () => {
    const base = await waitingInstance("fid-2");
    let res = await post(`${host.url}/api/client/fid-2/op/resume`);
    expect(res.status).toBe(500);
    expect((await json(res)).error).toContain("Cannot resume the orchestration instance fid-2 because instance is in the Running state.");
    expect((await post(`${host.url}/api/client/fid-2/op/suspend`)).status).toBe(202);
    await pollUntil(base, (b) => b.runtimeStatus === "Suspended");
    res = await post(`${host.url}/api/client/fid-2/op/suspend`);
    expect(res.status).toBe(500);
    expect((await json(res)).error).toContain(
      "Cannot suspend the orchestration instance fid-2 because instance is in the Suspended state.",
    );
    await post(`${base}/terminate?reason=done`);
  });
});

describe("entities", () => {
  test("readEntityState is refused, not answered with entityExists: false", async () => {
    const res = await post(`${host.url}/api/client/k1/op/readEntity`);
    expect(res.status).toBe(500);
    expect((await json(res)).error).toMatch(/status code: 500.*Durable entities are not supported by the project's local host/);
    const direct = await fetch(`${webhooks()}/entities/counter/k1`);
    expect(direct.status).toBe(500);
    expect((await fetch(`${webhooks()}/entities/nope/k1`)).status).toBe(400);
  });
});

describe("output bindings the host cannot run", () => {
  test("are named in the start-up banner", () => {
    expect(host.output()).toMatch(/Warning: this local host cannot run these output bindings: blobOut\.\S+ \(blob\)/);
  });

  test("an invocation that sets one fails with a clear message; one that does not still works", async () => {
    const ok = await post(`${host.url}/api/blobOut`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("handled");
    const res = await post(`${host.url}/api/blobOut?write=1`);
    expect(res.status).toBe(500);
    expect(host.output()).toMatch(
      /Function 'blobOut' set its output binding '\S+' of type 'blob', which the project's local host \(tools\/local-host\) cannot run; the output was NOT written/,
    );
  });
});

describe("--rpc-port", () => {
  test("the RPC listener takes the given port and the client binding points to it", async () => {
    expect(host.output()).toContain(`local RPC endpoint http://127.0.0.1:${rpcPort}/durabletask/`);
    const res = await fetch(`http://127.0.0.1:${rpcPort}/durabletask/instances/fid-1`);
    expect(res.status).toBe(200);
  });

  test("a port in use fails start-up with a message naming it", async () => {
    const err = await startHostProcess({
      appDir: fixtureApp,
      dataDir: tempDir("local-host-fid2-"),
      args: ["--rpc-port", String(rpcPort)],
    }).then(
      () => undefined,
      (e: Error & { output?: string }) => e,
    );
    expect(err?.output).toContain(`Cannot open the local RPC endpoint on 127.0.0.1:${rpcPort} (--rpc-port)`);
  });

  test("CLI parsing", () => {
    expect(parseArgs(["--rpc-port", "17072"], {}).rpcPort).toBe(17072);
    expect(parseArgs(["--rpc-port=0"], {}).rpcPort).toBe(0);
    expect(parseArgs([], {}).rpcPort).toBeUndefined();
    expect(() => parseArgs(["--rpc-port", "x"], {})).toThrow(/Invalid port/);
  });
});

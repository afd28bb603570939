/** FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: bodies over the limit get 413 before (or instead of) being read. */
import * as http from "node:http";
import { DEFAULT_MAX_REQUEST_BODY, requestBodyLimit } from "../body-limit";
import { hostForSuite, fixtureApp, tempDir, type HostProcess } from "./harness";

jest.setTimeout(60000);

const LIMIT = 64 * 1024;
let host: HostProcess;

hostForSuite(
  {
    appDir: fixtureApp,
    dataDir: tempDir("local-host-body-"),
    env: { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: String(LIMIT) },
  },
  (h) => (host = h),
);

interface Sent {
  status?: number;
  /** Bytes the client had written when the answer came. */
  sentAtResponse?: number;
  finishedSending: boolean;
}

/** POSTs `total` bytes to the echo function in chunks (chunked transfer unless contentLength is given). */
function post(path: string, total: number, contentLength?: number): Promise<Sent> {
  return new Promise((resolve) => {
    const result: Sent = { finishedSending: false };
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const headers: http.OutgoingHttpHeaders = { "content-type": "text/plain" };
    if (contentLength !== undefined) headers["content-length"] = contentLength;
    const req = http.request(`${host.url}${path}`, { method: "POST", headers }, (res) => {
      result.status = res.statusCode;
      result.sentAtResponse = sent;
      clearTimeout(timer);
      res.resume();
      res.on("end", () => resolve(result));
      res.on("error", () => resolve(result));
    });
    req.on("error", () => resolve(result)); // the host closes the connection after its 413
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    const pump = () => {
      if (result.status !== undefined) return;
      if (sent >= total) {
        result.finishedSending = true;
        req.end();
        return;
      }
      sent += chunk.length;
      req.write(chunk);
      timer = setTimeout(pump, 2);
    };
    pump();
  });
}

test("the limit comes from FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, default 100 MB", () => {
  expect(requestBodyLimit({})).toBe(104857600);
  expect(DEFAULT_MAX_REQUEST_BODY).toBe(104857600);
  expect(requestBodyLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: "2048" })).toBe(2048);
  expect(requestBodyLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: "lots" })).toBe(104857600);
});

test("a body within the limit reaches the function", async () => {
  const r = await post("/api/echo", 32 * 1024);
  expect(r.status).toBe(201);
});

test("a declared Content-Length over the limit gets 413 before any byte is read", async () => {
  const before = host.output();
  const r = await post("/api/echo", 64 * 1024 * 1024, 64 * 1024 * 1024);
  expect(r.status).toBe(413);
  expect(r.finishedSending).toBe(false);
  expect(r.sentAtResponse!).toBeLessThan(4 * 1024 * 1024);
  expect(host.output().slice(before.length)).not.toMatch(/Functions\.echo/);
});

test("a chunked body gets 413 once it passes the limit, long before the client is done; the function never runs", async () => {
  const before = host.output();
  const r = await post("/api/echo", 64 * 1024 * 1024);
  expect(r.status).toBe(413);
  expect(r.finishedSending).toBe(false);
  expect(r.sentAtResponse!).toBeLessThan(4 * 1024 * 1024);
  expect(host.output().slice(before.length)).not.toMatch(/Functions\.echo/);
  // The host still serves.
  expect((await post("/api/echo", 1024)).status).toBe(201);
});

test("the Durable webhooks are under the same limit", async () => {
  const r = await post("/runtime/webhooks/durabletask/orchestrators/fixtureOrchestrator", 1024 * 1024);
  expect(r.status).toBe(413);
});

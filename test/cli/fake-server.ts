/**
 * Support for the CLI's tests that need no Functions host: a scriptable HTTP server on 127.0.0.1 (port 0)
 * that records every request it gets (method, path, headers, body), a fake Scatter-Gather API built on it,
 * and a runner of the built CLI (dist/src/cli/scatter-gather.js, from `npx tsc -p tsconfig.json`).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import type { GatherStatus, RecipientResponse } from "../../src/client";

export const repoRoot = path.resolve(__dirname, "../..");
export const BIN = path.join(repoRoot, "dist", "src", "cli", "scatter-gather.js");
if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: build first (npx tsc -p tsconfig.json)`);

export interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FakeServer {
  /** http://127.0.0.1:<port> */
  url: string;
  requests: Seen[];
  close(): Promise<void>;
}

type Handler = (req: Seen, res: http.ServerResponse) => void;

/** A server on 127.0.0.1 that records each request (with its whole body) and then hands it to `handler`. */
export async function fakeServer(handler: Handler): Promise<FakeServer> {
  const requests: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      requests.push(seen);
      handler(seen, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** The management URLs of gather `id`, as the starter's (and a redrive's) 202 gives them. */
export function managementUrls(id: string): Record<string, string> {
  const at = (what: string) => `http://127.0.0.1/runtime/webhooks/durabletask/instances/${id}${what}`;
  return {
    id,
    statusQueryGetUri: at(""),
    sendEventPostUri: at("/raiseEvent/{eventName}"),
    terminatePostUri: at("/terminate?reason={text}"),
    purgeHistoryDeleteUri: at(""),
    suspendPostUri: at("/suspend?reason={text}"),
    resumePostUri: at("/resume?reason={text}"),
    rewindPostUri: at("/rewind?reason={text}"),
  };
}

/** A status of gather `id` as GET /api/scatter-gather/{id} gives it. */
export function gatherStatus(id: string, overrides: Partial<GatherStatus> = {}): GatherStatus {
  return {
    id,
    runtimeStatus: "Completed",
    createdTime: "2030-01-01T00:00:00.000Z",
    lastUpdatedTime: "2030-01-01T00:00:01.000Z",
    progress: { phase: "done", total: 2, succeeded: 1, failed: 1, pending: 0, deadline: null },
    result: {
      id,
      outcome: "complete",
      closedBy: "all-responded",
      startedAt: "2030-01-01T00:00:00.000Z",
      closedAt: "2030-01-01T00:00:00.500Z",
      counts: { total: 2, succeeded: 1, failed: 1, timedOut: 0, abandoned: 0 },
      aggregate: { kind: "collect", values: { a: 1 }, count: 1 },
    },
    ...overrides,
  };
}

/**
 * A fake Scatter-Gather API: GET /api/scatter-gather/{id} answers `statuses` one after the other (the last
 * one again and again), …/responses answers `responses` (one page), GET /api/scatter-gather answers `list`,
 * POST /api/scatter-gather starts gather `statuses[0].id`. `override` may answer first (return true).
 */
export function fakeApi(options: {
  statuses?: GatherStatus[];
  responses?: RecipientResponse[];
  list?: unknown;
  override?: (req: Seen, res: http.ServerResponse) => boolean;
}): Promise<FakeServer> {
  let polls = 0;
  return fakeServer((req, res) => {
    if (options.override?.(req, res)) return;
    const { pathname } = new URL(req.path, "http://x");
    const statuses = options.statuses ?? [];
    if (req.method === "GET" && /^\/api\/scatter-gather\/[^/]+\/responses$/.test(pathname)) {
      const items = options.responses ?? [];
      return sendJson(res, 200, { items, offset: 0, limit: 100, total: items.length, nextUri: null });
    }
    if (req.method === "GET" && /^\/api\/scatter-gather\/[^/]+$/.test(pathname) && statuses.length > 0)
      return sendJson(res, 200, statuses[Math.min(polls++, statuses.length - 1)]);
    if (req.method === "GET" && pathname === "/api/scatter-gather")
      return sendJson(res, 200, options.list ?? { items: [], continuationToken: null, nextUri: null });
    if (req.method === "POST" && pathname === "/api/scatter-gather" && statuses.length > 0)
      return sendJson(res, 202, managementUrls(statuses[0].id));
    sendJson(res, 404, { error: { code: "not_found", message: `no route ${req.method} ${pathname}` } });
  });
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the built CLI with `env` (and none of the caller's SCATTER_GATHER_* or NO_COLOR). */
export function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(childEnv)) if (name.startsWith("SCATTER_GATHER_") || name === "NO_COLOR") delete childEnv[name];
  Object.assign(childEnv, env);
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: childEnv, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: number }).code ?? -1) : 0;
      resolve({ code: typeof code === "number" ? code : -1, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/**
 * The host's listeners: the HTTP front on 127.0.0.1 and ::1 (same port), and the durable client's local RPC
 * endpoint on 127.0.0.1 (the extension's LocalHttpListener port choice); plus the small HTTP plumbing both use.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { ApiRequest, ApiResponse } from "./durable-api";

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

export interface Listeners {
  port: number;
  rpcPort: number;
  close(): Promise<void>;
}

/** Opens the front (port 0 = any free port) and the RPC endpoint; the front's port is known before the app loads. */
export async function openListeners(o: { port: number; rpcPort?: number; front: RequestHandler; rpc: RequestHandler }): Promise<Listeners> {
  const main = http.createServer((req, res) => void o.front(req, res));
  const port = await listen(main, o.port, "127.0.0.1");
  const mainV6 = http.createServer((req, res) => void o.front(req, res));
  const v6ok = await listen(mainV6, port, "::1").then(
    () => true,
    () => false,
  );
  const rpc = http.createServer((req, res) => void o.rpc(req, res));
  const rpcPort = await listenRpc(rpc, o.rpcPort, o.port === 0);
  return {
    port,
    rpcPort,
    close: async () => {
      await Promise.all([closeServer(main), v6ok ? closeServer(mainV6) : Promise.resolve(), closeServer(rpc)]);
    },
  };
}

export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** LocalHttpListener: 17071 first, then random ports in 30000-31000, ten attempts; any free port when testing. */
export async function listenRpc(server: http.Server, chosen: number | undefined, anyPort: boolean): Promise<number> {
  if (chosen !== undefined) {
    return listen(server, chosen, "127.0.0.1").catch((e: Error) => {
      throw new Error(`Cannot open the local RPC endpoint on 127.0.0.1:${chosen} (--rpc-port): ${e.message}`);
    });
  }
  if (anyPort) return listen(server, 0, "127.0.0.1");
  const tried = new Set<number>();
  for (let attempt = 1; attempt <= 10; attempt++) {
    let p = 17071;
    if (attempt > 1) {
      do p = 30000 + Math.floor(Math.random() * 1000);
      while (tried.has(p));
    }
    tried.add(p);
    try {
      return await listen(server, p, "127.0.0.1");
    } catch {
      /* port in use: next attempt */
    }
  }
  throw new Error("Unable to find a port to open an RPC endpoint on after 10 attempts");
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(() => server.closeAllConnections(), 5000);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export function send(res: http.ServerResponse, r: ApiResponse): void {
  res.statusCode = r.status;
  for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, "utf8");
  res.setHeader("Content-Length", body.length);
  res.end(res.req?.method === "HEAD" ? undefined : body);
}

export function requestUrl(req: http.IncomingMessage): URL {
  const host = req.headers.host ?? `127.0.0.1:${(req.socket.address() as AddressInfo).port}`;
  return new URL(req.url ?? "/", `http://${host}`);
}

export function apiRequest(req: http.IncomingMessage, url: URL, body: Buffer): ApiRequest {
  return { method: req.method ?? "GET", url, headers: req.headers, body };
}

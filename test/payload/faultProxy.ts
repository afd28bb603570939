/**
 * A fault-injecting TCP proxy on 127.0.0.1 in front of a storage service (Azurite), for tests of what the
 * payload store does when the store misbehaves: it cuts a response in the middle of its body, closes the
 * connection after the service has done the work but before any answer byte, holds a response forever,
 * or takes the whole service away for a while (every open connection reset, new ones refused).
 *
 *   const proxy = await startFaultProxy(azurite.port);
 *   proxy.cut({ method: "GET", path: /answers/ }, 2);      // the next two matching answers end mid-body
 *   await proxy.outage(3000);                               // refused for 3 s, then listening again
 *
 * Plain node:net, no HTTP parsing beyond a request line at the start of a client chunk: a client sends a
 * request on a kept-alive connection only once the previous response is complete (no pipelining), so every
 * byte the service sends after a faulted request belongs to that request's response.
 */
import * as net from "node:net";

export interface RequestMatch {
  method?: string;
  /** Tested against the request target (path and query). */
  path?: RegExp;
}

type Fault = { kind: "cut"; bodyBytes: number } | { kind: "drop" } | { kind: "stall" } | { kind: "status"; status: number };

export interface FaultProxy {
  readonly port: number;
  /** Every request line seen so far ("GET /devstoreaccount1/…"), in order. */
  readonly requests: string[];
  /** Requests seen whose line matches. */
  count(match: RequestMatch): number;
  /** The next `times` matching requests: their response ends after the headers and `bodyBytes` bytes of body. */
  cut(match: RequestMatch, times: number, bodyBytes?: number): void;
  /** The next `times` matching requests reach the service, then the connection is closed before any answer byte. */
  drop(match: RequestMatch, times: number): void;
  /** The next `times` matching requests reach the service; their answer is never forwarded (the connection stays open). */
  stall(match: RequestMatch, times: number): void;
  /** The next `times` matching requests never reach the service: the proxy answers `status` itself and closes. */
  fail(match: RequestMatch, times: number, status: number): void;
  /** Faults still armed (not yet triggered). */
  armed(): number;
  /** Forgets every armed fault. */
  disarm(): void;
  /** Resets every open connection and refuses new ones for `ms`; resolves once listening again. */
  outage(ms: number): Promise<void>;
  close(): Promise<void>;
}

const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.1\r\n/;

export async function startFaultProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<FaultProxy> {
  const requests: string[] = [];
  const rules: { match: RequestMatch; fault: Fault; left: number }[] = [];
  const sockets = new Set<net.Socket>();

  const take = (method: string, target: string): Fault | undefined => {
    for (const rule of rules) {
      if (rule.left <= 0) continue;
      if (rule.match.method && rule.match.method !== method) continue;
      if (rule.match.path && !rule.match.path.test(target)) continue;
      rule.left--;
      return rule.fault;
    }
    return undefined;
  };

  const onConnection = (client: net.Socket) => {
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    let fault: Fault | undefined;
    let head = Buffer.alloc(0);
    let headSent = false;
    let forwardedBody = 0;
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on("close", () => {
      sockets.delete(upstream);
      // A stalled answer stays stalled, whatever the service does with its side of the connection.
      if (fault?.kind !== "stall") client.destroy();
    });
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);

    client.on("data", (chunk: Buffer) => {
      const line = REQUEST_LINE.exec(chunk.subarray(0, 2048).toString("latin1"));
      if (line) {
        requests.push(`${line[1]} ${line[2]}`);
        const next = take(line[1], line[2]);
        if (next?.kind === "status") {
          fault = next;
          client.end(`HTTP/1.1 ${next.status} Injected\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
          return;
        }
        if (next) {
          fault = next;
          head = Buffer.alloc(0);
          headSent = false;
          forwardedBody = 0;
        }
      }
      if (fault?.kind === "status") return; // the rest of a refused request's body
      upstream.write(chunk);
    });

    upstream.on("data", (chunk: Buffer) => {
      if (!fault) {
        client.write(chunk);
        return;
      }
      switch (fault.kind) {
        case "status":
        case "stall":
          return;
        case "drop":
          end();
          return;
        case "cut": {
          let body: Buffer;
          if (!headSent) {
            head = Buffer.concat([head, chunk]);
            const split = head.indexOf("\r\n\r\n");
            if (split < 0) return;
            client.write(head.subarray(0, split + 4));
            headSent = true;
            body = head.subarray(split + 4);
          } else body = chunk;
          const room = fault.bodyBytes - forwardedBody;
          if (room > 0) {
            client.write(body.subarray(0, room));
            forwardedBody += Math.min(room, body.length);
          }
          if (forwardedBody >= fault.bodyBytes) {
            // Give the written bytes a moment to leave, then reset both sides.
            client.end();
            setTimeout(end, 20);
          }
          return;
        }
      }
    });
  };

  let server = net.createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;

  const resetAll = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };

  return {
    port,
    requests,
    count: (match) =>
      requests.filter((r) => {
        const [method, target] = r.split(" ");
        return (!match.method || match.method === method) && (!match.path || match.path.test(target));
      }).length,
    cut: (match, times, bodyBytes = 10) => void rules.push({ match, fault: { kind: "cut", bodyBytes }, left: times }),
    drop: (match, times) => void rules.push({ match, fault: { kind: "drop" }, left: times }),
    stall: (match, times) => void rules.push({ match, fault: { kind: "stall" }, left: times }),
    fail: (match, times, status) => void rules.push({ match, fault: { kind: "status", status }, left: times }),
    armed: () => rules.reduce((sum, rule) => sum + rule.left, 0),
    disarm: () => void rules.splice(0),
    async outage(ms) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      resetAll();
      await closed;
      await new Promise((resolve) => setTimeout(resolve, ms));
      server = net.createServer(onConnection);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", resolve);
      });
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      resetAll();
      await closed;
    },
  };
}

/**
 * Preloaded (`node -r`) into the process the telemetry test starts: refuses every TCP connection to a
 * host that is not loopback and records it in $LOOPBACK_GUARD_LOG, so the test can prove that nothing
 * left 127.0.0.1 (and fails if something tried). Plain JS so it needs no build.
 */
"use strict";
const net = require("node:net");
const fs = require("node:fs");

const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1", "::ffff:127.0.0.1", "[::1]"]);
const isLoopback = (host) => host === undefined || host === null || host === "" || LOOPBACK.has(host) || /^127\./.test(host);

function target(args) {
  let first = args[0];
  // net.connect() hands Socket#connect its normalized arguments as an array [options, callback].
  if (Array.isArray(first)) first = first[0];
  if (first && typeof first === "object") return first.path ? { ipc: true } : { host: first.host, port: first.port };
  if (typeof first === "string" && !/^\d+$/.test(first)) return { ipc: true };
  return { host: typeof args[1] === "string" ? args[1] : undefined, port: first };
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  const t = target(args);
  if (!t.ipc && !isLoopback(t.host)) {
    const line = `blocked ${t.host}:${t.port}\n`;
    if (process.env.LOOPBACK_GUARD_LOG) fs.appendFileSync(process.env.LOOPBACK_GUARD_LOG, line);
    process.stderr.write(`[loopback-guard] ${line}`);
    process.nextTick(() => this.destroy(new Error(`loopback guard: connection to ${t.host}:${t.port} refused`)));
    return this;
  }
  return connect.apply(this, args);
};

/**
 * The Functions host's request body cap: Kestrel's MaxRequestBodySize, 100 MB by default, set by the app setting
 * FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (bytes; "App settings reference for Azure Functions"). Over the limit Kestrel
 * answers 413 without buffering the body.
 */
import type * as http from "node:http";

export const DEFAULT_MAX_REQUEST_BODY = 104857600;
export const BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT";

/** The limit from the environment (after local.settings.json is applied); a value that is not a positive integer is ignored. */
export function requestBodyLimit(env: NodeJS.ProcessEnv): number {
  const raw = env[BODY_LIMIT_SETTING]?.trim();
  if (!raw || !/^\d+$/.test(raw)) return DEFAULT_MAX_REQUEST_BODY;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_MAX_REQUEST_BODY;
}

/**
 * Reads a request body up to `limit` bytes. Resolves undefined as soon as the body is known to be too large:
 * at once for a declared Content-Length, else when the chunks read pass the limit. What was read is dropped,
 * the rest is never read: the caller answers 413 and closes the connection (tooLarge).
 */
export function readBodyWithin(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) return void chunks.push(c);
      chunks = [];
      req.off("data", onData);
      req.pause();
      resolve(undefined);
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Sends 413 and closes the connection, so the unread rest of the body is never read or buffered. */
export function tooLarge(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.shouldKeepAlive = false;
  res.writeHead(413, { "Content-Length": 0, Connection: "close" });
  res.end(() => {
    // Give the client a moment to read the answer, then drop whatever it is still sending.
    setTimeout(() => req.socket.destroy(), 100).unref();
  });
}

/** Reading a JSON request body under the size limit, with docs/api.md's 413/415/400 answers. */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { errorBody } from "../gather/errors";
import { findJsonProblem } from "../gather/json";
import { readAtMost } from "../gather/streams";
import { jsonResponse } from "./responses";

export type BodyResult = { ok: true; body: unknown } | { ok: false; response: HttpResponseInit };

function isJsonContentType(contentType: string | null): boolean {
  if (!contentType) return false;
  const mediaType = contentType.split(";")[0].trim().toLowerCase();
  return mediaType === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

/** A 400 about the body as a whole: its one detail has the empty path (the body itself), as every 400 has details. */
function bodyProblem(problem: string) {
  return errorBody("invalid_request", `the body ${problem}`, [{ path: "", message: problem }]);
}

/** `setting` names the app setting behind `maxBytes` in the 413's message. */
export async function readJsonBody(
  request: Pick<HttpRequest, "headers" | "body">,
  maxBytes: number,
  setting = "MAX_REQUEST_BYTES",
): Promise<BodyResult> {
  if (!isJsonContentType(request.headers.get("content-type"))) {
    return fail(415, errorBody("unsupported_media_type", "the body must be JSON sent with Content-Type: application/json"));
  }
  // A declared length over the limit is refused before reading anything.
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) return tooLarge(maxBytes, setting);
  // Without one (chunked), the stream is read only until it passes the limit.
  const bytes = await readAtMost(request.body, maxBytes);
  if (!bytes) return tooLarge(maxBytes, setting);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return fail(400, bodyProblem("is not valid UTF-8"));
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return fail(400, bodyProblem(`is not valid JSON: ${(error as Error).message}`));
  }
  // Checked before anything walks the value recursively (validation, JSON.stringify on the way out).
  const problem = findJsonProblem(body);
  if (problem) {
    const detail = { path: problem.path, message: problem.message };
    return fail(400, errorBody("invalid_request", `${problem.path || "the body"}: ${problem.message}`, [detail]));
  }
  return { ok: true, body };
}

function tooLarge(maxBytes: number, setting: string): BodyResult {
  return fail(413, errorBody("payload_too_large", `the body is larger than ${maxBytes} bytes (${setting})`));
}

function fail(status: number, body: unknown): BodyResult {
  return { ok: false, response: jsonResponse(status, body) };
}

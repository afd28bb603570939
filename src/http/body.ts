/** Reading a JSON request body under the size limit, with API.md's 413/415/400 answers. */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { errorBody } from "../gather/errors";
import { findJsonProblem } from "../gather/json";
import { jsonResponse } from "./responses";

export type BodyResult = { ok: true; body: unknown } | { ok: false; response: HttpResponseInit };

export function isJsonContentType(contentType: string | null): boolean {
  if (!contentType) return false;
  const mediaType = contentType.split(";")[0].trim().toLowerCase();
  return mediaType === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

export async function readJsonBody(request: HttpRequest, maxBytes: number): Promise<BodyResult> {
  if (!isJsonContentType(request.headers.get("content-type"))) {
    return fail(415, errorBody("unsupported_media_type", "the body must be JSON sent with Content-Type: application/json"));
  }
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) return tooLarge(maxBytes);
  const bytes = Buffer.from(await request.arrayBuffer());
  if (bytes.length > maxBytes) return tooLarge(maxBytes);
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    return fail(400, errorBody("invalid_request", `the body is not valid JSON: ${(error as Error).message}`));
  }
  // Checked before anything walks the value recursively (validation, JSON.stringify on the way out).
  const problem = findJsonProblem(body);
  if (problem) {
    const detail = { path: problem.path, message: problem.message };
    return fail(400, errorBody("invalid_request", `${problem.path || "the body"}: ${problem.message}`, [detail]));
  }
  return { ok: true, body };
}

function tooLarge(maxBytes: number): BodyResult {
  return fail(413, errorBody("payload_too_large", `the body is larger than ${maxBytes} bytes (MAX_REQUEST_BYTES)`));
}

function fail(status: number, body: unknown): BodyResult {
  return { ok: false, response: jsonResponse(status, body) };
}

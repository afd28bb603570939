/** The HTTP error body of docs/api.md: `{ "error": { "code", "message", "details"? } }`. */
import type { ErrorDetail } from "./schema";

export type ErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "payload_too_large"
  | "unsupported_media_type"
  | "conflict"
  | "not_found"
  | "gone"
  | "backend_error"
  /** 500: an app setting the app needs is not set (the message names it). */
  | "misconfigured";

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[] };
}

export function errorBody(code: ErrorCode, message: string, details?: ErrorDetail[]): ErrorBody {
  return { error: { code, message, ...(details && details.length > 0 ? { details } : {}) } };
}

/** One line naming the first problems, for logs and the `message` field. */
export function summarize(details: readonly ErrorDetail[]): string {
  const shown = details.slice(0, 3).map((d) => (d.path ? `${d.path}: ${d.message}` : d.message));
  const more = details.length > 3 ? ` (and ${details.length - 3} more)` : "";
  return `${shown.join("; ")}${more}`;
}

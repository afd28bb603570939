import type { HttpResponseInit } from "@azure/functions";
import { errorBody } from "../gather/errors";

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { "Content-Type": "application/json; charset=utf-8", ...headers } };
}

/** 404 for a route `{id}` that names no instance (unknown, or outside the instance id pattern). */
export function notFound(id: string | undefined): HttpResponseInit {
  return jsonResponse(404, errorBody("not_found", `no scatter-gather with id ${JSON.stringify(id ?? "")}`));
}

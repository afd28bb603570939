import { app, type HttpResponseInit } from "@azure/functions";
import { buildOpenApiDocument } from "../openapi/document";

let document: Record<string, unknown> | undefined;

/** GET /api/openapi.json: the OpenAPI 3.1 document, generated from the zod schemas (anonymous: it holds no data). */
export async function openapi(): Promise<HttpResponseInit> {
  document ??= buildOpenApiDocument();
  return { status: 200, jsonBody: document, headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-cache" } };
}

app.http("openapi", { route: "openapi.json", methods: ["GET"], authLevel: "anonymous", handler: openapi });

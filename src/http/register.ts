/**
 * Registration of the gather API's HTTP functions, with the durable client: a function key, except for the
 * routes strangers call with a capability token instead (answerTokens.ts).
 */
import { app, type HttpHandler } from "@azure/functions";
import * as df from "durable-functions";

export function gatherApi(
  name: string,
  method: "GET" | "POST" | "DELETE",
  route: string,
  handler: HttpHandler,
  authLevel: "function" | "anonymous" = "function",
): void {
  app.http(name, { route, methods: [method], authLevel, extraInputs: [df.input.durableClient()], handler });
}

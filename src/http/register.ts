/**
 * Registration of the gather API's HTTP functions, with the durable client: a function key, except for the
 * routes strangers call with a capability token instead (answerTokens.ts).
 */
import { app, type HttpHandler } from "@azure/functions";
import * as df from "durable-functions";
import { errorBody } from "../gather/errors";
import { AppSettingError } from "./appSecrets";
import { jsonResponse } from "./responses";

export function gatherApi(
  name: string,
  method: "GET" | "POST" | "DELETE",
  route: string,
  handler: HttpHandler,
  authLevel: "function" | "anonymous" = "function",
): void {
  app.http(name, { route, methods: [method], authLevel, extraInputs: [df.input.durableClient()], handler: namingSettingProblems(handler) });
}

/**
 * A missing or unusable app setting answers 500 with a body that names it (and is logged), rather than the host's bare 500: the
 * operator sees what to set. Any other error goes to the host as before.
 */
function namingSettingProblems(handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      if (!(error instanceof AppSettingError)) throw error;
      context.error(error.message);
      return jsonResponse(500, errorBody("misconfigured", error.message));
    }
  };
}

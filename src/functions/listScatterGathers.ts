import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import * as df from "durable-functions";
import { durableRpcBaseUrl } from "../durable/client";
import { errorBody } from "../gather/errors";
import { jsonResponse } from "../http/responses";
import { managementUrls, publicOrigin } from "../http/publicUrls";
import { listGathers, parseListQuery } from "../views/gatherList";

/** GET /api/scatter-gather?top=&continuationToken=: recent gathers, one backend page per call (views/gatherList.ts). */
export async function listScatterGathers(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const query = parseListQuery((name) => request.query.get(name));
  if ("error" in query) return jsonResponse(400, errorBody("invalid_request", query.error, [{ path: "query", message: query.error }]));
  const client = df.getClient(context);
  const { items, continuationToken } = await listGathers(client, durableRpcBaseUrl(context), query);
  let nextUri: string | null = null;
  if (continuationToken) {
    const next = new URL(`${publicOrigin(managementUrls(client, "x"))}/api/scatter-gather`);
    for (const [name, value] of new URL(request.url).searchParams)
      if (name !== "continuationToken" && name !== "code") next.searchParams.set(name, value);
    next.searchParams.set("continuationToken", continuationToken);
    nextUri = next.href;
  }
  return jsonResponse(200, { items, continuationToken, nextUri });
}

gatherApi("listScatterGathers", "GET", "scatter-gather", listScatterGathers);

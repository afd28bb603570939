import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import * as df from "durable-functions";
import { durableRpcBaseUrl, findStatus } from "../durable/client";
import { errorBody } from "../gather/errors";
import { readLimits } from "../gather/limits";
import { jsonResponse } from "../http/responses";
import { managementUrls, publicOrigin } from "../http/publicUrls";
import { ListError, listGathers, parseListQuery } from "../views/gatherList";
import { liveProgress, withLiveListProgress } from "../views/gatherStatus";

/** GET /api/scatter-gather?top=&continuationToken=: gathers, newest first (views/gatherList.ts). */
export async function listScatterGathers(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const query = parseListQuery((name) => request.query.get(name));
  if ("error" in query) return jsonResponse(400, errorBody("invalid_request", query.error, [{ path: query.path, message: query.error }]));
  const client = df.getClient(context);
  const rpcBaseUrl = durableRpcBaseUrl(context);
  let page: Awaited<ReturnType<typeof listGathers>>;
  try {
    page = await listGathers(client, rpcBaseUrl, query);
  } catch (error) {
    if (!(error instanceof ListError)) throw error;
    context.warn(`listScatterGathers: ${error.message}`);
    const code = error.status === 400 ? "invalid_request" : "backend_error";
    return jsonResponse(
      error.status,
      errorBody(code, error.message, error.status === 400 ? [{ path: "continuationToken", message: error.message }] : undefined),
    );
  }
  const { continuationToken } = page;
  // The newest rows that may have batches show their batches' live counts, as the gather's own route does.
  const warn = (message: string) => context.warn(message);
  const readLive = async (id: string) => {
    const status = await findStatus(client, id, true);
    return status ? liveProgress(status, rpcBaseUrl, warn) : undefined;
  };
  const items = await withLiveListProgress(page.items, readLimits().fanoutBatchSize, readLive, warn);
  let nextUri: string | null = null;
  if (continuationToken) {
    const next = new URL(`${publicOrigin(managementUrls(client, "x"))}/api/scatter-gather`);
    for (const [name, value] of new URL(request.url).searchParams)
      // The key stays out of a URL meant to be shared or logged, whatever its spelling (the host reads `code` case-insensitively).
      if (name !== "continuationToken" && name.toLowerCase() !== "code") next.searchParams.set(name, value);
    next.searchParams.set("continuationToken", continuationToken);
    nextUri = next.href;
  }
  return jsonResponse(200, { items, continuationToken, nextUri });
}

gatherApi("listScatterGathers", "GET", "scatter-gather", listScatterGathers);

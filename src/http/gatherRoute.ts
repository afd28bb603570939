/** The gather a route's `{id}` names, for every HTTP function that takes one. */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { findStatus } from "../durable/client";
import { isInstanceId } from "../gather/instanceIds";
import { notFound } from "./responses";

export type RouteGather =
  | { found: true; id: string; client: df.DurableClient; status: df.DurableOrchestrationStatus }
  | { found: false; response: HttpResponseInit };

/**
 * The instance and its status, or the 404 to answer: for an unknown id, and for an id outside the
 * instance id pattern before any lookup (it must never reach the management API's URLs).
 */
export async function findGather(
  request: HttpRequest,
  context: InvocationContext,
  options: { showInput?: boolean } = {},
): Promise<RouteGather> {
  const id = request.params.id;
  if (!isInstanceId(id)) return { found: false, response: notFound(id) };
  const client = df.getClient(context);
  const status = await findStatus(client, id, options.showInput ?? false);
  return status ? { found: true, id, client, status } : { found: false, response: notFound(id) };
}

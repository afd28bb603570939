/**
 * The Durable Functions HTTP API, after the extension's HttpApiHandler.cs, backed by the DurableEngine.
 * The same handler serves the public webhooks (`/runtime/webhooks/durabletask/...` on the host port) and
 * the local RPC endpoint the out-of-process durable client calls (`http://127.0.0.1:<rpc port>/durabletask/`,
 * the extension's LocalHttpListener). Routes, query parameters (case-insensitive), status codes, headers
 * and JSON field names follow HttpApiHandler; the durableClient binding data follows BindingHelper.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import {
  InstanceNotFoundError,
  InstanceQuarantinedError,
  InstanceStateError,
  InvalidInstanceIdError,
  type DurableEngine,
  type InstanceQuery,
  type InstanceStatus,
  type RuntimeStatus,
} from "./engine/types";
import { alreadyExistsMessage, isTerminal, RuntimeStatusByNumber, unknownFunctionMessage } from "./engine/host-messages";

export interface ApiRequest {
  method: string;
  /** The URL as the client addressed it (scheme, host header, path, query). */
  url: URL;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body?: string | Buffer;
}

export interface DurableApiOptions {
  engine: DurableEngine;
  hubName: string;
  connectionName: string;
  orchestrators: () => ReadonlySet<string>;
  entities: () => ReadonlySet<string>;
  /** The webhook URI the host hands the extension: `http://localhost:<port>/runtime/webhooks/durabletask` (+ `?code=` in Azure). */
  webhookUri: () => URL;
  /** The local RPC base URL, `http://127.0.0.1:<port>/durabletask/`. */
  rpcBaseUrl: () => string | undefined;
}

/** Thrown where the host throws ArgumentException (→ 400 "One or more of the arguments submitted is incorrect"). */
export class ArgumentError extends Error {}

/** DurableTask.Core OrchestrationAlreadyExistsException (→ 500 through the generic handler). */
class OrchestrationAlreadyExistsError extends Error {}

const InstanceIdPlaceholder = "INSTANCEID";
const MaxInstanceIdLength = 256;
/** OrchestrationRuntimeStatus / OrchestrationStatus enum names by value, for Enum.TryParse of numbers. */
const statusByNumber = RuntimeStatusByNumber;
const statusNames = new Set<string>(Object.values(statusByNumber));

export class DurableHttpApi {
  constructor(private readonly o: DurableApiOptions) {}

  // ---------- links (HttpApiHandler.GetBaseUrl / GetInstanceCreationLinks / GetClientResponseLinks) ----------

  baseUrl(): string {
    const u = this.o.webhookUri();
    return u.origin + u.pathname.replace(/\/+$/, "");
  }

  universalQueryStrings(): string {
    return this.o.webhookUri().search.replace(/^\?/, "");
  }

  creationLinks(): { createNewInstancePostUri: string; createAndWaitOnNewInstancePostUri: string } {
    const prefix = `${this.baseUrl()}/orchestrators/{functionName}[/{instanceId}]`;
    const q = this.universalQueryStrings();
    return {
      createNewInstancePostUri: `${prefix}?${q}`,
      createAndWaitOnNewInstancePostUri: `${prefix}?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${q}`,
    };
  }

  managementLinks(
    requestUrl: URL | undefined,
    instanceId: string,
    taskHub?: string,
    connection?: string,
    returnInternalServerErrorOnFailure = false,
  ) {
    const notification = this.o.webhookUri();
    const hostUrl = (requestUrl ?? notification).origin;
    const base = hostUrl + notification.pathname.replace(/\/+$/, "");
    const instancePrefix = `${base}/instances/${urlEncode(instanceId)}`;
    let q = `taskHub=${urlEncode(taskHub ?? this.o.hubName)}&connection=${urlEncode(connection ?? this.o.connectionName)}`;
    if (notification.search) q += "&" + notification.search.replace(/^\?/, "");
    const payload = {
      id: instanceId,
      statusQueryGetUri: `${instancePrefix}?${q}`,
      sendEventPostUri: `${instancePrefix}/raiseEvent/{eventName}?${q}`,
      terminatePostUri: `${instancePrefix}/terminate?reason={text}&${q}`,
      rewindPostUri: `${instancePrefix}/rewind?reason={text}&${q}`,
      purgeHistoryDeleteUri: `${instancePrefix}?${q}`,
      restartPostUri: `${instancePrefix}/restart?${q}`,
      suspendPostUri: `${instancePrefix}/suspend?reason={text}&${q}`,
      resumePostUri: `${instancePrefix}/resume?reason={text}&${q}`,
    };
    if (returnInternalServerErrorOnFailure) payload.statusQueryGetUri += "&returnInternalServerErrorOnFailure=true";
    return payload;
  }

  /** The durableClient input binding's value (BindingHelper.DurableOrchestrationClientToString, HTTP protocol). */
  clientBindingData(binding: { taskHub?: unknown; connectionName?: unknown } = {}): Record<string, unknown> {
    const taskHub = typeof binding.taskHub === "string" && binding.taskHub ? binding.taskHub : undefined;
    const connection = typeof binding.connectionName === "string" && binding.connectionName ? binding.connectionName : undefined;
    const data: Record<string, unknown> = {
      taskHubName: taskHub ?? this.o.hubName,
      connectionName: null,
      creationUrls: this.creationLinks(),
      managementUrls: this.managementLinks(undefined, InstanceIdPlaceholder, taskHub, connection),
      baseUrl: this.baseUrl(),
      requiredQueryStringParameters: this.universalQueryStrings(),
      rpcBaseUrl: this.o.rpcBaseUrl() ?? null,
      httpBaseUrl: null,
    };
    return data;
  }

  /** CreateCheckStatusResponseMessage: 202 with the management URLs, Location and Retry-After: 10. */
  checkStatusResponse(requestUrl: URL | undefined, instanceId: string, returnInternalServerErrorOnFailure = false): ApiResponse {
    const p = this.managementLinks(requestUrl, instanceId, undefined, undefined, returnInternalServerErrorOnFailure);
    const body = {
      id: instanceId,
      statusQueryGetUri: p.statusQueryGetUri,
      sendEventPostUri: p.sendEventPostUri,
      terminatePostUri: p.terminatePostUri,
      purgeHistoryDeleteUri: p.purgeHistoryDeleteUri,
      restartPostUri: p.restartPostUri,
      suspendPostUri: p.suspendPostUri,
      resumePostUri: p.resumePostUri,
    };
    const res = jsonResponse(202, body);
    res.headers["Location"] = p.statusQueryGetUri;
    res.headers["Retry-After"] = "10";
    return res;
  }

  // ---------- HandleRequestAsync ----------

  async handle(req: ApiRequest, basePath: string): Promise<ApiResponse> {
    try {
      const rest = req.url.pathname.slice(basePath.length);
      const segs = rest
        .replace(/^\/+|\/+$/g, "")
        .split("/")
        .filter((s, i, all) => !(all.length === 1 && s === ""))
        .map(decodeSegment);
      return await this.route(req, segs, req.method.toUpperCase());
    } catch (err) {
      return errorToResponse(err);
    }
  }

  private async route(req: ApiRequest, segs: string[], method: string): Promise<ApiResponse> {
    const first = (segs[0] ?? "").toLowerCase();
    // orchestrators/{functionName}/{instanceId?}
    if (first === "orchestrators" && segs.length >= 2 && segs.length <= 3 && segs[1] !== "") {
      if (method !== "POST") return empty(404);
      return this.startOrchestration(req, segs[1], segs[2] ?? "");
    }
    // entities/{entityName?}/{entityKey?}
    if (first === "entities" && segs.length <= 3) return this.entities(req, method, segs[1] ?? "", segs[2] ?? "");
    // instances/{instanceId?}/{operation?}
    if (first === "instances" && segs.length <= 3) {
      const r = await this.instances(req, method, segs[1], segs[2]);
      if (r) return r;
    }
    // instances/{instanceId?}/raiseEvent/{eventName}
    if (first === "instances" && segs.length === 4 && segs[2].toLowerCase() === "raiseevent") {
      if (method !== "POST") return empty(404);
      return this.raiseEvent(req, segs[1], segs[3]);
    }
    if (first === "makeprimary" && segs.length === 1) {
      return errorResponse(
        500,
        "Something went wrong while processing your request",
        new Error("Cannot make current app primary. This app is not using the AppLease feature."),
        "System.InvalidOperationException",
      );
    }
    return empty(404);
  }

  /** instances, instances/{id}, instances/{id}/{operation}; undefined for an unknown POST operation (→ 404). */
  private async instances(
    req: ApiRequest,
    method: string,
    instanceId: string | undefined,
    operation: string | undefined,
  ): Promise<ApiResponse | undefined> {
    if (instanceId === undefined || instanceId === "") {
      if (method === "GET") return this.listInstances(req);
      if (method === "DELETE") return this.purgeByFilter(req);
      return empty(404);
    }
    if (operation === undefined) {
      if (method === "GET") return this.getStatus(req, instanceId);
      if (method === "DELETE") return this.purgeOne(instanceId);
      return empty(404);
    }
    if (method !== "POST") return empty(404);
    switch (operation.toLowerCase()) {
      case "terminate":
      case "suspend":
      case "resume":
        return this.terminateLike(req, instanceId, operation.toLowerCase() as "terminate" | "suspend" | "resume");
      case "rewind":
        return this.rewind(req, instanceId);
      case "restart":
        return this.restart(req, instanceId);
    }
    return undefined;
  }

  // ---------- handlers ----------

  private async startOrchestration(req: ApiRequest, functionName: string, instanceId: string): Promise<ApiResponse> {
    const q = query(req.url);
    let input: unknown = null;
    if (req.body.length > 0 || req.headers["content-length"] === undefined) {
      const text = req.body.toString("utf8");
      if (text.trim() !== "") {
        try {
          input = JSON.parse(text);
        } catch (err) {
          return errorResponse(400, "Invalid JSON content", err as Error, "Newtonsoft.Json.JsonReaderException");
        }
      }
    }
    const id = await this.startNew(functionName, instanceId, input);
    return this.startedResponse(req, id, q);
  }

  /** DurableClient.StartNewAsync: function check, instance id rules, dedupe (OverridableExistingInstanceStates = NonRunningStates). */
  async startNew(functionName: string, instanceId: string, input: unknown): Promise<string> {
    const known = this.o.orchestrators();
    if (!known.has(functionName)) {
      throw new ArgumentError(unknownFunctionMessage(functionName, "orchestrator", known));
    }
    let id = instanceId;
    if (!id) id = randomUUID().replace(/-/g, "");
    else if (id.startsWith("@")) throw new ArgumentError("Orchestration instance ids must not start with @.");
    // eslint-disable-next-line no-control-regex
    else if (/[/\\?#\u0000-\u001f\u007f-\u009f]/.test(id))
      throw new ArgumentError("Orchestration instance ids must not contain /, \\, #, ?, or control characters.");
    if (id.length > MaxInstanceIdLength) throw new ArgumentError(`Instance ID lengths must not exceed ${MaxInstanceIdLength} characters.`);
    try {
      await this.o.engine.startNew(functionName, id, input === null ? undefined : input);
    } catch (err) {
      if (err instanceof InstanceStateError) {
        const existing = await this.o.engine.getStatus(id);
        throw new OrchestrationAlreadyExistsError(existing ? alreadyExistsMessage(existing.runtimeStatus) : err.message);
      }
      throw err;
    }
    return id;
  }

  /** A started instance: wait for it when `timeout` and `pollingInterval` are given, else the check-status response. */
  private startedResponse(req: ApiRequest, id: string, q: ReturnType<typeof query>): Promise<ApiResponse> | ApiResponse {
    const timeout = q.seconds("timeout");
    const pollingInterval = q.seconds("pollingInterval");
    if (timeout !== undefined && pollingInterval !== undefined) {
      return this.waitForCompletionOrCheckStatus(req, id, timeout, pollingInterval);
    }
    return this.checkStatusResponse(req.url, id);
  }

  private async waitForCompletionOrCheckStatus(req: ApiRequest, id: string, timeoutSec: number, intervalSec: number): Promise<ApiResponse> {
    if (intervalSec > timeoutSec) {
      throw new ArgumentError(`Total timeout ${timeoutSec} should be bigger than retry timeout ${intervalSec}`);
    }
    const status = await this.o.engine.waitForCompletion(id, timeoutSec * 1000);
    switch (status?.runtimeStatus) {
      case "Completed":
        return jsonResponse(200, status.output ?? null);
      case "Canceled":
      case "Failed":
      case "Terminated":
        return this.getStatus(req, id, false);
      default:
        return this.checkStatusResponse(req.url, id);
    }
  }

  private async getStatus(req: ApiRequest, instanceId: string, returnInternalServerErrorOnFailure?: boolean): Promise<ApiResponse> {
    const q = query(req.url);
    const showHistory = q.bool("showHistory") ?? false;
    const showHistoryOutput = q.bool("showHistoryOutput") ?? false;
    const showInput = q.bool("showInput") ?? true;
    const fail500 = returnInternalServerErrorOnFailure ?? q.bool("returnInternalServerErrorOnFailure") ?? false;
    const status = await this.o.engine.getStatus(instanceId, { showHistory, showHistoryOutput, showInput });
    if (!status) return empty(404);
    let code: number;
    let location = false;
    switch (status.runtimeStatus) {
      case "Running":
      case "Pending":
      case "ContinuedAsNew":
      case "Suspended":
        code = 202;
        location = true;
        break;
      case "Failed":
        code = fail500 ? 500 : 200;
        break;
      case "Canceled":
      case "Terminated":
      case "Completed":
        code = 200;
        break;
      default:
        code = 500;
    }
    const res = jsonResponse(code, statusPayload(status, showInput, showHistory));
    if (location) res.headers["Location"] = req.url.href;
    if (code === 202) res.headers["Retry-After"] = "5";
    return res;
  }

  private async listInstances(req: ApiRequest): Promise<ApiResponse> {
    const q = query(req.url);
    const condition: InstanceQuery = { top: 100 };
    const prefix = q.get("instanceIdPrefix");
    if (prefix !== undefined) condition.instanceIdPrefix = prefix;
    const from = q.date("createdTimeFrom");
    if (from) condition.createdTimeFrom = from;
    const to = q.date("createdTimeTo");
    if (to) condition.createdTimeTo = to;
    const statuses = q.statuses("runtimeStatus");
    if (statuses.length > 0) condition.runtimeStatus = statuses;
    const showInput = q.bool("showInput") ?? true;
    const top = q.int("top");
    if (top !== undefined) condition.top = top;
    const token = header(req.headers, "x-ms-continuation-token");
    if (token !== undefined) condition.continuationToken = token;
    const page = await this.o.engine.listInstances(condition);
    const res = jsonResponse(
      200,
      page.instances.map((s) => statusPayload(s, showInput, false)),
    );
    res.headers["x-ms-continuation-token"] = page.continuationToken ?? "";
    return res;
  }

  private async purgeOne(instanceId: string): Promise<ApiResponse> {
    const status = await this.o.engine.getStatus(instanceId, { showHistory: false });
    if (!status) return empty(404);
    const deleted = await this.o.engine.purge(instanceId);
    return jsonResponse(200, { instancesDeleted: deleted });
  }

  private async purgeByFilter(req: ApiRequest): Promise<ApiResponse> {
    const q = query(req.url);
    const from = q.date("createdTimeFrom");
    if (!from) return jsonResponse(400, "Please provide value for 'createdTimeFrom' parameter.");
    const to = q.date("createdTimeTo") ?? new Date();
    const statuses = q.statuses("runtimeStatus");
    const deleted = await this.o.engine.purgeMany({
      createdTimeFrom: from,
      createdTimeTo: to,
      runtimeStatus: statuses.length > 0 ? statuses : undefined,
    });
    if (!deleted) return empty(404);
    return jsonResponse(200, { instancesDeleted: deleted });
  }

  private async terminateLike(req: ApiRequest, instanceId: string, op: "terminate" | "suspend" | "resume"): Promise<ApiResponse> {
    const status = await this.o.engine.getStatus(instanceId);
    if (!status) return empty(404);
    if (isTerminal(status.runtimeStatus)) return empty(410);
    const reason = query(req.url).get("reason");
    try {
      if (op === "terminate") await this.o.engine.terminate(instanceId, reason);
      else if (op === "suspend") await this.o.engine.suspend(instanceId, reason);
      else await this.o.engine.resume(instanceId, reason);
    } catch (err) {
      if (err instanceof InstanceNotFoundError) throw new ArgumentError(`No instance with ID '${instanceId}' was found.`);
      // InstanceStateError carries DurableClient's "Cannot <op> the orchestration instance ..." text (→ 500).
      throw err;
    }
    return empty(202);
  }

  private async rewind(req: ApiRequest, instanceId: string): Promise<ApiResponse> {
    const status = await this.o.engine.getStatus(instanceId);
    if (!status) return empty(404);
    if (status.runtimeStatus === "Canceled" || status.runtimeStatus === "Terminated" || status.runtimeStatus === "Completed")
      return empty(410);
    if (status.runtimeStatus !== "Failed") {
      throw new InstanceStateError("The rewind operation is only supported on failed orchestration instances.");
    }
    await this.o.engine.rewind(instanceId, query(req.url).get("reason"));
    return empty(202);
  }

  private async restart(req: ApiRequest, instanceId: string): Promise<ApiResponse> {
    const q = query(req.url);
    const withNewId = q.bool("restartWithNewInstanceId") ?? true;
    const status = await this.o.engine.getStatus(instanceId, { showInput: true });
    if (!status) throw new ArgumentError(`An orchestrastion with the instanceId ${instanceId} was not found.`);
    const id = await this.startNew(status.name, withNewId ? "" : status.instanceId, status.input);
    return this.startedResponse(req, id, q);
  }

  private async raiseEvent(req: ApiRequest, instanceId: string, eventName: string): Promise<ApiResponse> {
    const status = await this.o.engine.getStatus(instanceId);
    if (!status) return empty(404);
    if (isTerminal(status.runtimeStatus)) return empty(410);
    const mediaType = String(req.headers["content-type"] ?? "")
      .split(";")[0]
      .trim()
      .toLowerCase();
    if (mediaType !== "application/json") {
      return jsonResponse(400, { Message: "Only application/json request content is supported" });
    }
    const text = req.body.toString("utf8");
    let data: unknown = null;
    if (text.trim() !== "") {
      try {
        data = JSON.parse(text);
      } catch (err) {
        return errorResponse(400, "Invalid JSON content", err as Error, "Newtonsoft.Json.JsonReaderException");
      }
    }
    await this.o.engine.raiseEvent(instanceId, eventName, data);
    return empty(202);
  }

  /**
   * Entity routes. The local engine runs no entities: listing answers an empty list; reading one entity's
   * state (readEntityState) and signals are refused, since "no such entity" would be a wrong answer.
   */
  private async entities(req: ApiRequest, method: string, entityName: string, entityKey: string): Promise<ApiResponse> {
    if (method === "GET" && !entityKey) {
      const res = jsonResponse(200, []);
      res.headers["x-ms-continuation-token"] = "";
      return res;
    }
    if (method === "GET" || method === "POST" || method === "DELETE") {
      const known = this.o.entities();
      if (!known.has(entityName)) {
        throw new ArgumentError(unknownFunctionMessage(entityName, "entity", known));
      }
      throw new Error("Durable entities are not supported by the project's local host (tools/local-host); use func start for entities.");
    }
    void req;
    return empty(404);
  }
}

// ---------- helpers ----------

/** StatusResponsePayload (HttpApiHandler.ConvertFrom): times as ToString("s") + "Z". */
export function statusPayload(s: InstanceStatus, showInput: boolean, showHistory: boolean): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    name: s.name,
    instanceId: s.instanceId,
    runtimeStatus: s.runtimeStatus,
    input: showInput ? (s.input ?? null) : null,
    customStatus: s.customStatus ?? null,
    output: s.output ?? null,
    createdTime: hostTime(s.createdTime),
    lastUpdatedTime: hostTime(s.lastUpdatedTime),
  };
  if (showHistory && s.historyEvents) payload.historyEvents = s.historyEvents;
  return payload;
}

export function hostTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(0, 19) + "Z";
}

/** A JSON response as the host writes one. */
export function jsonResponse(status: number, body: unknown): ApiResponse {
  return { status, headers: { "Content-Type": "application/json; charset=utf-8" }, body: JSON.stringify(body) };
}

function empty(status: number): ApiResponse {
  return { status, headers: {} };
}

/** HttpApiHandler's exception handling: ArgumentException → 400, anything else → 500 with its .NET type. */
function errorToResponse(err: unknown): ApiResponse {
  if (err instanceof ArgumentError || err instanceof InvalidInstanceIdError) {
    return errorResponse(400, "One or more of the arguments submitted is incorrect", err, "System.ArgumentException");
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const type =
    err instanceof OrchestrationAlreadyExistsError
      ? "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException"
      : err instanceof InstanceStateError || err instanceof InstanceQuarantinedError
        ? "System.InvalidOperationException"
        : "System.Exception";
  return errorResponse(500, "Something went wrong while processing your request", e, type);
}

function errorResponse(status: number, message: string, e: Error, exceptionType: string): ApiResponse {
  return jsonResponse(status, {
    Message: message,
    ExceptionMessage: e.message,
    ExceptionType: exceptionType,
    StackTrace: e.stack ?? null,
  });
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  if (Array.isArray(v)) return v[0];
  return v;
}

/** WebUtility.UrlEncode: spaces as '+', unreserved `-_.!*()`, upper-case hex. */
export function urlEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, "+").replace(/~/g, "%7E").replace(/'/g, "%27");
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Query string access with NameValueCollection semantics (case-insensitive names, repeated values comma-joined). */
function query(url: URL) {
  const get = (name: string): string | undefined => {
    const values: string[] = [];
    for (const [k, v] of url.searchParams) if (k.toLowerCase() === name.toLowerCase()) values.push(v.trim());
    return values.length ? values.join(",") : undefined;
  };
  return {
    get,
    bool(name: string): boolean | undefined {
      const v = get(name);
      if (v === undefined) return undefined;
      if (/^true$/i.test(v)) return true;
      if (/^false$/i.test(v)) return false;
      return undefined;
    },
    int(name: string): number | undefined {
      const v = get(name);
      if (v === undefined || !/^[+-]?\d+$/.test(v)) return undefined;
      const n = Number(v);
      return n >= -2147483648 && n <= 2147483647 ? n : undefined;
    },
    seconds(name: string): number | undefined {
      const v = get(name);
      if (v === undefined || v === "") return undefined;
      const n = Number(v);
      return Number.isFinite(n) ? n : undefined;
    },
    date(name: string): Date | undefined {
      const v = get(name);
      if (!v) return undefined;
      const t = Date.parse(v);
      return Number.isNaN(t) ? undefined : new Date(t);
    },
    /** Enum.TryParse of each comma-separated value (names are case-sensitive; numbers accepted). */
    statuses(name: string): RuntimeStatus[] {
      const v = get(name);
      if (v === undefined) return [];
      const out: RuntimeStatus[] = [];
      for (const part of v.split(",")) {
        const p = part.trim();
        if (statusNames.has(p)) out.push(p as RuntimeStatus);
        else if (/^\d+$/.test(p) && statusByNumber[Number(p)]) out.push(statusByNumber[Number(p)]);
      }
      return out;
    },
  };
}

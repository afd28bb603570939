/**
 * The HTTP front's request handling: body limit (413), 503 until the host is ready, keys on `/admin/*` and
 * `/runtime/webhooks/*` when enforced (auth.ts), `/admin/host/status`, the Durable webhooks under
 * /runtime/webhooks/durabletask, HTTP triggers; and the local RPC endpoint (/durabletask/), which serves the same
 * Durable HTTP API to the durable client without keys (the extension's LocalHttpListener).
 */
import type * as http from "node:http";
import * as os from "node:os";
import type { KeyAuth } from "./auth";
import { readBodyWithin, tooLarge, DEFAULT_MAX_REQUEST_BODY } from "./body-limit";
import { jsonResponse, type ApiResponse, type DurableHttpApi } from "./durable-api";
import type { HostLog } from "./host-log";
import type { HttpTriggerAdapter } from "./http-trigger";
import { apiRequest, requestUrl, send } from "./listeners";
import type { HostJson } from "./settings";

export const WEBHOOK_PATH = "/runtime/webhooks/durabletask";
export const RPC_PATH = "/durabletask/";

export class HttpFront {
  /** FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, once the settings are applied. */
  bodyLimit = DEFAULT_MAX_REQUEST_BODY;
  private ready = false;
  private stopping = false;
  private api?: DurableHttpApi;
  private trigger?: HttpTriggerAdapter;
  private hostJson?: HostJson;
  private auth?: KeyAuth;
  private readonly started = Date.now();

  constructor(private readonly log: HostLog) {}

  /** Starts serving the app; `auth` when keys are enforced. */
  open(parts: { api: DurableHttpApi; trigger: HttpTriggerAdapter; hostJson: HostJson; auth?: KeyAuth }): void {
    this.api = parts.api;
    this.trigger = parts.trigger;
    this.hostJson = parts.hostJson;
    this.auth = parts.auth;
    this.ready = true;
  }

  /** Stops serving (503 with an empty body from now on). */
  close(): void {
    this.stopping = true;
    this.ready = false;
  }

  async onMain(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const body = await readBodyWithin(req, this.bodyLimit);
      if (body === undefined) return tooLarge(req, res);
      const url = requestUrl(req);
      if (!this.ready) return send(res, { status: 503, headers: {}, body: this.stopping ? "" : "Function host is not running." });
      return send(res, await this.route(req, url, body));
    } catch (err) {
      this.log.line(`Error: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) send(res, { status: 500, headers: {} });
    }
  }

  async onRpc(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const body = await readBodyWithin(req, this.bodyLimit);
      if (body === undefined) return tooLarge(req, res);
      const url = requestUrl(req);
      if (!this.ready || !this.api) return send(res, { status: 503, headers: {} });
      return send(res, await this.api.handle(apiRequest(req, url, body), RPC_PATH.replace(/\/$/, "")));
    } catch (err) {
      this.log.line(`Warning: Unhandled exception in HTTP API handler: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) send(res, { status: 500, headers: {} });
    }
  }

  private async route(req: http.IncomingMessage, url: URL, body: Buffer): Promise<ApiResponse> {
    const p = url.pathname.toLowerCase();
    const denied = this.auth && this.denied(this.auth, req, url, p);
    if (denied) return denied;
    if (p === "/admin/host/status" && (req.method === "GET" || req.method === "HEAD")) return jsonResponse(200, this.hostStatus());
    if (p === WEBHOOK_PATH || p.startsWith(WEBHOOK_PATH + "/")) return this.api!.handle(apiRequest(req, url, body), WEBHOOK_PATH);
    return this.trigger!.handle(req, url, body);
  }

  /** The host's own routes under keys: `/admin/*` (master key), `/runtime/webhooks/<extension>` (its system key). */
  private denied(auth: KeyAuth, req: http.IncomingMessage, url: URL, p: string): ApiResponse | undefined {
    if (p === "/admin" || p.startsWith("/admin/")) return auth.admin(req.headers, url);
    const webhook = /^\/runtime\/webhooks\/([^/]+)/.exec(p);
    if (webhook) return auth.webhook(req.headers, url, webhook[1]);
    return undefined;
  }

  private hostStatus(): Record<string, unknown> {
    const status: Record<string, unknown> = {
      id: os.hostname().toLowerCase().slice(0, 32),
      state: "Running",
      computerName: os.hostname(),
      processUptime: Date.now() - this.started,
    };
    const bundle = this.hostJson?.extensionBundle;
    if (bundle?.id) status.extensionBundle = { id: bundle.id, version: bundle.version };
    return status;
  }
}

/**
 * The HTTP-trigger adapter: matches `/<routePrefix>/<route>` against the registered HTTP triggers (methods,
 * route templates in precedence order), turns the request into RpcHttpData + trigger metadata, invokes the
 * function and turns its HTTP output back into a response (204 with none, 500 when it throws, 404 unmatched); when
 * keys are enforced, a matched function's authLevel is checked first (401).
 */
import type * as http from "node:http";
import type { ApiResponse } from "./durable-api";
import type { FunctionIndex } from "./function-index";
import type { HostLog } from "./host-log";
import type { FunctionInvoker } from "./invoker";
import { matchRoute } from "./routes";
import {
  fromTypedData,
  type RegisteredFunction,
  type RpcHttpCookie,
  type RpcHttpData,
  type RpcInvocationResponse,
  type RpcTypedData,
} from "./worker";

export class HttpTriggerAdapter {
  constructor(
    private readonly index: FunctionIndex,
    private readonly routePrefix: string,
    private readonly invoker: FunctionInvoker,
    private readonly log: HostLog,
    /** Key enforcement for a matched function (auth.ts): a response refuses the call. */
    private readonly authorize?: (fn: RegisteredFunction, req: http.IncomingMessage, url: URL) => ApiResponse | undefined,
  ) {}

  async handle(req: http.IncomingMessage, url: URL, body: Buffer): Promise<ApiResponse> {
    const segments = this.pathSegments(url.pathname);
    if (!segments) return { status: 404, headers: {} };
    const method = (req.method ?? "GET").toUpperCase();
    for (const r of this.index.httpRoutes) {
      if (r.methods && !r.methods.has(method)) continue;
      const params = matchRoute(r.route, segments);
      if (!params) continue;
      return this.authorize?.(r.fn, req, url) ?? this.invoke(r.fn, req, url, body, params);
    }
    return { status: 404, headers: {} };
  }

  /** The decoded path segments after the route prefix; undefined outside it. */
  private pathSegments(pathname: string): string[] | undefined {
    let rest = pathname;
    if (this.routePrefix) {
      const lower = rest.toLowerCase();
      const p = "/" + this.routePrefix.toLowerCase();
      if (lower !== p && !lower.startsWith(p + "/")) return undefined;
      rest = rest.slice(p.length);
    }
    return rest
      .split("/")
      .filter((s) => s !== "")
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });
  }

  private async invoke(
    fn: RegisteredFunction,
    req: http.IncomingMessage,
    url: URL,
    body: Buffer,
    params: Record<string, string>,
  ): Promise<ApiResponse> {
    const { rpcHttp, triggerMetadata } = toRpcHttp(req, url, body, params);
    let response: RpcInvocationResponse;
    try {
      response = await this.invoker.invoke(
        fn,
        `This function was programmatically called via the host APIs.`,
        [{ name: fn.triggerName, data: { http: rpcHttp } }],
        triggerMetadata,
      );
    } catch (err) {
      const e = err as Error;
      this.log.line(`[${fn.name}] Error: ${e?.stack ?? String(err)}`);
      return { status: 500, headers: {} };
    }
    const outName = Object.entries(fn.bindings).find(([, b]) => b.direction === "out" && String(b.type).toLowerCase() === "http")?.[0];
    let data: RpcTypedData | null | undefined;
    if (outName === "$return") data = response.returnValue;
    else if (outName) data = response.outputData?.find((o) => o.name === outName)?.data;
    return fromRpcHttpResponse(data);
  }
}

/** The request as the host sends it to the worker: RpcHttpData, and Query/Headers/route params as trigger metadata. */
export function toRpcHttp(
  req: http.IncomingMessage,
  url: URL,
  body: Buffer,
  params: Record<string, string>,
): { rpcHttp: RpcHttpData; triggerMetadata: Record<string, RpcTypedData> } {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    headers[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  const nullable = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { value: v }]));
  const rpcHttp: RpcHttpData = {
    method: req.method ?? "GET",
    url: url.href,
    headers,
    nullableHeaders: nullable(headers),
    query,
    nullableQuery: nullable(query),
    params,
    nullableParams: nullable(params),
  };
  if (body.length > 0) {
    rpcHttp.body = { bytes: body };
    rpcHttp.rawBody = { bytes: body };
  }
  const triggerMetadata: Record<string, RpcTypedData> = {
    Query: { json: JSON.stringify(query) },
    Headers: { json: JSON.stringify(headers) },
  };
  for (const [k, v] of Object.entries(params)) triggerMetadata[k] = { string: v };
  return { rpcHttp, triggerMetadata };
}

export function fromRpcHttpResponse(data: RpcTypedData | null | undefined): ApiResponse {
  const h = data?.http;
  if (!h) {
    if (data) {
      // A non-HTTP value bound to the HTTP output: the host writes it as the body.
      const v = fromTypedData(data);
      return { status: 200, headers: {}, body: typeof v === "string" ? v : JSON.stringify(v) };
    }
    return { status: 204, headers: {} };
  }
  const status = Number(h.statusCode ?? "200") || 200;
  const headers: Record<string, string | string[]> = { ...(h.headers ?? {}) };
  const cookies = (h.cookies ?? []).map(serializeCookie);
  if (cookies.length) headers["Set-Cookie"] = cookies;
  const b = h.body;
  let body: Buffer | string | undefined;
  if (b?.bytes) body = Buffer.from(b.bytes);
  else if (b?.stream) body = Buffer.from(b.stream);
  else if (b?.string !== undefined && b?.string !== null) body = b.string;
  else if (b?.json !== undefined && b?.json !== null) body = b.json;
  return { status, headers: headers as Record<string, string>, body };
}

export function serializeCookie(c: RpcHttpCookie): string {
  let s = `${c.name ?? ""}=${c.value ?? ""}`;
  if (c.domain?.value) s += `; domain=${c.domain.value}`;
  if (c.path?.value) s += `; path=${c.path.value}`;
  const exp = c.expires?.value;
  if (exp && exp.seconds !== undefined && exp.seconds !== null) {
    s += `; expires=${new Date(Number(exp.seconds) * 1000 + Math.floor((exp.nanos ?? 0) / 1e6)).toUTCString()}`;
  }
  if (c.maxAge?.value !== undefined && c.maxAge?.value !== null) s += `; max-age=${c.maxAge.value}`;
  if (c.secure?.value) s += "; secure";
  if (c.httpOnly?.value) s += "; httponly";
  if (c.sameSite === "lax") s += "; samesite=lax";
  else if (c.sameSite === "strict") s += "; samesite=strict";
  else if (c.sameSite === "explicitNone") s += "; samesite=none";
  return s;
}

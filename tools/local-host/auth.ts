/**
 * Key enforcement (--require-keys) as the Functions host does it (azure-functions-host Security/, Middleware/,
 * Controllers/HostController.cs). The key is the `x-functions-key` header when present, else the first `code` query
 * value, names case-insensitive (AuthenticationLevelHandler.GetAuthorizationKeyInfoAsync); KeyStore.match gives its
 * level. Then:
 *  - HTTP triggers (FunctionInvocationMiddleware, FunctionAuthorizationHandler, AuthUtility.PrincipalHasAuthLevelClaim):
 *    `anonymous` needs nothing; otherwise the master key, or a key of exactly the required level (a system key does
 *    not open a `function` route); refused: 401 with no body (UnauthorizedResult);
 *  - `/admin/*` (policy AdminAuthLevel[OrInternal]): the master key;
 *  - `/runtime/webhooks/<extension>` (policy SystemKeyAuthLevel): the master key or the system key `<extension>_extension`.
 *  Refused there as MVC's AuthorizeFilter does: 401 + `WWW-Authenticate: Bearer` (the JWT scheme's challenge) when no
 *  valid key came, 403 when a valid key of another kind did; no body.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { ApiResponse } from "./durable-api";
import type { KeyMatch, KeyStore } from "./keys";

export const KEY_HEADER = "x-functions-key";
export const KEY_QUERY = "code";

/** AuthorizationLevel names (Microsoft.Azure.WebJobs.Extensions.Http), lower case. */
export type AuthLevel = "anonymous" | "user" | "function" | "system" | "admin";

/** The key a request presents: the header (its first value) wins whenever it is there, else the first `code` value. */
export function presentedKey(headers: IncomingHttpHeaders, url: URL): string | undefined {
  const h = headers[KEY_HEADER];
  if (h !== undefined) return (Array.isArray(h) ? h[0] : h) || undefined;
  for (const [k, v] of url.searchParams) if (k.toLowerCase() === KEY_QUERY) return v || undefined;
  return undefined;
}

/** An HTTP trigger's authLevel; the host's default (HttpTriggerAttribute) is `function`; an unknown one is held to `admin`. */
export function authLevelOf(value: unknown): AuthLevel {
  if (value === undefined || value === null || value === "") return "function";
  const v = String(value).toLowerCase();
  return v === "anonymous" || v === "user" || v === "function" || v === "system" || v === "admin" ? v : "admin";
}

/** AuthUtility.PrincipalHasAuthLevelClaim: anonymous always; the master key always; else the same level (and name, if one is named). */
export function satisfies(match: KeyMatch | undefined, required: AuthLevel, keyName?: string): boolean {
  if (required === "anonymous") return true;
  if (!match) return false;
  if (match.level === "admin") return true;
  return match.level === required && (keyName === undefined || match.name.toLowerCase() === keyName.toLowerCase());
}

const refusedByPolicy = (match: KeyMatch | undefined): ApiResponse =>
  match ? { status: 403, headers: {} } : { status: 401, headers: { "WWW-Authenticate": "Bearer" } };

export class KeyAuth {
  constructor(private readonly store: KeyStore) {}

  private match(headers: IncomingHttpHeaders, url: URL, functionName?: string): KeyMatch | undefined {
    const key = presentedKey(headers, url);
    return key === undefined ? undefined : this.store.match(key, functionName);
  }

  /** An HTTP trigger: undefined when allowed, else 401 with no body. */
  httpTrigger(headers: IncomingHttpHeaders, url: URL, functionName: string, authLevel: unknown): ApiResponse | undefined {
    const required = authLevelOf(authLevel);
    if (required === "anonymous") return undefined;
    return satisfies(this.match(headers, url, functionName), required) ? undefined : { status: 401, headers: {} };
  }

  /** `/admin/*`: the master key. */
  admin(headers: IncomingHttpHeaders, url: URL): ApiResponse | undefined {
    const match = this.match(headers, url);
    return satisfies(match, "admin") ? undefined : refusedByPolicy(match);
  }

  /** `/runtime/webhooks/<extension>/...`: the master key or the system key `<extension>_extension`. */
  webhook(headers: IncomingHttpHeaders, url: URL, extensionName: string): ApiResponse | undefined {
    const match = this.match(headers, url);
    return satisfies(match, "system", `${extensionName}_extension`) ? undefined : refusedByPolicy(match);
  }
}

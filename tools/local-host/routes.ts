/**
 * HTTP trigger routes as the Functions host understands them: ASP.NET Core route templates under the
 * host.json `extensions.http.routePrefix` (default `api`). Supported: literal segments (case-insensitive),
 * `{name}`, `{name?}`, `{name=default}`, `{*catchAll}`, complex segments such as `{name}.{ext}`, and the
 * inline constraints int, long, bool, guid, alpha, decimal, double, float, datetime, min(n), max(n),
 * range(a,b), length(n) / length(a,b), minlength(n), maxlength(n), regex(expr), chained with `:`.
 */

export interface RouteParam {
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue?: string;
  constraints: string[];
}

interface Segment {
  literal?: string;
  /** For parameter / complex segments: a regex over the whole segment and the params it captures. */
  regex?: RegExp;
  params: RouteParam[];
}

export interface CompiledRoute {
  template: string;
  segments: Segment[];
  precedence: number[];
}

export function normalizeTemplate(template: string): string {
  return template.replace(/^\/+|\/+$/g, "");
}

export function compileRoute(template: string): CompiledRoute {
  const t = normalizeTemplate(template);
  const segments: Segment[] = [];
  const precedence: number[] = [];
  for (const raw of t === "" ? [] : t.split("/")) {
    if (!raw.includes("{")) {
      segments.push({ literal: raw.toLowerCase(), params: [] });
      precedence.push(1);
      continue;
    }
    const params: RouteParam[] = [];
    let re = "";
    let i = 0;
    let onlyParam = true;
    while (i < raw.length) {
      if (raw[i] === "{") {
        const end = findClose(raw, i);
        if (end < 0) throw new Error(`Invalid route template '${template}': unclosed '{'.`);
        const param = parseParam(raw.slice(i + 1, end), template);
        params.push(param);
        re += param.catchAll ? "(.*)" : "(.+?)";
        i = end + 1;
      } else {
        onlyParam = false;
        re += raw[i].replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        i++;
      }
    }
    if (params.length > 1 || !onlyParam) onlyParam = false;
    const p = params[0];
    segments.push({ regex: new RegExp(`^${re}$`, "i"), params });
    precedence.push(!onlyParam ? 2 : p.catchAll ? 5 : p.constraints.length > 0 ? 3 : 4);
  }
  return { template: t, segments, precedence };
}

function findClose(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === "{") depth++;
    else if (s[i] === "}") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function parseParam(body: string, template: string): RouteParam {
  let catchAll = false;
  if (body.startsWith("**")) {
    catchAll = true;
    body = body.slice(2);
  } else if (body.startsWith("*")) {
    catchAll = true;
    body = body.slice(1);
  }
  let defaultValue: string | undefined;
  const eq = indexOutsideParens(body, "=");
  if (eq >= 0) {
    defaultValue = body.slice(eq + 1);
    body = body.slice(0, eq);
  }
  let optional = false;
  if (body.endsWith("?")) {
    optional = true;
    body = body.slice(0, -1);
  }
  const parts = splitConstraints(body);
  const name = parts.shift() ?? "";
  if (!name) throw new Error(`Invalid route template '${template}': empty parameter name.`);
  return { name, optional: optional || catchAll || defaultValue !== undefined, catchAll, defaultValue, constraints: parts };
}

function indexOutsideParens(s: string, ch: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "(") depth++;
    else if (s[i] === ")") depth--;
    else if (s[i] === ch && depth === 0) return i;
  }
  return -1;
}

function splitConstraints(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of body) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === ":" && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Matches a path (below the route prefix, already split and decoded) against a route; returns the params or undefined. */
export function matchRoute(route: CompiledRoute, pathSegments: string[]): Record<string, string> | undefined {
  const values: Record<string, string> = {};
  let i = 0;
  for (let s = 0; s < route.segments.length; s++) {
    const seg = route.segments[s];
    const value = pathSegments[i];
    if (seg.literal !== undefined) {
      if (value === undefined || value.toLowerCase() !== seg.literal) return undefined;
      i++;
      continue;
    }
    const first = seg.params[0];
    if (seg.params.length === 1 && first.catchAll) {
      const rest = pathSegments.slice(i).join("/");
      if (rest === "") {
        if (first.defaultValue !== undefined) values[first.name] = first.defaultValue;
      } else {
        if (!checkConstraints(first, rest)) return undefined;
        values[first.name] = rest;
      }
      i = pathSegments.length;
      continue;
    }
    if (value === undefined) {
      // Only trailing optional parameters may be absent.
      if (seg.params.length === 1 && first.optional) {
        if (first.defaultValue !== undefined) values[first.name] = first.defaultValue;
        continue;
      }
      return undefined;
    }
    const m = seg.regex!.exec(value);
    if (!m) return undefined;
    for (let p = 0; p < seg.params.length; p++) {
      const v = m[p + 1];
      if (!checkConstraints(seg.params[p], v)) return undefined;
      values[seg.params[p].name] = v;
    }
    i++;
  }
  if (i < pathSegments.length) return undefined;
  return values;
}

function checkConstraints(param: RouteParam, value: string): boolean {
  return param.constraints.every((c) => checkConstraint(c, value));
}

function checkConstraint(constraint: string, value: string): boolean {
  const m = /^([a-zA-Z]+)(?:\((.*)\))?$/s.exec(constraint);
  if (!m) return true;
  const name = m[1].toLowerCase();
  const arg = m[2];
  const args = arg === undefined ? [] : arg.split(",").map((a) => a.trim());
  const num = Number(value);
  switch (name) {
    case "int":
      return /^-?\d+$/.test(value) && num >= -2147483648 && num <= 2147483647;
    case "long":
      return /^-?\d+$/.test(value);
    case "bool":
      return /^(true|false)$/i.test(value);
    case "guid":
      return /^(\{)?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}(\})?$/i.test(value);
    case "alpha":
      return /^[a-z]+$/i.test(value);
    case "decimal":
    case "double":
    case "float":
      return value.trim() !== "" && Number.isFinite(num);
    case "datetime":
      return !Number.isNaN(Date.parse(value));
    case "min":
      return /^-?\d+$/.test(value) && num >= Number(args[0]);
    case "max":
      return /^-?\d+$/.test(value) && num <= Number(args[0]);
    case "range":
      return /^-?\d+$/.test(value) && num >= Number(args[0]) && num <= Number(args[1]);
    case "length":
      return args.length === 1 ? value.length === Number(args[0]) : value.length >= Number(args[0]) && value.length <= Number(args[1]);
    case "minlength":
      return value.length >= Number(args[0]);
    case "maxlength":
      return value.length <= Number(args[0]);
    case "regex":
      try {
        return new RegExp(arg ?? "", "i").test(value);
      } catch {
        return false;
      }
    default:
      return true;
  }
}

/** ASP.NET-like ordering: literal segments first, then constrained, plain, optional and catch-all parameters. */
export function compareRoutes(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < n; i++) {
    const pa = a.precedence[i] ?? 0;
    const pb = b.precedence[i] ?? 0;
    if (pa !== pb) return pa - pb;
  }
  return a.template.localeCompare(b.template);
}

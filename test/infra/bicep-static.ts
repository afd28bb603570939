/**
 * Small static readers for the Bicep templates in infra/. They are not a Bicep compiler: no Bicep
 * compiler is installable here (see the README, "Deploy to Azure"), so test/infra/infra.test.ts checks the facts
 * a deployment depends on (module paths, parameters, app settings, role ids, tags) with these.
 */
import * as fs from "fs";
import * as path from "path";

/** Removes // and /* *\/ comments, keeping string literals ('...', '''...''') intact. */
export function stripComments(src: string): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    if (src.startsWith("'''", i)) {
      const end = src.indexOf("'''", i + 3);
      const stop = end < 0 ? src.length : end + 3;
      out += src.slice(i, stop);
      i = stop;
    } else if (src[i] === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== "'" && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else if (src.startsWith("//", i)) {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      const chunk = src.slice(i, end < 0 ? src.length : end + 2);
      out += chunk.replace(/[^\n]/g, " ");
      i = end < 0 ? src.length : end + 2;
    } else {
      out += src[i++];
    }
  }
  return out;
}

export function listBicepFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return listBicepFiles(p);
    return e.name.endsWith(".bicep") ? [p] : [];
  });
}

export interface ModuleRef {
  symbol: string;
  target: string;
}

/** `module <symbol> '<path>' = ...` declarations (registry references br:, br/, ts: included as written). */
export function moduleRefs(src: string): ModuleRef[] {
  const re = /^\s*module\s+([A-Za-z_]\w*)\s+'([^']+)'/gm;
  return [...stripComments(src).matchAll(re)].map((m) => ({ symbol: m[1], target: m[2] }));
}

/** Local module paths of one file that do not exist on disk. */
export function missingModulePaths(file: string, src: string = fs.readFileSync(file, "utf8")): string[] {
  return moduleRefs(src)
    .filter((m) => !/^(br:|br\/|ts:|ts\/)/.test(m.target))
    .map((m) => m.target)
    .filter((target) => !fs.existsSync(path.resolve(path.dirname(file), target)));
}

export interface ParamDecl {
  name: string;
  type: string;
  defaultValue?: string;
  /** true when the parameter has a default or a nullable type (`string?`). */
  optional: boolean;
}

export function params(src: string): Map<string, ParamDecl> {
  const re = /^[ \t]*param[ \t]+([A-Za-z_]\w*)[ \t]+([^=\n]+?)[ \t]*(?:=[ \t]*(.+?))?[ \t]*$/gm;
  const out = new Map<string, ParamDecl>();
  for (const m of stripComments(src).matchAll(re)) {
    const type = m[2].trim();
    const defaultValue = m[3]?.trim();
    out.set(m[1], { name: m[1], type, defaultValue, optional: defaultValue !== undefined || type.endsWith("?") });
  }
  return out;
}

export function outputs(src: string): Set<string> {
  const re = /^\s*output\s+([A-Za-z_]\w*)\s/gm;
  return new Set([...stripComments(src).matchAll(re)].map((m) => m[1]));
}

/** Index just after the `{` or `[` that matches the opening one at `open`. String-aware. */
export function matchClose(src: string, open: number): number {
  const pairs: Record<string, string> = { "{": "}", "[": "]", "(": ")" };
  const stack: string[] = [];
  let i = open;
  while (i < src.length) {
    const c = src[i];
    if (c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== "'") j += src[j] === "\\" ? 2 : 1;
      i = j + 1;
      continue;
    }
    if (pairs[c]) stack.push(pairs[c]);
    else if (c === "}" || c === "]" || c === ")") {
      if (stack.pop() !== c) throw new Error(`unbalanced '${c}' at offset ${i}`);
      if (stack.length === 0) return i + 1;
    }
    i++;
  }
  throw new Error(`no closing bracket for offset ${open}`);
}

/** The `{ ... }` text that follows the first match of `anchor` (a regex whose match ends before or at the `{`). */
export function blockAfter(src: string, anchor: RegExp): string | undefined {
  const clean = stripComments(src);
  const m = anchor.exec(clean);
  if (!m) return undefined;
  const open = clean.indexOf("{", m.index + m[0].length - 1);
  if (open < 0) return undefined;
  return clean.slice(open, matchClose(clean, open));
}

/** Top-level `key: value` pairs of an object literal text `{ ... }` (values as raw source text). */
export function objectEntries(objectText: string): Map<string, string> {
  const body = objectText.trim().replace(/^\{/, "").replace(/\}$/, "");
  const out = new Map<string, string>();
  let i = 0;
  while (i < body.length) {
    const rest = body.slice(i);
    const m = /^[\s,]*(?:'([^']+)'|([A-Za-z_$][\w$]*))\s*:\s*/.exec(rest);
    if (!m) {
      // continuation line (e.g. `? { ... }` of a multi-line ternary): skip it, brackets included
      let j = i;
      while (j < body.length && body[j] !== "\n") {
        if (body[j] === "{" || body[j] === "[" || body[j] === "(") j = matchClose(body, j);
        else j++;
      }
      i = j + 1;
      continue;
    }
    const key = m[1] ?? m[2];
    let j = i + m[0].length;
    const start = j;
    // value runs to the end of the line, or to the matching bracket if it opens one
    while (j < body.length && body[j] !== "\n") {
      const c = body[j];
      if (c === "{" || c === "[" || c === "(") {
        j = matchClose(body, j);
        continue;
      }
      if (c === "'") {
        let k = j + 1;
        while (k < body.length && body[k] !== "'") k += body[k] === "\\" ? 2 : 1;
        j = k + 1;
        continue;
      }
      j++;
    }
    out.set(key, body.slice(start, j).trim());
    i = j;
  }
  return out;
}

export interface ResourceDecl {
  symbol: string;
  type: string;
  apiVersion: string;
  existing: boolean;
}

/** Top-level and nested resource declarations with a full `'<Type>@<version>'` string. */
export function resources(src: string): ResourceDecl[] {
  const re = /^\s*resource\s+([A-Za-z_]\w*)\s+'([^'@]+)@([^']+)'\s*(existing)?/gm;
  return [...stripComments(src).matchAll(re)].map((m) => ({
    symbol: m[1],
    type: m[2],
    apiVersion: m[3],
    existing: m[4] === "existing",
  }));
}

/** The body `{ ... }` of `resource <symbol> '...' ... = {`. */
export function resourceBody(src: string, symbol: string): string | undefined {
  return blockAfter(src, new RegExp(`^\\s*resource\\s+${symbol}\\s+'[^']+'[^=\\n]*=\\s*(?:if\\s*\\([^\\n]*\\)\\s*)?\\{`, "m"));
}

/** The `params: { ... }` entries of `module <symbol> '...' = { ... }`. */
export function moduleParams(src: string, symbol: string): Map<string, string> {
  const body = blockAfter(src, new RegExp(`^\\s*module\\s+${symbol}\\s+'[^']+'\\s*=\\s*(?:if\\s*\\([^\\n]*\\)\\s*)?\\{`, "m"));
  if (!body) return new Map();
  const p = objectEntries(body).get("params");
  return p ? objectEntries(p) : new Map();
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

export function guids(src: string): string[] {
  return [...stripComments(src).matchAll(GUID)].map((m) => m[0].toLowerCase());
}

/**
 * Environment variables read in TypeScript/JavaScript source: process.env.X, process.env["X"],
 * and, for code that passes process.env around as `env` (NodeJS.ProcessEnv), env.X, env["X"] and
 * helper calls of the form f(env, "X", ...). A heuristic, not a type-aware analysis.
 */
export function envReads(src: string): Set<string> {
  const names = new Set<string>();
  const direct = /\b(?:process\.)?env(?:\.([A-Za-z_]\w*)|\[\s*["'`]([A-Za-z_]\w*)["'`]\s*\])/g;
  const passesEnv = /process\.env|ProcessEnv/.test(src);
  for (const m of src.matchAll(direct)) {
    const isProcessEnv = src.slice(Math.max(0, (m.index ?? 0) - 8), m.index).endsWith("process.");
    if (isProcessEnv || passesEnv) names.add(m[1] ?? m[2]);
  }
  if (passesEnv) for (const m of src.matchAll(/\benv\s*,\s*["'`]([A-Za-z_]\w*)["'`]/g)) names.add(m[1]);
  // const { A, B: alias } = process.env
  for (const m of src.matchAll(/\{([^}]*)\}\s*=\s*process\.env\b/g)) {
    for (const part of m[1].split(",")) {
      const name = part.split(":")[0].trim();
      if (/^[A-Za-z_]\w*$/.test(name)) names.add(name);
    }
  }
  return names;
}

export function listSourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : listSourceFiles(p);
    return /\.(ts|js|mjs|cjs)$/.test(e.name) && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

/**
 * Minimal YAML reader for azure.yaml-style documents: nested maps of scalars by indentation.
 * Lists and flow collections are kept as raw strings; enough for checking names and hosts.
 */
export function parseSimpleYaml(text: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  const stack: { indent: number; obj: Record<string, unknown> }[] = [{ indent: -1, obj: root }];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, "").replace(/^\s*#.*$/, "");
    if (!line.trim() || line.trim().startsWith("-")) continue;
    const m = /^(\s*)([^:\s][^:]*?)\s*:(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    const indent = m[1].length;
    while (stack.length > 1 && stack[stack.length - 1].indent >= indent) stack.pop();
    const parent = stack[stack.length - 1].obj;
    const value = m[3]?.trim();
    if (value === undefined || value === "") {
      const child: Record<string, unknown> = {};
      parent[m[2]] = child;
      stack.push({ indent, obj: child });
    } else {
      parent[m[2]] = value.replace(/^(['"])(.*)\1$/, "$2");
    }
  }
  return root;
}

/**
 * The decorators written right before each top-level `param` (`@allowed([...])`, `@minValue(40)`, ...),
 * as source text keyed by parameter name. Only column-0 declarations count, which is how every template
 * here is formatted.
 */
export function paramDecorators(src: string): Map<string, string[]> {
  const clean = stripComments(src);
  const out = new Map<string, string[]>();
  let pending: string[] = [];
  let i = 0;
  while (i < clean.length) {
    const lineEnd = clean.indexOf("\n", i) < 0 ? clean.length : clean.indexOf("\n", i);
    const line = clean.slice(i, lineEnd);
    if (line.startsWith("@")) {
      const open = clean.indexOf("(", i);
      const end = open >= 0 && open < lineEnd ? matchClose(clean, open) : lineEnd;
      pending.push(clean.slice(i, end));
      i = end;
      continue;
    }
    const param = /^param\s+([A-Za-z_]\w*)\b/.exec(line);
    if (param) {
      out.set(param[1], pending);
      pending = [];
    } else if (line.trim() !== "") {
      pending = [];
    }
    i = lineEnd + 1;
  }
  return out;
}

/** The values of an `@allowed([...])` decorator (strings unquoted, numbers as text), or undefined. */
export function allowedValues(decorators: string[] = []): string[] | undefined {
  const allowed = decorators.find((d) => /^@allowed\s*\(/.test(d));
  if (!allowed) return undefined;
  return [...allowed.matchAll(/'([^']*)'|(-?\d+(?:\.\d+)?)/g)].map((m) => m[1] ?? m[2]);
}

/** The number in `@<name>(n)` (minValue, maxValue, minLength, maxLength), or undefined. */
export function decoratorNumber(decorators: string[] = [], name: string): number | undefined {
  for (const d of decorators) {
    const m = new RegExp(`^@${name}\\s*\\(\\s*(-?\\d+)\\s*\\)`).exec(d);
    if (m) return Number(m[1]);
  }
  return undefined;
}

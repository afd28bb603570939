/** JSON helpers: canonical form for deep equality, dot-path lookup. */
import type { Json } from "./spec";

/** A stable string for deep JSON equality: object keys sorted, arrays in order. */
export function canonicalJson(value: Json | undefined): string {
  if (value === undefined) return "undefined";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
}

/**
 * `quote.price` into a value; undefined when any step is missing. Own fields only: `constructor` or
 * `__proto__` never reach Object.prototype, `length` is no array element.
 */
export function getPath(value: Json | undefined, path: string | undefined): Json | undefined {
  if (path === undefined) return value;
  let current: Json | undefined = value;
  for (const key of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(key)) return undefined;
      current = current[Number(key)];
    } else {
      if (!Object.hasOwn(current, key)) return undefined;
      current = (current as Record<string, Json>)[key];
    }
  }
  return current;
}

/** How deep JSON may nest (docs/api.md): the outermost object or array is level 1. */
export const MAX_JSON_DEPTH = 64;

export interface JsonProblem {
  kind: "too-deep" | "non-finite";
  /** `request.a[2]` style, from the root given (empty for the value itself). */
  path: string;
  message: string;
}

/** One object or array being walked: at most `maxDepth` of these exist at a time. */
interface Frame {
  container: object;
  /** Object keys (undefined for an array). */
  keys: string[] | undefined;
  length: number;
  next: number;
  depth: number;
  parent: Frame | undefined;
  /** This container's key in its parent. */
  key: string | number | undefined;
}

/**
 * The first thing in a parsed JSON value that cannot travel on faithfully: an object or array nested
 * deeper than `maxDepth` levels, or a number JSON.parse turned into ±Infinity (`1e999`), which
 * JSON.stringify would send on as null. Iterative, with at most `maxDepth` frames, so any depth
 * JSON.parse can build is safe to check and memory stays small however wide the value is.
 */
export function findJsonProblem(value: unknown, root = "", maxDepth = MAX_JSON_DEPTH): JsonProblem | undefined {
  const nonFinite = (path: string): JsonProblem => ({
    kind: "non-finite",
    path,
    message: "is a number out of range (JSON numbers must be finite)",
  });
  const tooDeep = (path: string): JsonProblem => ({ kind: "too-deep", path, message: `is nested deeper than ${maxDepth} levels` });
  const open = (container: object, parent: Frame | undefined, key: string | number | undefined): Frame => {
    const keys = Array.isArray(container) ? undefined : Object.keys(container);
    return {
      container,
      keys,
      length: keys ? keys.length : (container as unknown[]).length,
      next: 0,
      depth: (parent?.depth ?? 0) + 1,
      parent,
      key,
    };
  };

  if (typeof value === "number") return Number.isFinite(value) ? undefined : nonFinite(root);
  if (value === null || typeof value !== "object") return undefined;
  if (maxDepth < 1) return tooDeep(root);
  const stack: Frame[] = [open(value, undefined, undefined)];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (frame.next >= frame.length) {
      stack.pop();
      continue;
    }
    const i = frame.next++;
    const key = frame.keys ? frame.keys[i] : i;
    const child = (frame.container as Record<string | number, unknown>)[key];
    if (typeof child === "number") {
      if (!Number.isFinite(child)) return nonFinite(pathOf(frame, key, root));
    } else if (child !== null && typeof child === "object") {
      if (frame.depth >= maxDepth) return tooDeep(pathOf(frame, key, root));
      stack.push(open(child, frame, key));
    }
  }
  return undefined;
}

const MAX_KEY_IN_PATH = 64;

function pathOf(frame: Frame, last: string | number, root: string): string {
  const parts: (string | number)[] = [last];
  for (let f: Frame | undefined = frame; f && f.key !== undefined; f = f.parent) parts.push(f.key);
  let out = root;
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i];
    if (typeof part === "number") out += `[${part}]`;
    else {
      const key = part.length > MAX_KEY_IN_PATH ? `${part.slice(0, MAX_KEY_IN_PATH)}…` : part;
      out += out === "" ? key : `.${key}`;
    }
  }
  return out;
}

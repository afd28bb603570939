/** JSON helpers: canonical form for deep equality, dot-path lookup. */
import type { Json } from "./types";

/** A stable string for deep JSON equality: object keys sorted, arrays in order. */
export function canonicalJson(value: Json | undefined): string {
  if (value === undefined) return "undefined";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
}

/** `quote.price` into a value; undefined when any step is missing. */
export function getPath(value: Json | undefined, path: string | undefined): Json | undefined {
  if (path === undefined) return value;
  let current: Json | undefined = value;
  for (const key of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = Array.isArray(current) ? current[Number(key)] : (current as Record<string, Json>)[key];
  }
  return current;
}

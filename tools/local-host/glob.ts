/**
 * Expands the `main` entry of an app's package.json the way the Node.js worker does (it uses globby with
 * the app directory as cwd): `*`, `?`, `[...]`, `{a,b}` within a path segment and `**` across segments.
 * Dot-files and dot-directories are skipped unless the pattern names them, as globby does by default.
 * Results are paths relative to `cwd` with forward slashes, sorted, without duplicates.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export function hasMagic(pattern: string): boolean {
  return /[*?[\]{}]/.test(pattern);
}

export function expandGlob(pattern: string, cwd: string): string[] {
  const normalized = pattern.replace(/\\/g, "/").replace(/^\.\//, "");
  const expanded = expandBraces(normalized);
  const found = new Set<string>();
  for (const p of expanded) {
    const segments = p.split("/").filter((s, i) => s !== "" || i === 0);
    const absolute = p.startsWith("/");
    const base = absolute ? "/" : cwd;
    walk(base, absolute ? segments.slice(1) : segments, "", found);
  }
  return [...found].sort();
}

function walk(dir: string, segments: string[], rel: string, found: Set<string>): void {
  if (segments.length === 0) return;
  const [seg, ...rest] = segments;
  if (seg === "**") {
    // zero directories
    walk(dir, rest, rel, found);
    for (const entry of readDir(dir)) {
      if (entry.name.startsWith(".") || entry.name === "node_modules" || !entry.isDirectory()) continue;
      walk(path.join(dir, entry.name), segments, join(rel, entry.name), found);
    }
    return;
  }
  if (!hasMagic(seg)) {
    const target = path.join(dir, seg);
    if (rest.length === 0) {
      if (isFile(target)) found.add(join(rel, seg));
    } else if (isDir(target)) {
      walk(target, rest, join(rel, seg), found);
    }
    return;
  }
  const re = segmentToRegExp(seg);
  for (const entry of readDir(dir)) {
    if (entry.name.startsWith(".") && !seg.startsWith(".")) continue;
    if (!re.test(entry.name)) continue;
    const target = path.join(dir, entry.name);
    if (rest.length === 0) {
      if (isFile(target)) found.add(join(rel, entry.name));
    } else if (isDir(target)) {
      walk(target, rest, join(rel, entry.name), found);
    }
  }
}

function join(rel: string, name: string): string {
  return rel ? `${rel}/${name}` : name;
}

function readDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** `a/{b,c}/*.js` → [`a/b/*.js`, `a/c/*.js`] (nested braces supported). */
export function expandBraces(pattern: string): string[] {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "{") {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === "}" && depth > 0) {
      depth--;
      if (depth === 0) {
        const body = pattern.slice(start + 1, i);
        const options = splitTopLevel(body);
        if (options.length < 2) return [pattern];
        const prefix = pattern.slice(0, start);
        const suffix = pattern.slice(i + 1);
        return options.flatMap((o) => expandBraces(prefix + o + suffix));
      }
    }
  }
  return [pattern];
}

function splitTopLevel(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of body) {
    if (ch === "{") depth++;
    if (ch === "}") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return parts;
}

function segmentToRegExp(seg: string): RegExp {
  let re = "";
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i];
    if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else if (ch === "[") {
      const end = seg.indexOf("]", i + 1);
      if (end === -1) {
        re += "\\[";
      } else {
        let cls = seg.slice(i + 1, end);
        if (cls.startsWith("!")) cls = "^" + cls.slice(1);
        re += `[${cls.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^$()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/**
 * Text rendering for the CLI: colours (off under NO_COLOR or when not a terminal), tables, summaries, and
 * `terminalSafe`, which every piece of text from the server (or its recipients) goes through before it is
 * printed: ids, statuses, errors, values, aggregates, list rows, progress lines, JSON output.
 */
import type { GatherProgress, GatherStatus, GatherSummary, RecipientResponse } from "../client";

/**
 * What a terminal may act on instead of showing: C0 controls (ESC starts CSI/OSC sequences, CR and BS
 * overwrite), DEL, C1 controls (U+009B is a one-character CSI, U+009D an OSC), the bidi controls that
 * reorder what is shown (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), and the line and paragraph
 * separators U+2028/U+2029.
 */
// eslint-disable-next-line no-control-regex -- these are the characters it finds
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;
/** The same but line feed, for text laid out by the CLI (JSON with its indentation). */
// eslint-disable-next-line no-control-regex -- these are the characters it finds
const UNSAFE_BUT_LF = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;
/** An SGR (colour) escape sequence: the CLI's own colours (style()). */
const SGR = new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, "g");
/** UNSAFE_BUT_LF, but SGR sequences match whole (and are kept). */
const UNSAFE_BUT_LAYOUT = new RegExp(`${SGR.source}|${UNSAFE_BUT_LF.source}`, "g");

/**
 * Text from the server or its recipients made safe to print on a terminal: each character of UNSAFE as a
 * visible `\u009b` escape. `keep: "newlines"` leaves line feeds (JSON text, whose own line feeds are
 * layout: inside its strings they are `\n` already); the escapes are JSON escapes, so JSON text stays
 * valid JSON with the same value. `keep: "layout"` also leaves the CLI's own colour sequences: it is the
 * last pass over everything the CLI writes, a net under the per-field escaping.
 */
export function terminalSafe(text: string, keep?: "newlines" | "layout"): string {
  const unsafe = keep === "layout" ? UNSAFE_BUT_LAYOUT : keep === "newlines" ? UNSAFE_BUT_LF : UNSAFE;
  return text.replace(unsafe, (c) => (c.length > 1 ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
}

/** A JSON value as indented JSON text that is safe on a terminal and parses back to the same value. */
export function jsonText(value: unknown, indent = 2): string {
  return terminalSafe(JSON.stringify(value, null, indent) ?? "null", "newlines");
}

/** Short for terminalSafe(text). */
const safe = (text: string) => terminalSafe(text);

/**
 * A word of a command line the CLI suggests (`scatter-gather watch <id>`): quoted for a POSIX shell unless
 * plain, and safe on a terminal. An operand that starts with "-" gets a "--" before it, so it is no option.
 */
export function shellOperand(text: string): string {
  return `${text.startsWith("-") ? "-- " : ""}${shellWord(text)}`;
}

/** A word of a suggested command line, quoted for a POSIX shell unless plain, and safe on a terminal. */
export function shellWord(text: string): string {
  return safe(/^[\w.,:@%+=/-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`);
}

export interface Style {
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

/** ANSI colours when `enabled` (a terminal and no NO_COLOR, https://no-color.org). */
export function style(enabled: boolean): Style {
  const wrap = (open: number, close: number) => (s: string) => (enabled ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return { green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !(env.NO_COLOR !== undefined && env.NO_COLOR !== "");
}

/** "4.2s", "1m05s", "2h05m", "4d23h", "none" for none, "passed" once reached. */
export function untilDeadline(deadline: string | null | undefined, now = Date.now()): string {
  if (!deadline) return "none";
  const ms = Date.parse(deadline) - now;
  if (Number.isNaN(ms)) return "unknown";
  if (ms <= 0) return "passed";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  if (s >= 86_400) return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 60)}m${two(s % 60)}s`;
}

/** One plain progress line (non-TTY output), e.g. `running gathering: 2/3 settled, succeeded 2, failed 0, pending 1, deadline in 4.2s`. */
export function progressLine(status: GatherStatus, now = Date.now()): string {
  const p = status.progress as GatherProgress | null;
  if (!p) return `${safe(status.runtimeStatus.toLowerCase())}: waiting for progress`;
  return (
    `${safe(status.runtimeStatus.toLowerCase())} ${safe(p.phase)}: ${p.total - p.pending}/${p.total} settled, ` +
    `succeeded ${p.succeeded}, failed ${p.failed}` +
    (p.timedOut ? `, timed out ${p.timedOut}` : "") +
    (p.abandoned ? `, abandoned ${p.abandoned}` : "") +
    `, pending ${p.pending}` +
    (p.awaitingReply ? ` (${p.awaitingReply} waiting for reply)` : "") +
    (p.phase === "done" ? "" : `, ${deadlineWords(p.deadline, now)}`)
  );
}

/** "deadline in 4.2s", "deadline passed", "deadline none". */
function deadlineWords(deadline: string | null, now: number): string {
  const left = untilDeadline(deadline, now);
  return left === "none" || left === "passed" || left === "unknown" ? `deadline ${left}` : `deadline in ${left}`;
}

/** A plain text table, columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const width = (c: string) => c.replace(SGR, "").length; // colours take no room
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => width(r[i] ?? ""))));
  const pad = (c: string, w: number) => c + " ".repeat(Math.max(0, w - width(c)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i])))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** A JSON value on one line, safe on a terminal, cut at `max` characters. */
export function short(value: unknown, max = 60): string {
  if (value === undefined) return "";
  const s = terminalSafe(JSON.stringify(value));
  if (s.length <= max) return s;
  // Cut between characters, never inside one (an emoji is two UTF-16 units).
  const chars = Array.from(s);
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : s;
}

/** A status (safe on a terminal), coloured by what it means. */
export function paint(raw: string, s: Style): string {
  const status = safe(raw);
  if (status === "succeeded" || status === "complete" || status === "Completed") return s.green(status);
  if (status === "failed" || status === "Failed" || status === "Terminated") return s.red(status);
  if (status === "pending" || status === "Running" || status === "Pending") return status;
  return s.yellow(status);
}

export function responsesTable(items: RecipientResponse[], s: Style): string {
  return table(
    ["recipient", "status", "attempts", "duration", "value / error"],
    items.map((r) => [
      safe(r.recipientId),
      r.waitingFor === "reply" ? `${paint(r.status, s)} ${s.dim("waiting for reply")}` : paint(r.status, s),
      r.attempts === undefined ? "" : String(r.attempts),
      r.durationMs === undefined ? "" : `${Math.round(r.durationMs)} ms`,
      r.status === "succeeded" ? short(r.value) : safe(r.error ?? ""),
    ]),
  );
}

/** The result of a finished gather: outcome line, counts, a table of responses, the aggregate. */
export function summary(status: GatherStatus, responses: RecipientResponse[], totalResponses: number, s: Style): string {
  const out: string[] = [];
  const r = status.result;
  if (!r) {
    out.push(
      `${s.bold(safe(status.id))}: ${paint(status.runtimeStatus, s)} without a result${status.error ? ` (${short(status.error, 200)})` : ""}`,
    );
  } else {
    const ms = Date.parse(r.closedAt) - Date.parse(r.startedAt);
    // A redriven gather's times are its last run's; its counts and table cover every run.
    const redrive = r.redrives ? ` (redrive ${r.redrives})` : "";
    out.push(`${s.bold(safe(r.id))}: ${paint(r.outcome, s)} (${safe(r.closedBy)})${Number.isNaN(ms) ? "" : ` in ${ms} ms`}${redrive}`);
    const c = r.counts;
    out.push(
      `recipients ${c.total}: ${s.green(`succeeded ${c.succeeded}`)}, ${s.red(`failed ${c.failed}`)}, timedOut ${c.timedOut}, abandoned ${c.abandoned}`,
    );
  }
  if (responses.length > 0) {
    out.push("", responsesTable(responses, s));
    if (totalResponses > responses.length)
      out.push(s.dim(`… and ${totalResponses - responses.length} more: scatter-gather responses ${shellOperand(status.id)}`));
  }
  if (r) out.push("", `aggregate: ${terminalSafe(JSON.stringify(r.aggregate))}`);
  return out.join("\n");
}

export function listTable(items: GatherSummary[], s: Style): string {
  return table(
    ["id", "status", "created", "outcome", "closedBy", "succeeded/total"],
    items.map((g) => {
      const counts = g.counts ?? (g.progress ? { succeeded: g.progress.succeeded, total: g.progress.total } : null);
      return [
        safe(g.id),
        paint(g.runtimeStatus, s),
        safe(g.createdTime),
        g.outcome ? paint(g.outcome, s) : "",
        safe(g.closedBy ?? ""),
        counts ? `${counts.succeeded}/${counts.total}` : "",
      ];
    }),
  );
}

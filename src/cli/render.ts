/** Text rendering for the CLI: colours (off under NO_COLOR or when not a terminal), tables, summaries. */
import type { GatherProgress, GatherStatus, GatherSummary, RecipientResponse } from "../client";

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

/** An SGR (colour) escape sequence. */
const SGR = new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, "g");

export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !(env.NO_COLOR !== undefined && env.NO_COLOR !== "");
}

/** "4.2s", "1m05s", "—" for none, "passed" once reached. */
export function untilDeadline(deadline: string | null | undefined, now = Date.now()): string {
  if (!deadline) return "none";
  const ms = Date.parse(deadline) - now;
  if (ms <= 0) return "passed";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** One plain progress line (non-TTY output), e.g. `running gathering: 2/3 settled, succeeded 2, failed 0, pending 1, deadline in 4.2s`. */
export function progressLine(status: GatherStatus, now = Date.now()): string {
  const p = status.progress as GatherProgress | null;
  if (!p) return `${status.runtimeStatus.toLowerCase()}: waiting for progress`;
  return (
    `${status.runtimeStatus.toLowerCase()} ${p.phase}: ${p.succeeded + p.failed}/${p.total} settled, ` +
    `succeeded ${p.succeeded}, failed ${p.failed}, pending ${p.pending}` +
    (p.phase === "done" ? "" : `, deadline ${p.deadline ? `in ${untilDeadline(p.deadline, now)}` : "none"}`)
  );
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

export function short(value: unknown, max = 60): string {
  if (value === undefined) return "";
  const s = JSON.stringify(value);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function paint(status: string, s: Style): string {
  if (status === "succeeded" || status === "complete" || status === "Completed") return s.green(status);
  if (status === "failed" || status === "Failed" || status === "Terminated") return s.red(status);
  if (status === "pending" || status === "Running" || status === "Pending") return status;
  return s.yellow(status);
}

export function responsesTable(items: RecipientResponse[], s: Style): string {
  return table(
    ["recipient", "status", "attempts", "duration", "value / error"],
    items.map((r) => [
      r.recipientId,
      paint(r.status, s),
      r.attempts === undefined ? "" : String(r.attempts),
      r.durationMs === undefined ? "" : `${Math.round(r.durationMs)} ms`,
      r.status === "succeeded" ? short(r.value) : (r.error ?? ""),
    ]),
  );
}

/** The result of a finished gather: outcome line, counts, a table of responses, the aggregate. */
export function summary(status: GatherStatus, responses: RecipientResponse[], totalResponses: number, s: Style): string {
  const out: string[] = [];
  const r = status.result;
  if (!r) {
    out.push(
      `${s.bold(status.id)}: ${paint(status.runtimeStatus, s)} without a result${status.error ? ` (${short(status.error, 200)})` : ""}`,
    );
  } else {
    const ms = Date.parse(r.closedAt) - Date.parse(r.startedAt);
    out.push(`${s.bold(r.id)}: ${paint(r.outcome, s)} (${r.closedBy}) in ${ms} ms`);
    const c = r.counts;
    out.push(
      `recipients ${c.total}: ${s.green(`succeeded ${c.succeeded}`)}, ${s.red(`failed ${c.failed}`)}, timedOut ${c.timedOut}, abandoned ${c.abandoned}`,
    );
  }
  if (responses.length > 0) {
    out.push("", responsesTable(responses, s));
    if (totalResponses > responses.length)
      out.push(s.dim(`… and ${totalResponses - responses.length} more: scatter-gather responses ${status.id}`));
  }
  if (r) out.push("", `aggregate: ${JSON.stringify(r.aggregate)}`);
  return out.join("\n");
}

export function listTable(items: GatherSummary[], s: Style): string {
  return table(
    ["id", "status", "created", "outcome", "closedBy", "succeeded/total"],
    items.map((g) => {
      const counts = g.counts ?? (g.progress ? { succeeded: g.progress.succeeded, total: g.progress.total } : null);
      return [
        g.id,
        paint(g.runtimeStatus, s),
        g.createdTime,
        g.outcome ? paint(g.outcome, s) : "",
        g.closedBy ?? "",
        counts ? `${counts.succeeded}/${counts.total}` : "",
      ];
    }),
  );
}

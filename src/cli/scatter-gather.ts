#!/usr/bin/env node
/**
 * scatter-gather: the command-line client of the Scatter-Gather API (the package's `bin`).
 *
 *   scatter-gather run request.json        start, show live progress, print the outcome and the aggregate
 *   scatter-gather watch <id>              the same for a gather already started
 *   scatter-gather responses <id> [--status failed] [--json]
 *   scatter-gather list | terminate <id> | delete <id>
 *   scatter-gather redrive <id> [--status failed,timedOut,abandoned] [--detach]   run those again, then as `watch`
 *
 * --url (SCATTER_GATHER_URL, default http://localhost:7071), --key (SCATTER_GATHER_KEY, sent as
 * x-functions-key, to the origin of --url only: a redirect elsewhere is refused), --max-answer-bytes
 * (SCATTER_GATHER_MAX_ANSWER_BYTES, default 16 MiB: the most read of one answer). Exit codes: 0 complete
 * (or the command succeeded), 2 partial, 3 failed (or the gather ended without a result), 1 usage or HTTP
 * errors, and answers the client will not use (a redirect to another origin, too large, not JSON, not the
 * API's shape).
 *
 * Everything printed that came from the server or its recipients goes through terminalSafe (render.ts):
 * control and bidi characters appear as `\u009b` escapes, never raw, in the tables, lines and --json alike.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { SingleBar } from "cli-progress";
import * as fs from "node:fs";
import { AnswerError, ApiError, DEFAULT_MAX_ANSWER_BYTES, ScatterGatherClient, type GatherStatus } from "../client";
import {
  colorEnabled,
  jsonText,
  listTable,
  progressLine,
  responsesTable,
  shellOperand,
  shellWord,
  style,
  summary,
  terminalSafe,
  untilDeadline,
  type Style,
} from "./render";

const EXIT = { ok: 0, error: 1, partial: 2, failed: 3 } as const;
const REDRIVABLE = ["failed", "timedOut", "abandoned"] as const;
type RedriveStatus = (typeof REDRIVABLE)[number];

/** `--status failed,timedOut`: each one of REDRIVABLE. */
function redriveStatuses(value: string): RedriveStatus[] {
  const statuses = value.split(",").map((v) => v.trim());
  const bad = statuses.find((v) => !(REDRIVABLE as readonly string[]).includes(v));
  if (bad !== undefined || statuses.length === 0) throw new InvalidArgumentError(`each status must be one of ${REDRIVABLE.join(", ")}`);
  return statuses as RedriveStatus[];
}
const TABLE_ROWS = 50;
/** How long `redrive` waits for the status to show the redrive's run rather than the one before. */
const STALE_STATUS_MS = 30_000;
/** Responses per page for `responses`: 100 answers of MAX_RESPONSE_BYTES (64 KiB) stay well under the 16 MiB bound. */
const RESPONSES_PAGE = 100;

interface GlobalOptions {
  url: string;
  key?: string;
  maxAnswerBytes: number;
}

function clientOf(cmd: Command): ScatterGatherClient {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new UsageError(`--url is not a URL: ${o.url}`);
  }
  // A password would show in every error, and a query would land before the API's paths: the key goes in --key.
  if (url.username || url.password || url.search || url.hash)
    throw new UsageError(
      "--url takes the app's address only (scheme, host, port, path): no user, password, query or fragment; a key goes in --key",
    );
  return new ScatterGatherClient({ baseUrl: o.url, key: o.key, maxAnswerBytes: o.maxAnswerBytes });
}

/** Server text: escaped (render.ts). */
const safe = (text: string) => terminalSafe(text);
// The last pass over everything written: only line feeds and the CLI's own colours stay raw.
const out = (text: string) => process.stdout.write(`${terminalSafe(text, "layout")}\n`);
const err = (text: string) => process.stderr.write(`${terminalSafe(text, "layout")}\n`);
/** A dimmed note on stderr: coloured only when stderr itself is a terminal (stdout may be one while stderr is a file). */
const note = (text: string) => err(style(colorEnabled(process.stderr)).dim(text));

function exitCodeOf(status: GatherStatus): number {
  if (!status.result) return EXIT.failed;
  return status.result.outcome === "complete" ? EXIT.ok : status.result.outcome === "partial" ? EXIT.partial : EXIT.failed;
}

/**
 * Polls the gather until it ends, showing progress on stderr: a bar on a terminal (succeeded, failed,
 * pending, time to the deadline, phase), else one plain line per change. Nothing with --json.
 */
async function watch(
  client: ScatterGatherClient,
  id: string,
  options: { json: boolean; intervalMs: number },
  s: Style,
): Promise<GatherStatus> {
  const tty = Boolean(process.stderr.isTTY) && !options.json;
  let bar: SingleBar | undefined;
  let lastLine = "";
  const onProgress = (status: GatherStatus) => {
    if (options.json) return;
    const p = status.progress;
    if (!tty) {
      const line = progressLine(status).replace(/deadline in [\dmhds.]+/, "deadline set"); // a line per change, not per tick
      if (line !== lastLine) err(progressLine(status)); // progressLine escapes the server's text
      lastLine = line;
      return;
    }
    if (!p) return;
    const unsettled = `${p.timedOut ? ` timed out ${p.timedOut}` : ""}${p.abandoned ? ` abandoned ${p.abandoned}` : ""}`;
    const values = {
      gid: safe(id),
      succeeded: s.green(String(p.succeeded)),
      failed: s.red(String(p.failed)) + unsettled,
      pending: p.awaitingReply ? `${p.pending} (${p.awaitingReply} waiting for reply)` : String(p.pending),
      deadline: p.phase === "done" ? "closed" : untilDeadline(p.deadline),
      phase: safe(p.phase),
    };
    // Settled of the total; an auction without an expected count has no total until it closes.
    const auction = (status.policy as { auction?: { expected?: number | null } } | null | undefined)?.auction;
    const openEnded = auction?.expected === null && p.phase !== "done";
    const [settled, total] = openEnded ? [0, 0] : [p.total - p.pending, p.total];
    if (!bar) {
      bar = new SingleBar({
        format: `{gid} {bar} {value}/{total} | succeeded {succeeded} failed {failed} pending {pending} | deadline {deadline} | {phase}`,
        barCompleteChar: "█",
        barIncompleteChar: "░",
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        fps: 10,
        stream: process.stderr,
      });
      bar.start(total, settled, values);
      // Ctrl-C while the bar hides the cursor: give the terminal back, then end as an interrupted command does.
      process.once("SIGINT", interrupted).once("SIGTERM", interrupted);
    } else {
      bar.setTotal(total);
      bar.update(settled, values);
    }
  };
  const interrupted = (signal: NodeJS.Signals) => {
    bar?.stop();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  try {
    return await client.waitFor(id, { intervalMs: options.intervalMs, onProgress });
  } finally {
    bar?.stop();
    process.off("SIGINT", interrupted).off("SIGTERM", interrupted);
  }
}

async function report(client: ScatterGatherClient, status: GatherStatus, json: boolean, s: Style): Promise<number> {
  if (json) {
    out(jsonText(status));
    return exitCodeOf(status);
  }
  let items: Awaited<ReturnType<ScatterGatherClient["responses"]>>["items"] = [];
  let total = 0;
  try {
    const page = await client.responses(status.id, { limit: TABLE_ROWS });
    items = page.items;
    total = page.total;
  } catch (error) {
    // The outcome stands, and so does its exit code, whatever kept the table from being read.
    note(`(responses not available: ${safe((error as Error).message)})`);
  }
  out(summary(status, items, total, s));
  return exitCodeOf(status);
}

function readRequest(file: string): unknown {
  // A byte order mark (Notepad and PowerShell write one) is not part of the JSON; the API skips it too.
  const text = (file === "-" ? fs.readFileSync(0, "utf8") : fs.readFileSync(file, "utf8")).replace(/^\uFEFF/, "");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file} is not JSON: ${(error as Error).message}`);
  }
}

class UsageError extends Error {}

export function buildProgram(): Command {
  const s = style(colorEnabled(process.stdout));
  const program = new Command("scatter-gather")
    .description("Start, watch and inspect scatter-gathers of a Scatter-Gather Functions app")
    .addOption(new Option("--url <url>", "the function app").env("SCATTER_GATHER_URL").default("http://localhost:7071"))
    .addOption(new Option("--key <key>", "a function key, sent as x-functions-key (to --url's origin only)").env("SCATTER_GATHER_KEY"))
    .addOption(
      new Option("--max-answer-bytes <n>", "the most read of one answer")
        .env("SCATTER_GATHER_MAX_ANSWER_BYTES")
        .default(DEFAULT_MAX_ANSWER_BYTES, "16 MiB")
        .argParser((v) => {
          const n = Number(v);
          if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive whole number of bytes");
          return n;
        }),
    )
    .showHelpAfterError()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  const interval = new Option("--interval <ms>", "poll interval").default(500).argParser((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 50) throw new UsageError("--interval must be a whole number of milliseconds, at least 50");
    return n;
  });

  program
    .command("run")
    .description("start a gather from a JSON file (- for stdin), show its progress, then its outcome and aggregate")
    .argument("<file>", "the request body (POST /api/scatter-gather)")
    .option("--json", "no progress; print the final status as JSON")
    .addOption(interval)
    .action(async (file: string, o: { json?: boolean; interval: number }, cmd: Command) => {
      const client = clientOf(cmd);
      const started = await client.start(readRequest(file) as Record<string, unknown>);
      if (!o.json) note(`started ${safe(started.id)} (scatter-gather watch ${shellOperand(started.id)})`);
      const status = await watch(client, started.id, { json: Boolean(o.json), intervalMs: o.interval }, s);
      process.exitCode = await report(client, status, Boolean(o.json), s);
    });

  program
    .command("watch")
    .description("show a gather's progress until it ends, then its outcome and aggregate")
    .argument("<id>")
    .option("--json", "no progress; print the final status as JSON")
    .addOption(interval)
    .action(async (id: string, o: { json?: boolean; interval: number }, cmd: Command) => {
      const client = clientOf(cmd);
      const status = await watch(client, id, { json: Boolean(o.json), intervalMs: o.interval }, s);
      process.exitCode = await report(client, status, Boolean(o.json), s);
    });

  program
    .command("responses")
    .description("a gather's responses (all pages), as a table or JSON")
    .argument("<id>")
    .addOption(new Option("--status <status>", "only these").choices(["succeeded", "failed", "timedOut", "abandoned", "pending"]))
    .option("--json", "print a JSON array")
    .action(async (id: string, o: { status?: "succeeded"; json?: boolean }, cmd: Command) => {
      const items = await clientOf(cmd).allResponses(id, { status: o.status, limit: RESPONSES_PAGE });
      out(o.json ? jsonText(items) : items.length ? responsesTable(items, s) : "no responses");
    });

  program
    .command("list")
    .description("the newest gathers, one page (--continuation-token for older ones)")
    .option(
      "--top <n>",
      "page size (1-100)",
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError("must be a whole number from 1 to 100");
        return n;
      },
      20,
    )
    .option("--continuation-token <token>", "the next page, from a previous --json list")
    .option("--json", "print the page as JSON (items, continuationToken)")
    .action(async (o: { top: number; continuationToken?: string; json?: boolean }, cmd: Command) => {
      const page = await clientOf(cmd).list({ top: o.top, continuationToken: o.continuationToken });
      if (o.json) {
        out(jsonText(page));
        return;
      }
      out(page.items.length ? listTable(page.items, s) : "no gathers");
      if (page.continuationToken)
        out(
          s.dim(
            `more: scatter-gather list${o.top === 20 ? "" : ` --top ${o.top}`} --continuation-token ${shellWord(page.continuationToken)}`,
          ),
        );
    });

  addOperatorCommands(program, interval, s);
  return program;
}

/** terminate, redrive, delete: what an operator does to one gather. */
function addOperatorCommands(program: Command, interval: Option, s: Style): void {
  program
    .command("terminate")
    .description("terminate a running gather and its batches")
    .argument("<id>")
    .option("--reason <text>")
    .option("--json", "print the answer as JSON")
    .action(async (id: string, o: { reason?: string; json?: boolean }, cmd: Command) => {
      const answer = await clientOf(cmd).terminate(id, o.reason);
      out(o.json ? jsonText(answer, 0) : `terminated ${safe(id)} (${answer.terminated} instance(s))`);
    });

  program
    .command("redrive")
    .description(
      "run a finished gather's failed, timed-out or abandoned recipients again (a new run of the same id), " +
        "show its progress, then the outcome of the whole gather",
    )
    .argument("<id>")
    .option("--status <statuses>", "comma-separated: failed, timedOut, abandoned (default: all three)", redriveStatuses)
    .option("--json", "no progress; print the final status as JSON (with --detach: the management URLs)")
    .option("--detach", "start the redrive and print how to watch it, without waiting")
    .addOption(interval)
    .action(async (id: string, o: { status?: RedriveStatus[]; json?: boolean; detach?: boolean; interval: number }, cmd: Command) => {
      const client = clientOf(cmd);
      // The runs so far: the watch waits for the result of this redrive, not an earlier run's.
      const earlier = (await client.get(id)).result?.redrives ?? 0;
      const urls = await client.redrive(id, o.status);
      if (o.detach) {
        out(o.json ? jsonText(urls, 0) : `redriving ${safe(urls.id)}: scatter-gather watch ${shellOperand(urls.id)}`);
        return;
      }
      if (!o.json) note(`redriving ${safe(urls.id)} (scatter-gather watch ${shellOperand(urls.id)})`);
      const since = Date.now();
      let status = await watch(client, urls.id, { json: Boolean(o.json), intervalMs: o.interval }, s);
      // A status read that still shows the earlier run (a store that lags behind the start) is not this run's end.
      while (status.runtimeStatus === "Completed" && (status.result?.redrives ?? 0) <= earlier) {
        if (Date.now() - since > STALE_STATUS_MS) throw new Error(`the status of ${id} still shows the run before this redrive`);
        await new Promise((resolve) => setTimeout(resolve, o.interval));
        status = await watch(client, urls.id, { json: Boolean(o.json), intervalMs: o.interval }, s);
      }
      process.exitCode = await report(client, status, Boolean(o.json), s);
    });

  program
    .command("delete")
    .description("purge a finished gather, its batches and its stored payloads")
    .argument("<id>")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await clientOf(cmd).delete(id);
      out(`deleted ${safe(id)}`);
    });
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  for (const sub of program.commands) sub.exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    const code = (error as { code?: string }).code;
    // Help asked for is a success; help shown because no command was given is not (commander's exitCode says which).
    if (code === "commander.helpDisplayed" || code === "commander.version") return EXIT.ok;
    if (code === "commander.help") return (error as { exitCode?: number }).exitCode ? EXIT.error : EXIT.ok;
    if (typeof code === "string" && code.startsWith("commander.")) return EXIT.error; // commander printed the message
    // The messages carry the server's text (its error message and details, field names of a bad answer).
    if (error instanceof ApiError) {
      const details = error.details;
      // A message that only lists the details (the start route's) is not said twice: the status line, then each one.
      const repeats =
        details.length > 0 && details.slice(0, 3).every((d) => error.message.includes(d.path ? `${d.path}: ${d.message}` : d.message));
      err(`error: ${safe(repeats ? `${error.method} ${new URL(error.url).pathname} answered ${error.status}` : error.message)}`);
      for (const d of details) err(`  ${safe(d.path || "(body)")}: ${safe(d.message)}`);
      if (error.status === 401) err("  (a function key goes in --key or SCATTER_GATHER_KEY)");
    } else if (error instanceof AnswerError && error.problem === "too-large")
      err(`error: ${safe(error.message)} (--max-answer-bytes raises the bound)`);
    else err(`error: ${safe((error as Error).message)}`);
    return EXIT.error;
  }
}

if (require.main === module) {
  // A reader that stopped early (`| head`): nothing more to write, and no stack trace about it.
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
      process.exit(typeof process.exitCode === "number" ? process.exitCode : EXIT.ok);
    });
  void main().then((code) => {
    process.exitCode = code;
  });
}

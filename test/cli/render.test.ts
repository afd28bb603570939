/**
 * The CLI's rendering (src/cli/render.ts) of text it does not control: terminalSafe escapes control and
 * bidi characters as visible `\u009b` escapes, JSON output stays JSON of the same value, and every table,
 * line and summary passes the server's text through it.
 */
import type { GatherStatus, GatherSummary, RecipientResponse } from "../../src/client";
import {
  jsonText,
  listTable,
  paint,
  progressLine,
  responsesTable,
  shellOperand,
  shellWord,
  short,
  style,
  summary,
  terminalSafe,
  untilDeadline,
} from "../../src/cli/render";
import { gatherStatus } from "./fake-server";

/** C0 (ESC, BEL, CR, BS, TAB, LF, NUL), DEL, C1 (CSI, OSC, ST), bidi controls, line/paragraph separators. */
export const EVIL =
  "<\u009b2J\u009d0;T\u009c\u202e\u001b[31m\u001b]0;title\u0007\r\b\t\n\u007f\u0000\u061c\u200e\u200f\u202a\u202d\u2066\u2067\u2068\u2069\u2028\u2029>";
// eslint-disable-next-line no-control-regex -- the characters a terminal acts on: what must not be printed raw
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;
// eslint-disable-next-line no-control-regex -- the CLI's own colours, allowed
const OWN_COLOURS = /\u001b\[\d+m/g;
const plain = style(false);
const colour = style(true);

describe("terminalSafe", () => {
  test("every C0 control, DEL, every C1 control, the bidi controls and U+2028/U+2029 become visible escapes", () => {
    const all = [
      ...Array.from({ length: 0x20 }, (_, i) => i),
      0x7f,
      ...Array.from({ length: 0x20 }, (_, i) => 0x80 + i),
      0x061c,
      0x200e,
      0x200f,
      0x202a,
      0x202b,
      0x202c,
      0x202d,
      0x202e,
      0x2066,
      0x2067,
      0x2068,
      0x2069,
      0x2028,
      0x2029,
    ];
    for (const code of all) {
      const escaped = terminalSafe(`a${String.fromCharCode(code)}b`);
      expect(escaped).toBe(`a\\u${code.toString(16).padStart(4, "0")}b`);
    }
    expect(terminalSafe("\u009b2J\u202e")).toBe("\\u009b2J\\u202e");
  });

  test("everything else is left as it is: text, emoji, accents, right-to-left letters, box drawing", () => {
    const text = "price 42 € — naïve 日本 🙂 שלום عربى █░ … \\ \" '";
    expect(terminalSafe(text)).toBe(text);
  });

  test('keep "newlines" leaves line feeds only; keep "layout" also leaves whole SGR colour sequences, never a lone ESC', () => {
    expect(terminalSafe("a\nb\rc", "newlines")).toBe("a\nb\\u000dc");
    expect(terminalSafe("\u001b[32mok\u001b[39m\n\u001b]0;x\u0007\u001b[1;31m", "layout")).toBe(
      "\u001b[32mok\u001b[39m\n\\u001b]0;x\\u0007\\u001b[1;31m",
    );
  });

  test("jsonText: valid JSON equal in value to what was given, with no raw control or bidi character", () => {
    const value = { [`k${EVIL}`]: [EVIL, { v: EVIL }, 1, null, true], plain: "x\\u009by" };
    const text = jsonText(value);
    expect(text).not.toMatch(RAW);
    expect(JSON.parse(text)).toEqual(value);
    expect(text).toContain("\\u009b2J\\u009d0;T\\u009c\\u202e\\u001b[31m");
    expect(text.split("\n").length).toBeGreaterThan(3); // still indented
    expect(JSON.parse(jsonText(value, 0))).toEqual(value);
    expect(jsonText(undefined)).toBe("null");
  });
});

describe("the renderers escape the server's text", () => {
  /** A status and responses with `x` in every string the server controls. */
  const evilStatus = (x: string): GatherStatus =>
    gatherStatus(`g${x}`, {
      error: { message: x },
      result: {
        ...gatherStatus("g").result!,
        id: `g${x}`,
        aggregate: { kind: "collect", values: { [`r${x}`]: { v: x } }, count: 1 },
      },
    });
  const evilResponses = (x: string): RecipientResponse[] => [
    { recipientId: `r${x}`, status: "succeeded", value: { v: x }, attempts: 1, durationMs: 3 },
    { recipientId: `f${x}`, status: "failed", error: `boom${x}`, attempts: 2 },
  ];
  /** Statuses are enums in a valid answer; the renderers escape them all the same. */
  const anyStatus = (x: string) => x as GatherStatus["runtimeStatus"];

  test.each<[string, (x: string) => string]>([
    ["summary", (x) => summary(evilStatus(x), evilResponses(x), 5, colour)],
    ["summary without a result", (x) => summary({ ...evilStatus(x), runtimeStatus: anyStatus(x), result: null }, [], 0, plain)],
    ["responsesTable", (x) => responsesTable(evilResponses(x), colour)],
    [
      "listTable",
      (x) =>
        listTable(
          [
            {
              id: `g${x}`,
              runtimeStatus: anyStatus(`Running${x}`),
              createdTime: `t${x}`,
              lastUpdatedTime: "t",
              progress: { phase: "gathering", total: 2, succeeded: 1, failed: 0, pending: 1, deadline: `d${x}` },
              outcome: null,
              closedBy: `c${x}` as GatherSummary["closedBy"],
              counts: null,
            } as GatherSummary,
          ],
          colour,
        ),
    ],
    [
      "progressLine",
      (x) =>
        progressLine({
          ...evilStatus(x),
          runtimeStatus: anyStatus(`Running${x}`),
          progress: { ...evilStatus(x).progress!, phase: `gathering${x}` as "gathering", deadline: x },
        }),
    ],
    ["progressLine without progress", (x) => progressLine({ ...evilStatus(x), runtimeStatus: anyStatus(x), progress: null })],
    ["paint", (x) => paint(x, colour)],
    ["short", (x) => short({ v: x }, 1000)],
  ])("%s", (_name, render) => {
    const text = render(EVIL).replace(OWN_COLOURS, "");
    expect(text).not.toMatch(RAW);
    expect(text.toLowerCase()).toContain("\\u009b2j\\u009d0;t\\u009c\\u202e"); // (statuses are lower-cased in progress lines)
    // the server's line feeds (and U+2028/U+2029) break no line: as many lines as with harmless text
    expect(text.split("\n")).toHaveLength(render("x").split("\n").length);
  });

  test("the summary still reads as before: outcome, counts, table, aggregate", () => {
    const text = summary(
      gatherStatus("g1"),
      [{ recipientId: "a", status: "succeeded", value: { price: 1 }, attempts: 1, durationMs: 2 }],
      3,
      plain,
    );
    expect(text).toContain("g1: complete (all-responded) in 500 ms");
    expect(text).toMatch(/a\s+succeeded\s+1\s+2 ms\s+\{"price":1\}/);
    expect(text).toContain("… and 2 more: scatter-gather responses g1");
    expect(text).toContain('aggregate: {"kind":"collect","values":{"a":1},"count":1}');
  });

  test("a progress line counts timed-out and abandoned recipients as settled and names them", () => {
    const progress = { phase: "done" as const, total: 12, succeeded: 8, failed: 0, abandoned: 4, pending: 0, deadline: null };
    expect(progressLine({ ...gatherStatus("g"), runtimeStatus: "Terminated", progress })).toBe(
      "terminated done: 12/12 settled, succeeded 8, failed 0, abandoned 4, pending 0",
    );
  });

  test("a redriven gather's summary says which redrive its time is", () => {
    const redriven = gatherStatus("g1", { result: { ...gatherStatus("g1").result!, redrives: 2 } });
    expect(summary(redriven, [], 0, plain)).toContain("g1: complete (all-responded) in 500 ms (redrive 2)");
    expect(summary(gatherStatus("g1"), [], 0, plain)).not.toContain("redrive");
  });

  test("time to the deadline: seconds, then minutes, hours and days; a line says 'deadline passed', not 'in passed'", () => {
    const at = (ms: number) => new Date(Date.parse("2030-01-01T00:00:00.000Z") + ms).toISOString();
    const now = Date.parse("2030-01-01T00:00:00.000Z");
    expect([4_200, 65_000, 119_700, 7_500_000, 432_000_000 - 30_000].map((ms) => untilDeadline(at(ms), now))).toEqual([
      "4.2s",
      "1m05s",
      "2m00s",
      "2h05m",
      "4d23h",
    ]);
    const running = (deadline: string) =>
      gatherStatus("g", {
        runtimeStatus: "Running",
        result: null,
        progress: { phase: "gathering", total: 1, succeeded: 0, failed: 0, pending: 1, deadline },
      });
    expect(progressLine(running(at(-1)), now)).toMatch(/, deadline passed$/);
    expect(progressLine(running(at(7_500_000)), now)).toMatch(/, deadline in 2h05m$/);
  });

  test("a value cut short is cut between characters, never inside an emoji", () => {
    const cut = short("😀".repeat(40), 10);
    expect(cut).toBe(`"${"😀".repeat(8)}…`); // the JSON string's quote, 8 emoji, the ellipsis: 10 characters
    expect(cut).not.toContain("\uFFFD");
  });

  test("a deadline that is no date reads 'unknown', not NaN", () => {
    expect(untilDeadline("soon")).toBe("unknown");
    expect(summary(gatherStatus("g", { result: { ...gatherStatus("g").result!, closedAt: "later" } }), [], 0, plain)).not.toContain("NaN");
  });

  test("suggested command lines quote what the shell would read otherwise, and keep operands from being options", () => {
    expect(shellWord("abc-123_x.y")).toBe("abc-123_x.y");
    expect(shellWord("a'b $(rm -rf ~); c")).toBe(`'a'\\''b $(rm -rf ~); c'`);
    expect(shellWord("t\u009b2J")).toBe("'t\\u009b2J'");
    expect(shellOperand("--url=http://elsewhere")).toBe("-- --url=http://elsewhere");
  });
});

describe("callback and queue recipients", () => {
  test("the progress line and the responses table say who waits for a reply", () => {
    const status = {
      ...gatherStatus("g1", { runtimeStatus: "Running" }),
      progress: { phase: "gathering", total: 3, succeeded: 1, failed: 0, pending: 2, awaitingReply: 1, deadline: null },
    } as GatherStatus;
    expect(progressLine(status)).toBe(
      "running gathering: 1/3 settled, succeeded 1, failed 0, pending 2 (1 waiting for reply), deadline none",
    );
    const table = responsesTable(
      [
        { recipientId: "cb", status: "pending", waitingFor: "reply" },
        { recipientId: "url", status: "pending" },
      ] as RecipientResponse[],
      plain,
    );
    expect(table.split("\n").map((line) => line.trimEnd())).toEqual([
      "recipient  status                     attempts  duration  value / error",
      "---------  -------------------------  --------  --------  -------------",
      "cb         pending waiting for reply",
      "url        pending",
    ]);
  });
});

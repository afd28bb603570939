import type { AggregationInput } from "../../src/gather/aggregate";
import { DEFAULT_LIMITS, parseAllowlist, readLimits } from "../../src/gather/limits";
import { packOutcomes, type RecipientOutcome } from "../../src/gather/outcomes";
import { newGroupId } from "../../src/payload/keys";
import { batchIdPrefix } from "../../src/gather/instanceIds";
import type { CloseBatchesInput } from "../../src/gather/types";

describe("parseAllowlist", () => {
  test("splits on commas, trims, drops empty entries", () => {
    expect(parseAllowlist(" http://localhost:* ,http://127.0.0.1:*,, ,https://*.example.com ")).toEqual([
      "http://localhost:*",
      "http://127.0.0.1:*",
      "https://*.example.com",
    ]);
  });

  test("undefined or blank is empty", () => {
    expect(parseAllowlist(undefined)).toEqual([]);
    expect(parseAllowlist("")).toEqual([]);
    expect(parseAllowlist("  ,  ")).toEqual([]);
  });
});

describe("readLimits", () => {
  test("defaults of docs/api.md from an empty environment", () => {
    expect(readLimits({})).toEqual({
      maxRecipients: 10000,
      maxResponseBytes: 65536,
      maxRequestBytes: 1048576,
      fanoutBatchSize: 250,
      recipientUrlAllowlist: [],
      recipientQueueAllowlist: [],
      maxAttemptsPerGather: 50000,
      resultInlineBytes: 262144,
    });
    expect(DEFAULT_LIMITS).toEqual(readLimits({}));
  });

  test("blank settings fall back to the defaults", () => {
    expect(readLimits({ MAX_RECIPIENTS: "", MAX_RESPONSE_BYTES: "  " })).toEqual(readLimits({}));
  });

  test("environment overrides", () => {
    expect(
      readLimits({
        MAX_RECIPIENTS: "25",
        MAX_RESPONSE_BYTES: "1024",
        MAX_REQUEST_BYTES: "2048",
        FANOUT_BATCH_SIZE: "7",
        MAX_ATTEMPTS_PER_GATHER: "300",
        RESULT_INLINE_BYTES: "4096",
        RECIPIENT_URL_ALLOWLIST: "http://localhost:*, http://127.0.0.1:*",
        RECIPIENT_QUEUE_ALLOWLIST: "quotes-*, orders",
      }),
    ).toEqual({
      maxRecipients: 25,
      maxResponseBytes: 1024,
      maxRequestBytes: 2048,
      fanoutBatchSize: 7,
      recipientUrlAllowlist: ["http://localhost:*", "http://127.0.0.1:*"],
      recipientQueueAllowlist: ["quotes-*", "orders"],
      maxAttemptsPerGather: 300,
      resultInlineBytes: 4096,
    });
  });

  test.each(["abc", "0", "-1", "1.5", "12abc", "NaN"])("an invalid number %j throws", (raw) => {
    expect(() => readLimits({ MAX_RECIPIENTS: raw })).toThrow(
      `App setting MAX_RECIPIENTS must be a whole number from 1 to 15000, got "${raw}"`,
    );
  });

  test("MAX_RECIPIENTS has a ceiling: every recipient's packed outcome goes to the aggregation in one payload", () => {
    expect(readLimits({ MAX_RECIPIENTS: "15000" }).maxRecipients).toBe(15000);
    expect(() => readLimits({ MAX_RECIPIENTS: "15001" })).toThrow("from 1 to 15000");
  });

  test("at that ceiling, the aggregation's input stays under the scheduler's 1 MiB in the worst case", () => {
    // Widest rows: 10 attempts, 6-digit durations, every answer in a group of its own at a 7-digit offset.
    const n = 15_000;
    const outcomes: RecipientOutcome[] = Array.from({ length: n }, () => ({
      status: "succeeded",
      attempts: 10,
      durationMs: 599_999,
      answer: { group: newGroupId(), offset: 4_194_000, length: 65_536 },
    }));
    const input: AggregationInput = {
      closeKey: `${"i".repeat(100)}@2026-11-23T00:00:00.000Z`,
      run: { instanceId: "i".repeat(100), runId: "20261123T000000000Z-abcdef" },
      spec: { kind: "best", field: "quote.price.amount", order: "min" },
      plan: { kind: "best", field: "quote.price.amount", order: "min", index: 0 },
      outcomes: packOutcomes(outcomes),
      summary: {
        id: "i".repeat(100),
        outcome: "complete",
        closedBy: "all-responded",
        startedAt: "2026-11-23T00:00:00.000Z",
        closedAt: "2026-11-23T00:10:00.000Z",
        counts: { total: n, succeeded: n, failed: 0, timedOut: 0, abandoned: 0 },
        responsesUri: `https://${"h".repeat(60)}.azurewebsites.net/api/scatter-gather/${"i".repeat(100)}/responses`,
      },
      report: { mode: "all", auction: false },
    };
    const bytes = Buffer.byteLength(JSON.stringify(input), "utf8");
    expect(bytes).toBeLessThan(1_048_576 * 0.85); // with room to spare
  });

  test.each(["MAX_RESPONSE_BYTES", "MAX_REQUEST_BYTES", "MAX_ATTEMPTS_PER_GATHER"])("%s is validated too", (name) => {
    expect(() => readLimits({ [name]: "zero" })).toThrow(
      `App setting ${name} must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}, got "zero"`,
    );
  });

  test("FANOUT_BATCH_SIZE and RESULT_INLINE_BYTES have ceilings: a batch's and the output's payloads must fit the scheduler's 1 MiB", () => {
    expect(() => readLimits({ FANOUT_BATCH_SIZE: "zero" })).toThrow(
      'App setting FANOUT_BATCH_SIZE must be a whole number from 1 to 1000, got "zero"',
    );
    expect(() => readLimits({ FANOUT_BATCH_SIZE: "1001" })).toThrow("from 1 to 1000");
    expect(readLimits({ FANOUT_BATCH_SIZE: "1000" }).fanoutBatchSize).toBe(1000);
    expect(() => readLimits({ RESULT_INLINE_BYTES: "524289" })).toThrow("from 1 to 524288");
  });

  test("closing every batch at FANOUT_BATCH_SIZE 1 and the largest MAX_RECIPIENTS: closeBatches' input names batches by number, well under 1 MiB", () => {
    const most = readLimits({ MAX_RECIPIENTS: "15000" }).maxRecipients; // the setting's ceiling
    const id = "g".repeat(100); // the longest id the backends take
    const input: CloseBatchesInput = {
      requestId: id,
      batchIdPrefix: batchIdPrefix(id, "20261207T000000000Z-aaaaaa"),
      batches: Array.from({ length: most }, (_, i) => i),
      closeKey: `${id}@2026-12-07T00:00:00.000Z`,
    };
    const bytes = Buffer.byteLength(JSON.stringify(input), "utf8");
    expect(bytes).toBeLessThan(128 * 1024); // ~6 bytes a batch: measured, not assumed
    expect(bytes).toBeGreaterThan(most * 4);
  });
});

import {
  batchIdPrefixOf,
  batchIdPrefix,
  batchInstanceId,
  isBatchId,
  isInstanceId,
  MAX_INSTANCE_ID_LENGTH,
  notifyInstanceId,
} from "../../src/gather/instanceIds";
import { newRunId } from "../../src/payload";

describe("instance ids", () => {
  const longest = "a".repeat(MAX_INSTANCE_ID_LENGTH);

  test("client ids: 1-100 of the alphabet, not only dots", () => {
    expect(isInstanceId(longest)).toBe(true);
    expect(isInstanceId(`${longest}a`)).toBe(false);
    expect(isInstanceId("..")).toBe(false);
    expect(isInstanceId("a~b")).toBe(false);
  });

  test("every batch id of every accepted client id is at most 100 characters, and still a batch id", () => {
    const runId = newRunId();
    for (const id of ["g", "x".repeat(79), "y".repeat(80), longest, "a.b:c_d-e".repeat(11).slice(0, 100)]) {
      const prefix = batchIdPrefix(id, runId);
      for (const n of [0, 59, 14_999]) {
        const batchId = batchInstanceId(id, prefix, n);
        expect(batchId.length).toBeLessThanOrEqual(MAX_INSTANCE_ID_LENGTH);
        expect(isBatchId(batchId)).toBe(true);
        expect(isInstanceId(batchId)).toBe(false);
      }
    }
  });

  test("short ids stay readable; long ones keep their head and a hash of the whole id", () => {
    expect(batchIdPrefix("quotes-7", "run-1")).toMatch(/^quotes-7~batch-[0-9a-f]{8}-$/);
    const a = batchIdPrefix(`${"p".repeat(90)}a`, "run-1");
    const b = batchIdPrefix(`${"p".repeat(90)}b`, "run-1");
    expect(a.startsWith("p".repeat(60))).toBe(true);
    expect(a).not.toBe(b);
  });

  test("two runs of one id get different batch ids; one run always the same", () => {
    expect(batchIdPrefix("g1", "run-1")).toBe(batchIdPrefix("g1", "run-1"));
    expect(batchIdPrefix("g1", "run-1")).not.toBe(batchIdPrefix("g1", "run-2"));
    expect(batchIdPrefix(longest, "run-1")).not.toBe(batchIdPrefix(longest, "run-2"));
  });

  test("the close event's delivery instance: per run, at most 100 characters, never a client's id", () => {
    for (const id of ["g", longest]) {
      const notify = notifyInstanceId(id, "run-1");
      expect(notify.length).toBeLessThanOrEqual(MAX_INSTANCE_ID_LENGTH);
      expect(notify).toMatch(/~notify-[0-9a-f]{8}$/);
      expect(isInstanceId(notify)).toBe(false);
      expect(notify).not.toBe(notifyInstanceId(id, "run-2"));
    }
  });

  test("instances started before run tags keep their batch ids", () => {
    expect(batchInstanceId("g1", undefined, 3)).toBe("g1~batch-3");
  });

  test("a batch's id gives back the prefix it was made from, for every id shape (long, ending in digits, legacy)", () => {
    const runId = newRunId();
    for (const id of ["g", "order-2026", "x".repeat(100), `${"7".repeat(99)}9`]) {
      const prefix = batchIdPrefix(id, runId);
      for (const n of [0, 9, 14_999]) expect(batchIdPrefixOf(batchInstanceId(id, prefix, n))).toBe(prefix);
      expect(batchIdPrefixOf(batchInstanceId(id, undefined, 12))).toBe(`${id}~batch-`); // before run tags
    }
  });
});

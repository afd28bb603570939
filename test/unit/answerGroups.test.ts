/**
 * Answer groups (src/gather/answerGroups.ts) on the in-memory store, behind a store that counts its
 * calls and can hold group writes in flight (or fail them) on demand: a lone answer is written at once,
 * answers arriving while writes are in flight share a group within the limits, and every ref reads back
 * exactly its own answer, by byte range or group by group (RunPayloads).
 */
import { AnswerGroupWriter, formatDirectory, parseDirectory, type AnswerGroupLimits, type AnswerRef } from "../../src/gather/answerGroups";
import { AnswerUnreadableError, RunPayloads, type StoredAnswer } from "../../src/gather/runPayloads";
import type { Json, RunRef } from "../../src/gather/types";
import { answerGroupOf, gatherKeys } from "../../src/payload/keys";
import { MemoryPayloadStore } from "../../src/payload/memoryStore";
import type { BlobRef, GetOptions, ListOptions, PayloadStore, PutOptions, PutResult, ReadAllOptions } from "../../src/payload/store";

/** A MemoryPayloadStore that counts puts and reads, and holds or fails puts when told to. */
class ControlledStore implements PayloadStore {
  readonly container = "controlled";
  readonly inner = new MemoryPayloadStore();
  /** Every putText call, in call order: its key and its metadata. */
  readonly puts: { key: string; metadata?: Record<string, string> }[] = [];
  /** Keys read: whole (getText) or in part (getRange, getJsonRange), one entry per request. */
  readonly texts: string[] = [];
  /** Of those, the getJsonRange requests (one answer each). */
  readonly singleReads: string[] = [];
  /** putText calls (1-based numbers) that fail, after any hold. */
  readonly failing = new Set<number>();
  private gate: { promise: Promise<void>; open: () => void } | undefined;

  /** From now on, putText waits until release(). */
  hold(): void {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.gate = { promise, open };
  }

  /** Lets every held putText go on; later ones are no longer held. */
  release(): void {
    this.gate?.open();
    this.gate = undefined;
  }

  async putText(key: string, text: string | Uint8Array | readonly Uint8Array[], options?: PutOptions): Promise<PutResult> {
    const call = this.puts.push({ key, ...(options?.metadata ? { metadata: options.metadata } : {}) });
    if (this.gate) await this.gate.promise;
    if (this.failing.has(call)) throw new Error(`put ${call} failed`);
    return this.inner.putText(key, text, options);
  }

  putJson(key: string, value: unknown, options?: PutOptions): Promise<PutResult> {
    return this.inner.putJson(key, value, options);
  }

  getJson<T = unknown>(keyOrRef: string | BlobRef, options?: GetOptions): Promise<T> {
    return this.inner.getJson<T>(keyOrRef, options);
  }

  getJsonRange<T = unknown>(key: string, offset: number, length: number): Promise<T> {
    this.texts.push(key);
    this.singleReads.push(key);
    return this.inner.getJsonRange<T>(key, offset, length);
  }

  getRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    this.texts.push(key);
    return this.inner.getRange(key, offset, length);
  }

  getText(keyOrRef: string | BlobRef, _options?: GetOptions): Promise<string> {
    this.texts.push(typeof keyOrRef === "string" ? keyOrRef : keyOrRef.key);
    return this.inner.getText(keyOrRef);
  }

  stat(key: string): Promise<BlobRef | undefined> {
    return this.inner.stat(key);
  }

  list(prefix: string, options?: ListOptions): AsyncIterable<BlobRef> {
    return this.inner.list(prefix, options);
  }

  readAll<T = unknown>(prefix: string, options?: ReadAllOptions): AsyncIterable<{ ref: BlobRef; value: T }> {
    return this.inner.readAll<T>(prefix, options);
  }

  deleteByPrefix(prefix: string): Promise<number> {
    return this.inner.deleteByPrefix(prefix);
  }
}

const RUN: RunRef = { instanceId: "order-42", runId: "run-1" };
const KEYS = gatherKeys(RUN.instanceId, RUN.runId);

/** A value's UTF-8 JSON, as callRecipient hands it to the writer. */
const utf8 = (value: Json): Buffer => Buffer.from(JSON.stringify(value), "utf8");

/** Settles every pending promise callback (group writes finishing, the next groups starting). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Answers by group id, in ref order. */
function byGroup(refs: readonly AnswerRef[]): Map<string, AnswerRef[]> {
  const groups = new Map<string, AnswerRef[]>();
  for (const ref of refs) groups.set(ref.group, [...(groups.get(ref.group) ?? []), ref]);
  return groups;
}

/** A writer with small limits (one write in flight unless told otherwise). */
function writerWith(store: PayloadStore, limits: Partial<AnswerGroupLimits>): AnswerGroupWriter {
  return new AnswerGroupWriter(store, { maxInFlight: 1, maxAnswers: 256, maxBytes: 1 << 20, ...limits });
}

/** The line the writer stores for an answer with only a recipient id. */
function lineOf(index: number, recipientId: string, value: Json): string {
  return JSON.stringify({ index, recipientId, value });
}

describe("AnswerGroupWriter: grouping", () => {
  test("a lone write goes to the store at once, in its own group; its ref reads back exactly the stored answer", async () => {
    const store = new ControlledStore();
    const payloads = new RunPayloads(store, RUN);
    const pending = payloads.storeAnswer(3, { recipientId: "acme", attempts: 2, durationMs: 17 }, utf8({ price: 40 }));
    expect(store.puts).toHaveLength(1); // no wait added: the put started within the call
    const ref = await pending;
    const line = JSON.stringify({ index: 3, recipientId: "acme", attempts: 2, durationMs: 17, value: { price: 40 } });
    expect(ref).toEqual({ group: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/), offset: 0, length: Buffer.byteLength(line) });
    expect(store.puts[0].key).toBe(KEYS.answerGroup(ref.group));
    expect(store.puts[0].metadata).toEqual({ answers: formatDirectory([{ index: 3, ...ref }]) });
    expect(await store.inner.getText(KEYS.answerGroup(ref.group))).toBe(line);
    expect(await payloads.answer(ref)).toEqual({ index: 3, recipientId: "acme", attempts: 2, durationMs: 17, value: { price: 40 } });
    // a second lone write is a group of its own too
    const other = await payloads.storeAnswer(4, { recipientId: "beta" }, utf8(null));
    expect(other.group).not.toBe(ref.group);
    expect(await payloads.answer(other)).toEqual({ index: 4, recipientId: "beta", value: null });
    expect(store.puts).toHaveLength(2);
  });

  test("answers arriving while 4 writes are in flight are grouped: 54 answers, a handful of writes, every ref its own value", async () => {
    const store = new ControlledStore();
    const payloads = new RunPayloads(store, RUN);
    store.hold();
    const refs: Promise<AnswerRef>[] = [];
    const add = (index: number) => refs.push(payloads.storeAnswer(index, { recipientId: `r${index}` }, utf8({ index, p: index * 1.5 })));
    for (let i = 0; i < 4; i++) add(i);
    expect(store.puts).toHaveLength(4); // four in flight, each alone
    for (let i = 4; i < 54; i++) add(i);
    await settle();
    expect(store.puts).toHaveLength(4); // the 50 others wait: never more than 4 writes in flight per run
    store.release();
    const stored = await Promise.all(refs);
    expect(store.puts.length).toBeLessThanOrEqual(8); // far below one write per answer
    const groups = byGroup(stored);
    expect(groups.size).toBe(store.puts.length);
    for (let i = 0; i < 4; i++) expect(groups.get(stored[i].group)).toHaveLength(1);
    for (const [i, ref] of stored.entries()) {
      expect(await payloads.answer(ref)).toEqual({ index: i, recipientId: `r${i}`, value: { index: i, p: i * 1.5 } });
    }
    // every group blob lists exactly its answers, in its metadata
    for (const [group, members] of groups) {
      const put = store.puts.find((p) => p.key === KEYS.answerGroup(group));
      const listed = parseDirectory(group, put?.metadata);
      expect([...listed.values()].sort((a, b) => a.offset - b.offset)).toEqual(members.slice().sort((a, b) => a.offset - b.offset));
    }
  });

  test("another run's writes are not held by this run's writes in flight", async () => {
    const store = new ControlledStore();
    const writer = writerWith(store, { maxInFlight: 1 });
    store.hold();
    const first = writer.write(KEYS, 0, { recipientId: "a" }, utf8(1));
    const waiting = writer.write(KEYS, 1, { recipientId: "b" }, utf8(2));
    const otherRun = writer.write(gatherKeys("order-43", "run-1"), 0, { recipientId: "c" }, utf8(3));
    expect(store.puts.map((p) => p.key.split("/")[0])).toEqual(["order-42", "order-43"]);
    store.release();
    await Promise.all([first, waiting, otherRun]);
    expect(store.puts).toHaveLength(3);
  });
});

describe("AnswerGroupWriter: limits", () => {
  /** Holds a first write in flight, queues `values` (index i+1), releases; the refs of the queued ones. */
  async function queued(limits: Partial<AnswerGroupLimits>, values: { index: number; value: Json }[]) {
    const store = new ControlledStore();
    const writer = writerWith(store, limits);
    store.hold();
    const first = writer.write(KEYS, 0, { recipientId: "first" }, utf8("first"));
    const refs = values.map(({ index, value }) => writer.write(KEYS, index, { recipientId: `r${index}` }, utf8(value)));
    store.release();
    await first;
    return { store, refs: await Promise.all(refs), payloads: new RunPayloads(store, RUN) };
  }

  test("maxAnswers splits the waiting answers into groups of at most that many", async () => {
    const values = Array.from({ length: 7 }, (_, i) => ({ index: i + 1, value: `v${i + 1}` }));
    const { store, refs, payloads } = await queued({ maxAnswers: 3 }, values);
    expect([...byGroup(refs).values()].map((members) => members.length)).toEqual([3, 3, 1]);
    expect(store.puts).toHaveLength(4); // the first write, then three groups
    for (const [i, ref] of refs.entries()) expect(await payloads.answer(ref)).toMatchObject({ index: i + 1, value: `v${i + 1}` });
  });

  test("maxBytes bounds a group's bytes (lines and newlines); an answer larger than maxBytes is written alone", async () => {
    const small = (index: number) => ({ index, value: "s".repeat(20) });
    const lineBytes = Buffer.byteLength(lineOf(1, "r1", "s".repeat(20)));
    const maxBytes = 2 * lineBytes + 1; // two lines and their newline fit, a third does not
    const values = [small(1), { index: 2, value: "B".repeat(3 * maxBytes) }, small(3), small(4), small(5)];
    const { store, refs, payloads } = await queued({ maxBytes }, values);
    const groups = byGroup(refs);
    for (const [group, members] of groups) {
      const blob = await store.inner.stat(KEYS.answerGroup(group));
      expect(blob?.bytes).toBe(members.reduce((sum, m) => sum + m.length, 0) + members.length - 1);
      if (members.some((m) => m.length > maxBytes)) expect(members).toHaveLength(1);
      else expect(blob!.bytes).toBeLessThanOrEqual(maxBytes);
    }
    const big = refs[1];
    expect(groups.get(big.group)).toEqual([big]);
    expect(big).toMatchObject({ offset: 0, length: Buffer.byteLength(lineOf(2, "r2", "B".repeat(3 * maxBytes))) });
    // the small ones share groups of two: 1+3 and 4+5 (never more than maxBytes, never with the big one)
    expect([...groups.values()].map((members) => members.length).sort()).toEqual([1, 2, 2]);
    for (const [i, ref] of refs.entries()) expect(await payloads.answer(ref)).toMatchObject(values[i]);
  });

  test("the same index never appears twice in one group: a repeated answer goes to the next group", async () => {
    const { store, refs, payloads } = await queued({}, [
      { index: 5, value: "first run" },
      { index: 5, value: "second run" },
      { index: 6, value: "six" },
    ]);
    const [a, b, six] = refs;
    expect(a.group).not.toBe(b.group);
    expect(six.group).toBe(a.group); // later answers still join the open group
    expect(await payloads.answer(a)).toMatchObject({ index: 5, value: "first run" });
    expect(await payloads.answer(b)).toMatchObject({ index: 5, value: "second run" });
    for (const put of store.puts) {
      const indexes = (put.metadata?.answers ?? "").split(",").map((entry) => entry.split(".")[0]);
      expect(new Set(indexes).size).toBe(indexes.length);
    }
    expect(store.puts).toHaveLength(3);
  });
});

describe("AnswerGroupWriter: a failing group write", () => {
  test("rejects every answer of that group; the writes before and after it succeed", async () => {
    const store = new ControlledStore();
    const writer = writerWith(store, { maxInFlight: 1 });
    const payloads = new RunPayloads(store, RUN);
    store.hold();
    store.failing.add(2);
    const first = writer.write(KEYS, 0, { recipientId: "a" }, utf8("a"));
    const doomed = [1, 2, 3].map((i) => writer.write(KEYS, i, { recipientId: `r${i}` }, utf8(i)));
    store.release();
    const settled = await Promise.allSettled(doomed);
    expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected", "rejected"]);
    for (const s of settled) expect((s as PromiseRejectedResult).reason).toEqual(new Error("put 2 failed"));
    expect(await payloads.answer(await first)).toMatchObject({ index: 0, value: "a" });
    expect(store.puts).toHaveLength(2);

    // the writer carries on: a later answer (a retry of a failed one) is stored and read back
    const retried = await writer.write(KEYS, 2, { recipientId: "r2" }, utf8(2));
    expect(await payloads.answer(retried)).toMatchObject({ index: 2, recipientId: "r2", value: 2 });
    // the failed group left nothing behind: only the two good groups are listed
    expect((await payloads.storedAnswers()).size).toBe(2);
  });

  test("a store that throws synchronously rejects the answers too, and does not jam the run's queue", async () => {
    const store = new ControlledStore();
    const original = store.putText.bind(store);
    let throwNow = true;
    store.putText = (key, text, options) => {
      if (throwNow) throw new Error("sync failure");
      return original(key, text, options);
    };
    const writer = writerWith(store, { maxInFlight: 1 });
    await expect(writer.write(KEYS, 0, { recipientId: "a" }, utf8(0))).rejects.toThrow("sync failure");
    throwNow = false;
    const ref = await writer.write(KEYS, 0, { recipientId: "a" }, utf8(0));
    expect(await new RunPayloads(store, RUN).answer(ref)).toMatchObject({ index: 0, value: 0 });
  });
});

describe("the group directory (blob metadata)", () => {
  test("formatDirectory / parseDirectory round trip, in base 36", () => {
    const entries = [
      { index: 0, group: "g1", offset: 0, length: 40 },
      { index: 35, group: "g1", offset: 41, length: 36 },
      { index: 123_456, group: "g1", offset: 1_000_000, length: 65_536 },
    ];
    const directory = formatDirectory(entries);
    expect(directory).toBe("0.0.14,z.15.10,2n9c.lfls.1ekg");
    expect(directory).toMatch(/^[0-9a-z.,]+$/); // printable ASCII: a valid metadata value
    const parsed = parseDirectory("g1", { answers: directory });
    expect(parsed).toEqual(new Map(entries.map(({ index, ...ref }) => [index, ref])));
    expect(parseDirectory("other", { answers: directory }).get(35)).toEqual({ group: "other", offset: 41, length: 36 });
  });

  test("garbage entries are ignored; no directory, no metadata: an empty map", () => {
    const parsed = parseDirectory("g", { answers: "1.2.3,,x,4.5,-1.0.5,!.1.2,6..8,7.8.-9,a.b.c" });
    expect(parsed).toEqual(
      new Map([
        [1, { group: "g", offset: 2, length: 3 }],
        [10, { group: "g", offset: 11, length: 12 }],
      ]),
    );
    expect(parseDirectory("g", undefined)).toEqual(new Map());
    expect(parseDirectory("g", {})).toEqual(new Map());
    expect(parseDirectory("g", { answers: "" })).toEqual(new Map());
    expect(parseDirectory("g", { other: "1.2.3" })).toEqual(new Map());
  });

  test("RunPayloads.storedAnswers: every index stored so far, from one listing, each ref reading its value", async () => {
    const store = new ControlledStore();
    const payloads = new RunPayloads(store, RUN);
    store.hold();
    const pending = Array.from({ length: 12 }, (_, i) => payloads.storeAnswer(i, { recipientId: `r${i}` }, utf8(`value ${i}`)));
    store.release();
    const refs = await Promise.all(pending);
    // blobs under the answers folder that are not groups, or groups of another run, are not answers
    await store.inner.putText(`${KEYS.answersPrefix}000000001.json`, "{}");
    await new RunPayloads(store, { instanceId: RUN.instanceId, runId: "run-2" }).storeAnswer(99, { recipientId: "x" }, utf8(0));

    const stored = await payloads.storedAnswers();
    expect([...stored.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    for (const [index, ref] of stored) {
      expect(ref).toEqual(refs[index]);
      expect(answerGroupOf(KEYS.answerGroup(ref.group))).toBe(ref.group);
      expect(await payloads.answer(ref)).toEqual({ index, recipientId: `r${index}`, value: `value ${index}` });
    }
    expect(byGroup(refs).size).toBeLessThan(12); // some answers did share a group
    expect(await new RunPayloads(store, { instanceId: "nobody", runId: "r" }).storedAnswers()).toEqual(new Map());
  });
});

describe("reading answers back", () => {
  test("RunPayloads.answersAt: answers in refs order, one request per group; a missing group is an error naming it", async () => {
    const store = new ControlledStore();
    const payloads = new RunPayloads(store, RUN);
    store.hold();
    const pending = Array.from({ length: 6 }, (_, i) => payloads.storeAnswer(i, { recipientId: `r${i}` }, utf8({ i })));
    store.release();
    const refs = await Promise.all(pending);
    const groups = byGroup(refs).size;
    expect(groups).toBeLessThan(6);

    const order = [5, 0, 3, 1, 5, 2, 4];
    store.texts.length = 0;
    const answers = await payloads.answersAt(order.map((i) => refs[i]));
    expect(answers.map((a) => a?.value)).toEqual(order.map((i) => ({ i })));
    expect(answers.map((a) => a?.recipientId)).toEqual(order.map((i) => `r${i}`));
    expect(store.texts).toHaveLength(groups);
    expect(new Set(store.texts).size).toBe(groups);

    // never a silent undefined (read as a null value): an error naming the blob and the answer's range
    const missing: AnswerRef = { group: "nogroup", offset: 120, length: 10 };
    const message = `stored answer '${KEYS.answerGroup("nogroup")}' (10 bytes at offset 120) cannot be read: the blob does not exist`;
    await expect(payloads.answersAt([refs[0], missing])).rejects.toThrow(message);
    await expect(payloads.answer(missing)).rejects.toBeInstanceOf(AnswerUnreadableError);
    await expect(payloads.answer(missing)).rejects.toMatchObject({ key: KEYS.answerGroup("nogroup"), range: missing });
    expect(await payloads.answersAt([])).toEqual([]);
  });

  test("RunPayloads.readAnswers: each answer read or marked with why not, in refs order; a store failure is thrown", async () => {
    const store = new ControlledStore();
    const payloads = new RunPayloads(store, RUN);
    store.hold();
    const pending = Array.from({ length: 4 }, (_, i) => payloads.storeAnswer(i, { recipientId: `r${i}` }, utf8({ i })));
    store.release();
    const refs = await Promise.all(pending);
    const missing: AnswerRef = { group: "gone", offset: 0, length: 12 };
    const reads = await payloads.readAnswers([refs[3], missing, refs[0]]);
    expect(reads.map((r) => r.answer?.value)).toEqual([{ i: 3 }, undefined, { i: 0 }]);
    expect(reads[1].error).toBeInstanceOf(AnswerUnreadableError);
    expect(reads[1].error?.message).toContain(`'${KEYS.answerGroup("gone")}' (12 bytes at offset 0)`);

    // a store that fails (after its own retries) is no missing answer: the read fails as a whole
    jest.spyOn(store, "getRange").mockRejectedValue(new Error("connect ECONNREFUSED"));
    jest.spyOn(store, "getJsonRange").mockRejectedValue(new Error("connect ECONNREFUSED"));
    await expect(payloads.readAnswers(refs)).rejects.toThrow("ECONNREFUSED");
    await expect(payloads.readAnswers([refs[0]])).rejects.toThrow("ECONNREFUSED");
  });

  test("a group blob shorter than its answers' ranges: the answers it still holds are read, the others name the range", async () => {
    const store = new ControlledStore();
    const payloads = new RunPayloads(store, RUN);
    const lines = [0, 1, 2].map((i) => lineOf(i, `r${i}`, { i }));
    const refs: AnswerRef[] = [];
    let offset = 0;
    for (const line of lines) {
      refs.push({ group: "cut", offset, length: Buffer.byteLength(line) });
      offset += Buffer.byteLength(line) + 1;
    }
    // what a crash may leave: the blob ends inside the third answer
    const whole = lines.join("\n");
    await store.inner.putText(KEYS.answerGroup("cut"), whole.slice(0, whole.length - 5));
    store.texts.length = 0;
    const reads = await payloads.readAnswers(refs);
    expect(reads.slice(0, 2).map((r) => r.answer?.value)).toEqual([{ i: 0 }, { i: 1 }]);
    expect(reads[2].error?.message).toBe(
      `stored answer '${KEYS.answerGroup("cut")}' (${refs[2].length} bytes at offset ${refs[2].offset}) cannot be read: ` +
        `the blob holds only ${refs[2].length - 5} of the ${refs[2].length} bytes at offset ${refs[2].offset}`,
    );
    expect(store.texts).toHaveLength(4); // the span, then each answer on its own
  });

  test("auction answers: read by responder, a missing one named", async () => {
    const store = new ControlledStore();
    const payloads = new RunPayloads(store, RUN);
    await payloads.storeAuctionAnswer("b1", { recipientId: "b1", value: 7 });
    const reads = await payloads.readAuctionAnswers(["b1", "b2"]);
    expect(reads[0].answer).toEqual({ recipientId: "b1", value: 7 });
    expect(reads[1].error?.message).toBe(
      `stored answer '${KEYS.prefix}auction/b2.json' cannot be read: the blob does not exist (in container 'memory')`,
    );
    await expect(payloads.auctionAnswer("b2")).rejects.toBeInstanceOf(AnswerUnreadableError);
  });

  test("RunPayloads.answersAt: small answers around a big one in their group are read one by one, not with it", async () => {
    const store = new ControlledStore();
    const payloads = new RunPayloads(store, RUN);
    const writer = writerWith(store, { maxInFlight: 1, maxBytes: 1_048_576 });
    store.hold();
    const first = writer.write(KEYS, 0, { recipientId: "r0" }, utf8("alone"));
    const grouped = [
      writer.write(KEYS, 1, { recipientId: "r1" }, utf8(1)),
      writer.write(KEYS, 2, { recipientId: "r2" }, utf8("x".repeat(300_000))),
      writer.write(KEYS, 3, { recipientId: "r3" }, utf8(3)),
    ];
    store.release();
    await first;
    const [small1, big, small3] = await Promise.all(grouped);
    expect(new Set([small1.group, big.group, small3.group]).size).toBe(1);
    store.texts.length = 0;
    expect((await payloads.answersAt([small1, small3])).map((a) => a?.value)).toEqual([1, 3]);
    expect(store.singleReads).toHaveLength(2); // the span would carry 300 KB for two tiny answers
    expect(store.texts).toHaveLength(2);
    store.texts.length = 0;
    store.singleReads.length = 0;
    // all three: the span is what they weigh, one request
    expect(
      (await payloads.answersAt([small1, big, small3])).map((a) => (typeof a?.value === "string" ? a.value.length : a?.value)),
    ).toEqual([1, 300_000, 3]);
    expect(store.texts).toHaveLength(1);
    expect(store.singleReads).toHaveLength(0);
  });

  test("non-ASCII values and ids keep exact byte offsets", async () => {
    const store = new ControlledStore();
    const payloads = new RunPayloads(store, RUN);
    const writer = writerWith(store, { maxInFlight: 1 });
    const values: Json[] = ["ü€😀", { name: "Zürich €", tags: ["😀", "ü"] }, "plain", ["€".repeat(100)]];
    store.hold();
    const pending = values.map((value, i) => writer.write(KEYS, i, { recipientId: `Zürich-${i}-😀` }, utf8(value)));
    store.release();
    const refs = await Promise.all(pending);
    const lines = values.map((value, i) => lineOf(i, `Zürich-${i}-😀`, value));
    for (const [i, ref] of refs.entries()) expect(ref.length).toBe(Buffer.byteLength(lines[i], "utf8"));
    // the three answers queued behind the first share one group, one line after the other
    const [, second, third, fourth] = refs;
    expect(second.group === third.group && third.group === fourth.group).toBe(true);
    expect(third.offset).toBe(second.offset + second.length + 1);
    expect(fourth.offset).toBe(third.offset + third.length + 1);
    const blob = Buffer.from(await store.inner.getText(KEYS.answerGroup(second.group)), "utf8");
    for (const i of [1, 2, 3]) expect(blob.subarray(refs[i].offset, refs[i].offset + refs[i].length).toString("utf8")).toBe(lines[i]);

    for (const [i, ref] of refs.entries()) {
      expect(await payloads.answer(ref)).toEqual<StoredAnswer & { index: number }>({
        index: i,
        recipientId: `Zürich-${i}-😀`,
        value: values[i],
      });
    }
    expect((await payloads.answersAt(refs)).map((a) => a?.value)).toEqual(values);
  });

  test("the value is stored as the bytes given (as received), not re-serialized", async () => {
    const store = new ControlledStore();
    const payloads = new RunPayloads(store, RUN);
    const received = Buffer.from('{ "price" : 40.50, "note": "\\u00fc" }', "utf8");
    const ref = await payloads.storeAnswer(0, { recipientId: "a" }, received);
    const text = await store.inner.getText(KEYS.answerGroup(ref.group));
    expect(text).toBe(`{"index":0,"recipientId":"a","value":${received.toString("utf8")}}`);
    expect(await payloads.answer(ref)).toMatchObject({ value: { price: 40.5, note: "ü" } });
  });
});

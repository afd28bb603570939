/** Reading a byte stream under a size cap: request bodies (src/http/body.ts) and recipients' answers (deliver.ts). */

/**
 * The whole stream when it holds at most `maxBytes`; undefined as soon as it holds more, having read
 * no further than the chunk that crossed the limit and cancelled the rest.
 */
export async function readAtMost(stream: AsyncIterable<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | undefined> {
  if (!stream) return new Uint8Array(0);
  // Web streams (request bodies) and Node streams (undici's answer bodies) are both async iterables;
  // return() cancels a web stream and destroys a Node one.
  const chunks = stream[Symbol.asyncIterator]();
  const kept: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await chunks.next();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Not awaited: a sender that stalls must not hold the refusal back.
      chunks.return?.().catch(() => undefined);
      return undefined;
    }
    kept.push(value);
  }
  // One chunk is used as it is: every 64 KB copy of an answer is external memory that hastens a full collection.
  return kept.length === 1 ? kept[0] : Buffer.concat(kept, size);
}

/** Reading a byte stream under a size cap: request bodies (src/http/body.ts) and recipients' answers (deliver.ts). */

/**
 * The whole stream when it holds at most `maxBytes`; undefined as soon as it holds more, having read
 * no further than the chunk that crossed the limit and cancelled the rest.
 */
export async function readAtMost(stream: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | undefined> {
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Not awaited: a sender that stalls must not hold the refusal back.
      reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * What durable history keeps of an answer: the few facts the completion policy and the aggregation
 * need, never the value itself (the value lives in the payload store). Bounded whatever the answer:
 * a size, two digests of 22 characters and a number.
 */
import { createHash } from "node:crypto";
import { canonicalJson, getPath } from "./json";
import type { AggregateSpec, Json } from "./spec";

export interface AnswerFacts {
  /** UTF-8 size of the value's JSON. */
  bytes: number;
  /** Digest of the whole value (deep JSON equality), when the policy counts agreeing answers. */
  digest?: string;
  /** The number at aggregate.field, for best and summary. */
  score?: number;
  /** Digest of the voted value (the value at aggregate.field, or the whole value), for vote. */
  vote?: string;
}

/** Which facts a gather needs: set once per gather, handed to every call. */
export interface FactSpec {
  agree: boolean;
  aggregate: AggregateSpec;
}

function digestOf(value: Json | undefined): string {
  return createHash("sha256").update(canonicalJson(value)).digest("base64url").slice(0, 22);
}

/** `bytes`: the value's JSON size when the caller has serialized it already. */
export function answerFacts(value: Json, spec: FactSpec, bytes?: number): AnswerFacts {
  const facts: AnswerFacts = { bytes: bytes ?? Buffer.byteLength(JSON.stringify(value), "utf8") };
  if (spec.agree) facts.digest = digestOf(value);
  const { kind, field } = spec.aggregate;
  if (kind === "best" || kind === "summary") {
    const at = getPath(value, field);
    if (typeof at === "number" && Number.isFinite(at)) facts.score = at;
  } else if (kind === "vote") {
    const at = getPath(value, field);
    if (at !== undefined) facts.vote = digestOf(at);
  }
  return facts;
}

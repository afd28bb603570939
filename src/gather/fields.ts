/**
 * zod building blocks shared by the request schema (schema.ts) and the transports' fragments
 * (transports/): each carries the error message docs/api.md's 400 answers show.
 */
import { z } from "zod";

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export const jsonValue = z.unknown().refine((v) => v !== undefined, { error: "is required (any JSON value, null included)" });
export const optionalJson = z.unknown().optional();
export const int = (min: number, max: number) =>
  z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });
export const httpUrl = z.string({ error: "must be a string" }).refine(
  (v) => {
    try {
      const u = new URL(v);
      return u.protocol === "http:" || u.protocol === "https:";
    } catch {
      return false;
    }
  },
  { error: "must be an absolute http or https URL" },
);
export const recipientId = z
  .string({ error: "must be a string" })
  .regex(ID_PATTERN, { error: "must be 1-128 characters of A-Z a-z 0-9 . _ : -" });

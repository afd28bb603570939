/**
 * Key layout of the payload container, one folder per orchestration instance:
 *
 *   <instanceId>/<runId>/request.json            the gather's `request`, written once by the starter
 *   <instanceId>/<runId>/answers/<group>.json    answer groups: the answers one worker stored together
 *                                                (answerGroups.ts), each blob's metadata naming its indexes
 *   <instanceId>/<runId>/result.json             the full result (what GET returns)
 *   <instanceId>/<runId>/loans/<n>.json          the window share lending n of a windowed gather lent (lendShares)
 *
 * `<runId>` is there because a finished instance id may be started again (API.md) while blobs are
 * create-once and cached by key: each start writes under its own run folder (newRunId() in the starter,
 * carried in the orchestration input), so a second run never sees the first run's request. Deleting
 * `instancePrefix(id)` removes every run of an instance (DELETE /api/scatter-gather/{id}).
 *
 * Instance ids are `A-Z a-z 0-9 . _ : -` (schema.ts), all valid in blob names; a segment made only of
 * dots would be collapsed by URL normalisation, so its dots are written as %2E.
 */
import { randomBytes } from "node:crypto";

/** Width of zero-padded numbers in keys (auction arrival chunks): key order equals number order. */
export const INDEX_DIGITS = 9;
/** Azure's limit on blob name length. */
const MAX_KEY_LENGTH = 1024;

/** Answer group ids: what newGroupId() makes (and nothing that could leave the answers folder). */
const GROUP_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface GatherKeys {
  /** `<instanceId>/<runId>/`: everything of this run. */
  readonly prefix: string;
  readonly request: string;
  readonly result: string;
  /** `<instanceId>/<runId>/answers/`: every answer group of the run. */
  readonly answersPrefix: string;
  /** The blob of one answer group (`group`: a random id, see answerGroups.ts). */
  answerGroup(group: string): string;
  /** What lending number `lending` of the run's parent lent (lendShares: the first run of the activity decides). */
  loans(lending: number): string;
}

/** `<instanceId>/`: every run of one instance (what a purge deletes). */
export function instancePrefix(instanceId: string): string {
  return `${segment(instanceId, "instanceId")}/`;
}

export function gatherKeys(instanceId: string, runId: string): GatherKeys {
  const prefix = `${instancePrefix(instanceId)}${segment(runId, "runId")}/`;
  const answersPrefix = `${prefix}answers/`;
  return {
    prefix,
    request: `${prefix}request.json`,
    result: `${prefix}result.json`,
    answersPrefix,
    answerGroup(group: string): string {
      if (!GROUP_ID.test(group)) throw new RangeError(`answer group id must match ${GROUP_ID}, got '${String(group)}'`);
      return `${answersPrefix}${group}.json`;
    },
    loans(lending: number): string {
      if (!Number.isSafeInteger(lending) || lending < 0) throw new RangeError(`lending must be a whole number, got '${String(lending)}'`);
      return `${prefix}loans/${String(lending).padStart(INDEX_DIGITS, "0")}.json`;
    },
  };
}

/** Whether `id` can be an answer group's id (what newGroupId makes, or a reply's group). */
export function isGroupId(id: unknown): id is string {
  return typeof id === "string" && GROUP_ID.test(id);
}

/** A random answer group id: 16 base64url characters (96 bits), unique without coordination. */
export function newGroupId(): string {
  return randomBytes(12).toString("base64url");
}

/** The group id of an answer group key, or undefined for any other key. */
export function answerGroupOf(key: string): string | undefined {
  const match = /\/answers\/([A-Za-z0-9_-]{1,64})\.json$/.exec(key);
  return match ? match[1] : undefined;
}

/**
 * A run id for gatherKeys: sortable by start time, unique enough for restarts of one instance id
 * (UTC timestamp to the millisecond plus 6 random hex digits). Made by the starter, not the orchestrator.
 */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:.]/g, "");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

/** When a run started, from its id (newRunId); undefined for an id of another shape. */
export function runStartedAt(runId: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-/.exec(runId);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, ms] = match.map(Number);
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
}

/** The instance id a key belongs to (its first segment, decoded), for telemetry. */
export function instanceOfKey(key: string): string {
  const first = key.slice(0, Math.max(0, key.indexOf("/")));
  return first.replace(/%2E/g, ".");
}

/** Throws when `key` cannot name a blob faithfully (empty, too long, `.`/`..`/empty segments, a trailing dot). */
export function assertValidKey(key: string): void {
  const problem =
    typeof key !== "string" || key.length === 0
      ? "is empty"
      : key.length > MAX_KEY_LENGTH
        ? `is longer than ${MAX_KEY_LENGTH} characters`
        : key.includes("\\")
          ? "contains a backslash"
          : key.split("/").some((part) => part === "" || /^\.+$/.test(part))
            ? "has an empty, '.' or '..' segment"
            : key.endsWith(".")
              ? "ends with a dot"
              : undefined;
  if (problem) throw new RangeError(`payload key '${String(key)}' ${problem}`);
}

function segment(value: string, what: string): string {
  if (typeof value !== "string" || value.length === 0 || value.includes("/") || value.includes("\\")) {
    throw new RangeError(`${what} must be a non-empty string without '/' or '\\', got '${String(value)}'`);
  }
  return /^\.+$/.test(value) ? value.replace(/\./g, "%2E") : value;
}

/**
 * The minimal shape of each instance-log record kind (store.ts LogRecord). The store checks every record
 * it reads back before folding it in, so a damaged log is quarantined instead of half-applied.
 */
const STATUSES = new Set(["Pending", "Running", "Completed", "ContinuedAsNew", "Failed", "Canceled", "Terminated", "Suspended"]);

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === "string";
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const strOrNull = (v: unknown) => v === null || isStr(v);

function eventProblem(e: unknown, where: string): string | undefined {
  if (!isObj(e)) return `${where} is not an object`;
  if (!isNum(e.EventType)) return `${where}.EventType is not a number`;
  if (!isNum(e.EventId)) return `${where}.EventId is not a number`;
  if (!isStr(e.Timestamp)) return `${where}.Timestamp is not a string`;
  return undefined;
}

function eventsProblem(list: unknown, where: string): string | undefined {
  if (!Array.isArray(list)) return `'${where}' is not an array`;
  for (let i = 0; i < list.length; i++) {
    const p = eventProblem(list[i], `${where}[${i}]`);
    if (p) return p;
  }
  return undefined;
}

function parentProblem(p: unknown): string | undefined {
  if (p === null) return undefined;
  if (!isObj(p) || !isStr(p.name) || !isStr(p.instanceId) || !isStr(p.executionId) || !isNum(p.taskScheduledId)) {
    return "'parent' is neither null nor {name, instanceId, executionId, taskScheduledId}";
  }
  return undefined;
}

function fieldsProblem(r: Obj, checks: [string, (v: unknown) => boolean, string][]): string | undefined {
  for (const [field, ok, expected] of checks) if (!ok(r[field])) return `'${field}' is not ${expected}`;
  return undefined;
}

/** Why `r` is not a well-formed log record (undefined when it is). */
export function recordProblem(r: unknown): string | undefined {
  if (!isObj(r)) return "the record is not a JSON object";
  const status: [string, (v: unknown) => boolean, string] = ["status", (v) => isStr(v) && STATUSES.has(v), "a runtime status"];
  const at: [string, (v: unknown) => boolean, string] = ["at", isNum, "a number"];
  switch (r.t) {
    case "create":
      return (
        fieldsProblem(r, [
          ["instanceId", isStr, "a string"],
          ["name", isStr, "a string"],
          ["executionId", isStr, "a string"],
          ["input", strOrNull, "a string or null"],
          ["createdTime", isNum, "a number"],
        ]) ?? parentProblem(r.parent)
      );
    case "msg":
      return fieldsProblem(r, [["seq", isInt, "a non-negative integer"], at]) ?? eventProblem(r.event, "event");
    case "episode": {
      const p =
        fieldsProblem(r, [
          ["consumed", (v) => Array.isArray(v) && v.every(isInt), "an array of sequence numbers"],
          status,
          ["output", strOrNull, "a string or null"],
          ["customStatus", strOrNull, "a string or null"],
          at,
        ]) ?? eventsProblem(r.events, "events");
      if (p || r.continueAsNew === undefined) return p;
      const c = r.continueAsNew;
      if (!isObj(c) || !isStr(c.executionId) || !strOrNull(c.input)) return "'continueAsNew' is not {executionId, input, startEvent}";
      return eventProblem(c.startEvent, "continueAsNew.startEvent");
    }
    case "rewrite":
      return fieldsProblem(r, [status, ["output", strOrNull, "a string or null"], at]) ?? eventsProblem(r.history, "history");
    default:
      return `unknown record kind ${JSON.stringify(r.t)}`;
  }
}

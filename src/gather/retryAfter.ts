/**
 * A `Retry-After` header (RFC 9110 §10.2.3) as the wait it asks for: delta-seconds, or an HTTP-date in any of
 * the three forms a recipient must accept (IMF-fixdate, RFC 850, asctime). Anything else is ignored, as if the
 * header were absent. The wait is capped at the longest gather deadline: a longer one is past every deadline
 * anyway, and the cap keeps what crosses the activity boundary short (failures.ts withRetryAfter).
 */
import { MAX_GATHER_DEADLINE_MS } from "./limits";

const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTH = `(${MONTHS.join("|")})`;
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC_850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** `Sun Nov  6 08:49:37 1994` (UTC, though it does not say so) */
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/** The wait in whole milliseconds (0 for a date already past), or undefined when the header says nothing usable. */
export function parseRetryAfter(header: string | string[] | undefined, nowMs: number): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Math.min(Number(value) * 1000, MAX_GATHER_DEADLINE_MS);
  const date = httpDate(value, nowMs);
  if (date === undefined) return undefined;
  return Math.min(Math.max(0, Math.ceil(date - nowMs)), MAX_GATHER_DEADLINE_MS);
}

function httpDate(value: string, nowMs: number): number | undefined {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utc(Number(m[3]), m[2], Number(m[1]), m.slice(4, 7));
  m = RFC_850.exec(value);
  if (m) {
    // Two-digit years: the most recent year with those digits that is not more than 50 years ahead (RFC 9110).
    const thisYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(m[3]);
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[2], Number(m[1]), m.slice(4, 7));
  }
  m = ASCTIME.exec(value);
  if (m) return utc(Number(m[6]), m[1], Number(m[2].trim()), m.slice(3, 6));
  return undefined;
}

/** The instant, or undefined for a date that does not exist (31 Feb, 25:00:00). */
function utc(year: number, month: string, day: number, [h, min, s]: string[]): number | undefined {
  const monthIndex = MONTHS.indexOf(month);
  const [hours, minutes, seconds] = [Number(h), Number(min), Number(s)];
  const at = new Date(Date.UTC(year, monthIndex, day, hours, minutes, seconds));
  const exists =
    at.getUTCFullYear() === year &&
    at.getUTCMonth() === monthIndex &&
    at.getUTCDate() === day &&
    at.getUTCHours() === hours &&
    at.getUTCMinutes() === minutes &&
    at.getUTCSeconds() === seconds;
  return exists ? at.getTime() : undefined;
}

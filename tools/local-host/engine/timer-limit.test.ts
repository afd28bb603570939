/** The timer span limit (6 days after the instance started by default) and CreateTimer actions without a date. */
import { EventType } from "./history";
import { completed, historyOf, stoppedAfterEach, timersArmed, type OrchestratorFn } from "./test-support";
import { DEFAULT_MAX_TIMER_SPAN_MS, TimerLimit } from "./timer-limit";

const DAY = 86_400_000;
const T0 = Date.parse("2024-01-01T00:00:00.000Z");
const harness = stoppedAfterEach();

const orchestrators: Record<string, OrchestratorFn> = {
  // A timer `days` after the episode's time (the SDK sends one CreateTimer with the final fireAt, even when it splits).
  TimerAfter: function* (ctx) {
    const days: number = ctx.df.getInput();
    yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + days * DAY));
    return "fired";
  },
  // Waits for an event first, then a timer: its span counts from the instance's start, not from the episode.
  EventThenTimer: function* (ctx) {
    yield ctx.df.waitForExternalEvent("go");
    yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 3 * DAY));
    return "fired";
  },
  InvalidDate: function* (ctx) {
    yield ctx.df.createTimer(new Date(NaN));
    return "never";
  },
};

const errors = (h: ReturnType<typeof harness>) => h.logs.filter((l) => l.level === "error").map((l) => l.message);

test("the default is 6 days, as the host's maximumShortTimerDuration", () => {
  expect(DEFAULT_MAX_TIMER_SPAN_MS).toBe(518_400_000);
});

test("a timer 7 days after the start fails the orchestration, naming timer, fireAt, span, limit and flag", async () => {
  const h = harness(orchestrators, {});
  await h.engine.start();
  await h.engine.startNew("TimerAfter", "week", 7);
  const s = await completed(h.engine, "week");
  expect(s.runtimeStatus).toBe("Failed");
  const expected =
    "The timer 0 created by orchestration 'TimerAfter' fires at 2024-01-08T00:00:00.000Z, 604800000 ms (7 days) after " +
    "the instance started at 2024-01-01T00:00:00.000Z, over the limit of 518400000 ms (6 days) (--max-timer-span-ms).";
  expect(s.output).toBe(expected);
  expect(errors(h)).toContain(`[week] ${expected}`);
  // Refused before it reached history: no TimerCreated, nothing armed.
  expect(historyOf(h, "week").some((e) => e.EventType === EventType.TimerCreated)).toBe(false);
  expect(h.clock.dueTimes()).toEqual([]);
});

test("exactly 6 days is allowed; the span counts from ExecutionStarted, not from the episode that creates the timer", async () => {
  const h = harness(orchestrators, {});
  await h.engine.start();
  await h.engine.startNew("TimerAfter", "six", 6);
  await timersArmed(h.clock);
  expect(h.clock.dueTimes()).toEqual([T0 + 6 * DAY]);

  await h.engine.startNew("EventThenTimer", "late", undefined);
  h.clock.advance(3.5 * DAY); // the six-day timer is still waiting
  await h.engine.raiseEvent("late", "go", null);
  const s = await completed(h.engine, "late");
  expect(s.runtimeStatus).toBe("Failed");
  expect(String(s.output)).toMatch(/fires at 2024-01-07T12:00:00.000Z, 561600000 ms \(6.5 days\) after the instance started at 2024-01-01/);
  expect((await h.engine.getStatus("six"))!.runtimeStatus).toBe("Running");
});

test("a CreateTimer whose fireAt is no date (an invalid Date, sent as null) fails the orchestration, even with no span limit", async () => {
  const h = harness(orchestrators, {}, { maxTimerSpanMs: 0 });
  await h.engine.start();
  await h.engine.startNew("InvalidDate", "nan", undefined);
  const s = await completed(h.engine, "nan");
  expect(s.runtimeStatus).toBe("Failed");
  expect(s.output).toBe(
    "The timer 0 created by orchestration 'InvalidDate' has fireAt null, which is not a date (an invalid Date is sent as null).",
  );
});

test("maxTimerSpanMs: 0 means no span limit; a smaller limit is honoured", async () => {
  const h = harness(orchestrators, {}, { maxTimerSpanMs: 0 });
  await h.engine.start();
  await h.engine.startNew("TimerAfter", "month", 30);
  await timersArmed(h.clock);
  expect(h.clock.dueTimes()).toEqual([T0 + 30 * DAY]);
  await h.engine.stop();

  const small = harness(orchestrators, {}, { maxTimerSpanMs: 60_000 });
  await small.engine.start();
  await small.engine.startNew("TimerAfter", "hour", 1 / 24);
  expect(String((await completed(small.engine, "hour")).output)).toMatch(/3600000 ms \(0.042 days\) .* over the limit of 60000 ms/);
});

test("TimerLimit: fireAt as the host reads it (ISO string or Date); missing, null, numbers and garbage are no dates", () => {
  const limit = new TimerLimit(DAY);
  const ok = (fireAt: unknown) => limit.episodeProblem("o", T0, [{ id: 3, fireAt }]);
  expect(ok("2024-01-01T12:00:00.000Z")).toBeUndefined();
  expect(ok(new Date(T0 + DAY))).toBeUndefined();
  expect(ok(undefined)).toMatch(/^The timer 3 created by orchestration 'o' has fireAt missing, which is not a date/);
  expect(ok(null)).toMatch(/has fireAt null/);
  expect(ok(T0)).toMatch(/has fireAt 1704067200000/);
  expect(ok("soon")).toMatch(/has fireAt "soon"/);
  expect(ok(new Date(T0 + DAY + 1))).toMatch(/86400001 ms \(1 day\)/);
});

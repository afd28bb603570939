/** The host's messages and constants, shared by the engine and the front. */
import {
  alreadyExistsMessage,
  extractOutOfProcState,
  isTerminal,
  OrchestrationStatus,
  OUT_OF_PROC_DATA_LABEL,
  RuntimeStatusByNumber,
  unknownFunctionMessage,
} from "./host-messages";

test("terminal statuses", () => {
  expect(["Completed", "Failed", "Terminated", "Canceled"].every((s) => isTerminal(s as never))).toBe(true);
  expect(["Pending", "Running", "Suspended", "ContinuedAsNew"].some((s) => isTerminal(s as never))).toBe(false);
});

test("status numbers both ways", () => {
  expect(RuntimeStatusByNumber[OrchestrationStatus.Failed]).toBe("Failed");
  expect(RuntimeStatusByNumber[7]).toBe("Suspended");
  expect(Object.keys(RuntimeStatusByNumber)).toHaveLength(8);
});

test("the unknown-function text, with and without the known names", () => {
  expect(unknownFunctionMessage("x", "activityTrigger")).toBe(
    "The function 'x' doesn't exist, is disabled, or is not an activityTrigger function.",
  );
  expect(unknownFunctionMessage("x", "orchestrator", ["a", "b"])).toBe(
    "The function 'x' doesn't exist, is disabled, or is not an orchestrator function. Additional info: The following are the known orchestrator functions: 'a', 'b'.",
  );
  expect(unknownFunctionMessage("x", "entity", new Set<string>())).toBe(
    "The function 'x' doesn't exist, is disabled, or is not an entity function. Additional info: No entity functions are currently registered!",
  );
});

test("already exists; $OutOfProcData$", () => {
  expect(alreadyExistsMessage("Running")).toBe("An Orchestration instance with the status Running already exists.");
  expect(extractOutOfProcState(`boom${OUT_OF_PROC_DATA_LABEL}{"isDone":false}`)).toEqual({ isDone: false });
  expect(extractOutOfProcState(`boom${OUT_OF_PROC_DATA_LABEL}{not json`)).toBeUndefined();
  expect(extractOutOfProcState("boom")).toBeUndefined();
});

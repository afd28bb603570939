import { failureReason } from "../../src/gather/failures";

describe("failureReason", () => {
  test("the activity failure as the orchestrator sees it", () => {
    const error = new Error(
      'Activity function \'callRecipient\' failed: RecipientError: HTTP 503 \n {"message":"HTTP 503","name":"RecipientError"}',
    );
    expect(failureReason(error)).toBe("HTTP 503");
  });

  test("a worker-framed message with the stack", () => {
    const error = new Error(
      "Result: Failure\nException: HTTP 503\nStack: RecipientError: HTTP 503\n    at sendJson (/app/dist/src/gather/deliver.js:60:19)",
    );
    expect(failureReason(error)).toBe("HTTP 503");
  });

  test("a timeout reason with digits and spaces survives", () => {
    expect(failureReason(new Error("Activity function 'callRecipient' failed: RecipientError: timed out after 2000 ms \n {}"))).toBe(
      "timed out after 2000 ms",
    );
  });

  test("a plain Error: its first line", () => {
    expect(failureReason(new Error("connection refused"))).toBe("connection refused");
    expect(failureReason(new Error("boom\n    at x"))).toBe("boom");
  });

  test("a wrapped non-RecipientError loses the activity prefix", () => {
    expect(failureReason(new Error("Activity function 'callRecipient' failed: something broke \n {}"))).toBe("something broke");
  });

  test("a string", () => {
    expect(failureReason("RecipientError: HTTP 404")).toBe("HTTP 404");
    expect(failureReason("just text")).toBe("just text");
  });

  test("an empty message becomes 'failed'", () => {
    expect(failureReason(new Error(""))).toBe("failed");
    expect(failureReason("")).toBe("failed");
  });
});

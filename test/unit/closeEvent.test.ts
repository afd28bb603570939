/** The close event, its signature and its delivery schedule (src/gather/closeEvent.ts). */
import { closeEvent, MAX_NOTIFY_ATTEMPTS, notifyRetryDelayMs, webhookSignature } from "../../src/gather/closeEvent";

test("the CloudEvent names the gather and run, and links its status and responses", () => {
  const event = closeEvent({
    id: "rfq:7",
    runId: "20261206T100000000Z-abcdef",
    outcome: "partial",
    closedBy: "deadline",
    counts: { total: 3, succeeded: 1, failed: 0, timedOut: 2, abandoned: 0 },
    responsesUri: "https://app.example.net/api/scatter-gather/rfq%3A7/responses",
    time: "2026-12-06T10:00:05.000Z",
  });
  expect(event).toEqual({
    specversion: "1.0",
    type: "scatter-gather.closed",
    source: "https://app.example.net/api/scatter-gather",
    id: "rfq:7:20261206T100000000Z-abcdef",
    subject: "rfq:7",
    time: "2026-12-06T10:00:05.000Z",
    datacontenttype: "application/json",
    data: {
      id: "rfq:7",
      outcome: "partial",
      closedBy: "deadline",
      counts: { total: 3, succeeded: 1, failed: 0, timedOut: 2, abandoned: 0 },
      statusUri: "https://app.example.net/api/scatter-gather/rfq%3A7",
      responsesUri: "https://app.example.net/api/scatter-gather/rfq%3A7/responses",
    },
  });
});

test("Standard Webhooks signature: v1, base64 HMAC-SHA256 over id.timestamp.body with the secret's bytes", () => {
  const key = Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64");
  const signature = webhookSignature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}');
  // The Standard Webhooks specification's own example.
  expect(signature).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
});

test("deliveries: at most 8 attempts, waits doubling from 1 s, about two minutes in all", () => {
  const waits = Array.from({ length: MAX_NOTIFY_ATTEMPTS }, (_, i) => notifyRetryDelayMs(i + 1));
  expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 64000, undefined]);
});

const fs = require("node:fs");
const { app } = require("@azure/functions");

// Every invocation is appended to the file named by the QUEUE_LOG setting, one JSON line each, so the tests see
// what the handler got (its input and context.triggerMetadata) and how many handlers ran at once.
let inFlight = 0;

function record(entry) {
  fs.appendFileSync(process.env.QUEUE_LOG, JSON.stringify(entry) + "\n");
}

function describe(input) {
  return Buffer.isBuffer(input) ? { bytes: [...input] } : { value: input };
}

// The message body says what to do: { "mode": "ok" | "fail" | "failTimes", "n": 2, "sleepMs": 300, "tag": "..." }.
app.storageQueue("processWork", {
  queueName: "%WORK_QUEUE%",
  connection: "AzureWebJobsStorage",
  handler: async (item, context) => {
    inFlight++;
    try {
      const meta = context.triggerMetadata;
      record({ fn: context.functionName, ...describe(item), meta, inFlight, at: Date.now() });
      if (item && typeof item === "object" && item.sleepMs) await new Promise((r) => setTimeout(r, item.sleepMs));
      const mode = item && typeof item === "object" ? item.mode : undefined;
      if (mode === "fail" || (mode === "failTimes" && meta.dequeueCount <= item.n)) {
        throw new Error(`failing on purpose (dequeueCount ${meta.dequeueCount})`);
      }
    } finally {
      inFlight--;
    }
  },
});

// The body as bytes (dataType binary), whatever it holds.
app.storageQueue("processBytes", {
  queueName: "byte-items",
  connection: "AzureWebJobsStorage",
  dataType: "binary",
  handler: async (item, context) => {
    record({ fn: context.functionName, ...describe(item), meta: context.triggerMetadata, at: Date.now() });
  },
});

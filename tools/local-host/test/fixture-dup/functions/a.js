const { app } = require("@azure/functions");
app.get("same", { handler: async () => ({ body: "a" }) });

const { app } = require("@azure/functions");
app.get("same", { route: "other", handler: async () => ({ body: "b" }) });

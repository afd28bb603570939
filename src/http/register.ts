/** Registration of the gather API's HTTP functions: a function key and the durable client, every time. */
import { app, type HttpHandler } from "@azure/functions";
import * as df from "durable-functions";

export function gatherApi(name: string, method: "GET" | "POST" | "DELETE", route: string, handler: HttpHandler): void {
  app.http(name, { route, methods: [method], authLevel: "function", extraInputs: [df.input.durableClient()], handler });
}

import * as df from "durable-functions";
import { FunctionNames } from "../durable/names";
import { scatterGatherBatch } from "../durable/orchestrator";

df.app.orchestration(FunctionNames.batchOrchestrator, scatterGatherBatch);

import * as df from "durable-functions";
import { FunctionNames } from "../durable/names";
import { scatterGatherOrchestrator } from "../durable/orchestrator";

df.app.orchestration(FunctionNames.orchestrator, scatterGatherOrchestrator);

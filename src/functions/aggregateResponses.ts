import * as df from "durable-functions";
import { aggregate, type SucceededAnswer } from "../gather/aggregate";
import type { Aggregate, AggregateSpec } from "../gather/types";
import { FunctionNames } from "../durable/names";

export function aggregateResponses(input: { spec: AggregateSpec; answers: SucceededAnswer[] }): Aggregate {
  return aggregate(input.spec, input.answers);
}

df.app.activity(FunctionNames.aggregateResponses, { handler: aggregateResponses });

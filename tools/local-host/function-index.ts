/**
 * The function index: what the worker stand-in registered, by trigger kind: HTTP routes (compiled, in the
 * host's precedence order), orchestrator / activity / entity names, queue triggers, and the start-up listing.
 */
import { unknownFunctionMessage } from "./engine/host-messages";
import { compareRoutes, compileRoute, normalizeTemplate, type CompiledRoute } from "./routes";
import type { RegisteredFunction } from "./worker";

export interface FunctionInfo {
  name: string;
  triggerType: string;
  /** HTTP triggers only. */
  route?: string;
  methods?: string[];
  url?: string;
}

export interface HttpRoute {
  fn: RegisteredFunction;
  route: CompiledRoute;
  methods?: Set<string>;
}

const isType = (fn: RegisteredFunction, t: string) => fn.triggerType.toLowerCase() === t.toLowerCase();

/** An HTTP trigger's route template (the function name when none) and its methods (undefined = all). */
function httpBinding(fn: RegisteredFunction): { template: string; methods?: string[] } {
  const b = fn.bindings[fn.triggerName];
  const template = typeof b.route === "string" && b.route !== "" ? b.route : fn.name;
  const methods = Array.isArray(b.methods) && b.methods.length > 0 ? b.methods.map((m) => String(m).toUpperCase()) : undefined;
  return { template, methods };
}

export class FunctionIndex {
  readonly all: RegisteredFunction[];
  readonly httpRoutes: HttpRoute[];
  readonly orchestrators: ReadonlySet<string>;
  readonly activities: ReadonlySet<string>;
  readonly entities: ReadonlySet<string>;
  /** Functions with a `queueTrigger` (app.storageQueue), in registration order. */
  readonly queueTriggers: RegisteredFunction[];

  constructor(private readonly byName: ReadonlyMap<string, RegisteredFunction>) {
    this.all = [...byName.values()];
    this.httpRoutes = this.all
      .filter((f) => isType(f, "httpTrigger"))
      .map((fn) => {
        const { template, methods } = httpBinding(fn);
        return { fn, route: compileRoute(template), methods: methods ? new Set(methods) : undefined };
      })
      .sort((a, b) => compareRoutes(a.route, b.route));
    this.orchestrators = this.names("orchestrationTrigger");
    this.activities = this.names("activityTrigger");
    this.entities = this.names("entityTrigger");
    this.queueTriggers = this.all.filter((f) => isType(f, "queueTrigger"));
  }

  private names(triggerType: string): Set<string> {
    return new Set(this.all.filter((f) => isType(f, triggerType)).map((f) => f.name));
  }

  /** The function with that name and trigger type, or the host's error. */
  find(name: string, triggerType: string): RegisteredFunction {
    const fn = this.byName.get(name);
    if (!fn || !isType(fn, triggerType)) throw new Error(unknownFunctionMessage(name, triggerType));
    return fn;
  }

  /** The start-up listing: HTTP triggers with their URLs first, then the others. */
  describe(routePrefix: string, baseUrl: string): FunctionInfo[] {
    const httpFns: FunctionInfo[] = [];
    const others: FunctionInfo[] = [];
    for (const fn of this.all) {
      if (!isType(fn, "httpTrigger")) {
        others.push({ name: fn.name, triggerType: fn.triggerType });
        continue;
      }
      const { template, methods } = httpBinding(fn);
      const route = normalizeTemplate(template);
      const full = [routePrefix, route].filter((s) => s !== "").join("/");
      httpFns.push({ name: fn.name, triggerType: fn.triggerType, route, methods, url: `${baseUrl}/${full}` });
    }
    return [...httpFns, ...others];
  }
}

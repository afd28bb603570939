/**
 * The Node.js worker stand-in. Like azure-functions-nodejs-worker, it
 *  - provides the `@azure/functions-core` module by intercepting `Module.prototype.require` for that id
 *    (setupCoreModule), before any of the app's entry files are loaded;
 *  - loads every file matching the `main` glob of the app's package.json (startApp / loadEntryPointFile);
 *  - collects `registerFunction` calls (duplicate function ids are an error, as in the worker), hooks,
 *    and the programming model the library registers with `setProgrammingModel`;
 *  - invokes a function through the programming model's invocation model, exactly in the worker's order:
 *    getInvocationModel → getArguments → preInvocation hooks → invokeFunction → postInvocation hooks →
 *    getResponse, with inputs as RpcTypedData.
 *
 * Only one app can own the core module per process (as one worker process serves one app); a second
 * WorkerApp in the same process takes over registration while it loads.
 */
import Module = require("node:module");
import * as path from "node:path";
import { randomUUID } from "node:crypto";
import { expandGlob, hasMagic } from "./glob";
import { readJsonFile } from "./settings";

// ---- The slice of @azure/functions-core's types the stand-in needs (types-core/index.d.ts of the worker). ----

export type RpcLogLevel = "trace" | "debug" | "information" | "warning" | "error" | "critical" | "none";
export type RpcLogCategory = "user" | "system" | "customMetric";

export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
  collectionBytes?: { bytes?: Uint8Array[] | null } | null;
  collectionString?: { string?: string[] | null } | null;
  collectionDouble?: { double?: number[] | null } | null;
  collectionSint64?: { sint64?: number[] | null } | null;
}

export interface RpcNullableString {
  value?: string | null;
}

export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: RpcNullableString | null;
  path?: RpcNullableString | null;
  expires?: { value?: { seconds?: number | null; nanos?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: "none" | "lax" | "strict" | "explicitNone" | null;
  maxAge?: { value?: number | null } | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  statusCode?: string | null;
  query?: Record<string, string> | null;
  enableContentNegotiation?: boolean | null;
  rawBody?: RpcTypedData | null;
  cookies?: RpcHttpCookie[] | null;
  nullableHeaders?: Record<string, RpcNullableString> | null;
  nullableParams?: Record<string, RpcNullableString> | null;
  nullableQuery?: Record<string, RpcNullableString> | null;
}

export interface RpcBindingInfo {
  type?: string | null;
  direction?: "in" | "out" | "inout" | null;
  dataType?: string | null;
  [field: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

export interface RpcParameterBinding {
  name?: string | null;
  data?: RpcTypedData | null;
}

export interface RpcInvocationRequest {
  invocationId?: string | null;
  functionId?: string | null;
  inputData?: RpcParameterBinding[] | null;
  triggerMetadata?: Record<string, RpcTypedData> | null;
  traceContext?: { traceParent?: string | null; traceState?: string | null; attributes?: Record<string, string> | null } | null;
  retryContext?: { retryCount?: number | null; maxRetryCount?: number | null } | null;
}

export interface RpcInvocationResponse {
  invocationId?: string | null;
  outputData?: RpcParameterBinding[] | null;
  returnValue?: RpcTypedData | null;
}

type FunctionCallback = (...args: unknown[]) => unknown;
type HookCallback = (context: unknown) => void | Promise<void>;

interface CoreInvocationContext {
  invocationId: string;
  request: RpcInvocationRequest;
  metadata: Record<string, unknown> & { name: string; bindings: Record<string, RpcBindingInfo> };
  state?: "preInvocationHooks" | "postInvocationHooks" | "invocation";
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void;
}

interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreContext: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
  getCapabilities?(defaultCapabilities: Record<string, string>): Record<string, string> | Promise<Record<string, string>>;
}

export interface RegisteredFunction {
  name: string;
  functionId: string;
  /** Bindings keyed by name, as registered (trigger, extra inputs, `$return`, extra outputs). */
  bindings: Record<string, RpcBindingInfo>;
  triggerName: string;
  triggerType: string;
  callback: FunctionCallback;
  scriptFile: string;
  directory: string;
}

export interface LogEntry {
  level: RpcLogLevel;
  category: RpcLogCategory;
  message: string;
  functionName?: string;
  invocationId?: string;
}

/** Error thrown for problems the worker reports as system errors (duplicate registration, no entry point, ...). */
export class WorkerError extends Error {
  readonly isAzureFunctionsSystemError = true;
}

class Disposable {
  static from(...items: { dispose(): unknown }[]): Disposable {
    let list: { dispose(): unknown }[] | undefined = items;
    return new Disposable(() => {
      for (const d of list ?? []) if (d && typeof d.dispose === "function") d.dispose();
      list = undefined;
    });
  }
  #onDispose?: () => unknown;
  constructor(onDispose: () => unknown) {
    this.#onDispose = onDispose;
  }
  dispose(): unknown {
    const fn = this.#onDispose;
    this.#onDispose = undefined;
    return typeof fn === "function" ? fn() : undefined;
  }
}

// ---- Process-wide core module ----

let activeApp: WorkerApp | undefined;
let processProgrammingModel: ProgrammingModel | undefined;
let installed = false;
const coreModuleId = "@azure/functions-core";
const workerVersion = "3.12.0-local-host";

function currentApp(): WorkerApp {
  if (!activeApp) throw new WorkerError("No function app is being hosted by this process.");
  return activeApp;
}

const coreApi = {
  version: workerVersion,
  get hostVersion(): string {
    return currentApp().hostVersion;
  },
  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    return currentApp().registerFunction(metadata, callback);
  },
  registerHook(hookName: string, callback: HookCallback): Disposable {
    return currentApp().registerHook(hookName, callback);
  },
  setProgrammingModel(model: ProgrammingModel): void {
    processProgrammingModel = model;
    if (activeApp) activeApp.programmingModel = model;
  },
  getProgrammingModel(): ProgrammingModel | undefined {
    return activeApp?.programmingModel ?? processProgrammingModel;
  },
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void {
    (activeApp ? activeApp.log : defaultLog)({ level, category, message });
  },
  Disposable,
};

function defaultLog(entry: LogEntry): void {
  console.log(`[${entry.level}] ${entry.message}`);
}

/** Installs the `@azure/functions-core` module into Node's module system (idempotent). */
export function installCoreModule(): void {
  if (installed) return;
  installed = true;
  const proto = (Module as unknown as { prototype: { require: (...args: unknown[]) => unknown } }).prototype;
  proto.require = new Proxy(proto.require, {
    apply(target, thisArg, args: unknown[]) {
      if (args[0] === coreModuleId) return coreApi;
      return Reflect.apply(target, thisArg, args);
    },
  });
}

// ---- The app as the worker sees it ----

export interface WorkerAppOptions {
  appDir: string;
  hostVersion?: string;
  log?: (entry: LogEntry) => void;
}

export class WorkerApp {
  readonly appDir: string;
  readonly hostVersion: string;
  readonly functions = new Map<string, RegisteredFunction>();
  programmingModel?: ProgrammingModel;
  readonly log: (entry: LogEntry) => void;
  private readonly hooks: Record<string, HookCallback[]> = {
    preInvocation: [],
    postInvocation: [],
    appStart: [],
    appTerminate: [],
    log: [],
  };
  private readonly appHookData: Record<string, unknown> = {};
  private readonly appLevelOnlyHookData: Record<string, unknown> = {};
  private indexingLocked = false;
  private currentEntryPoint?: string;
  private inLogHook = false;

  constructor(options: WorkerAppOptions) {
    this.appDir = path.resolve(options.appDir);
    this.hostVersion = options.hostVersion ?? "4.0.0-local-host";
    const sink = options.log ?? defaultLog;
    this.log = (entry: LogEntry) => {
      sink(entry);
      this.runLogHooks(entry);
    };
  }

  /** The worker's startApp: package.json `main` glob → load each file → appStart hooks. */
  async load(): Promise<void> {
    installCoreModule();
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the process's one loading app, read by the core module
    activeApp = this;
    const pkgFile = path.join(this.appDir, "package.json");
    let main: string | undefined;
    try {
      main = (readJsonFile(pkgFile) as { main?: string }).main;
    } catch (err) {
      this.log({ level: "warning", category: "system", message: `Worker failed to load package.json: ${(err as Error).message}` });
    }
    if (!main) {
      throw new WorkerError(`No "main" entry point in ${pkgFile}: the v4 programming model registers functions from the files it names.`);
    }
    const files = expandGlob(main, this.appDir);
    if (files.length === 0) {
      const reason = hasMagic(main) ? "Found zero files matching the supplied pattern" : "File does not exist";
      throw new WorkerError(`Worker was unable to load entry point "${main}": ${reason}`);
    }
    const req = Module.createRequire(pkgFile);
    for (const file of files) {
      const full = path.join(this.appDir, file);
      this.currentEntryPoint = full;
      try {
        this.log({ level: "debug", category: "system", message: `Loading entry point file "${file}"` });
        req(full);
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        e.message = `Worker was unable to load entry point "${file}": ${e.message}`;
        throw e;
      } finally {
        this.currentEntryPoint = undefined;
      }
    }
    this.indexingLocked = true;
    if (!this.programmingModel) this.programmingModel = processProgrammingModel;
    if (this.programmingModel?.getCapabilities) {
      await this.programmingModel.getCapabilities({});
    }
    await this.runHooks("appStart", { functionAppDirectory: this.appDir });
  }

  async terminate(): Promise<void> {
    await this.runHooks("appTerminate", {});
    if (activeApp === this) activeApp = undefined;
  }

  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    if (this.indexingLocked) throw new WorkerError("A function can only be registered during app startup.");
    const functionId = metadata.functionId || metadata.name;
    if (this.functions.has(functionId)) {
      throw new WorkerError(`A function with id "${functionId}" has already been registered.`);
    }
    const triggerEntry = Object.entries(metadata.bindings).find(([, b]) => /trigger$/i.test(String(b.type ?? "")));
    if (!triggerEntry) throw new WorkerError(`Function "${metadata.name}" has no trigger binding.`);
    const entry = this.currentEntryPoint;
    this.functions.set(functionId, {
      name: metadata.name,
      functionId,
      bindings: metadata.bindings,
      triggerName: triggerEntry[0],
      triggerType: String(triggerEntry[1].type),
      callback,
      scriptFile: entry ? path.basename(entry) : "unknown",
      directory: entry ? path.dirname(entry) : "",
    });
    return new Disposable(() => {
      if (this.indexingLocked) throw new WorkerError("A function can only be disposed during app startup.");
      this.functions.delete(functionId);
    });
  }

  registerHook(hookName: string, callback: HookCallback): Disposable {
    const list = this.hooks[hookName];
    if (!list) {
      const err = new RangeError(`Unrecognized hook "${hookName}"`);
      (err as RangeError & { isAzureFunctionsSystemError: boolean }).isAzureFunctionsSystemError = true;
      throw err;
    }
    list.push(callback);
    return new Disposable(() => {
      const i = list.indexOf(callback);
      if (i >= 0) list.splice(i, 1);
    });
  }

  private async runHooks(name: string, context: Record<string, unknown>): Promise<void> {
    const appHookData = this.appHookData;
    const appLevelOnly = this.appLevelOnlyHookData;
    const hookData = name === "appStart" || name === "appTerminate" ? appLevelOnly : (context.hookData as Record<string, unknown>);
    Object.defineProperty(context, "hookData", { get: () => hookData, configurable: true, enumerable: true });
    Object.defineProperty(context, "appHookData", { get: () => appHookData, configurable: true, enumerable: true });
    for (const hook of [...this.hooks[name]]) await hook(context);
  }

  private runLogHooks(entry: LogEntry): void {
    if (this.inLogHook || this.hooks.log.length === 0) return;
    this.inLogHook = true;
    try {
      for (const hook of this.hooks.log) {
        void hook({
          hookData: {},
          appHookData: this.appHookData,
          level: entry.level,
          message: entry.message,
          category: entry.category,
          invocationContext: undefined,
        });
      }
    } finally {
      this.inLogHook = false;
    }
  }

  /**
   * One invocation, as the worker's InvocationHandler does it. Rejects with the function's error
   * (the worker reports it to the host as a failed invocation).
   */
  async invoke(
    functionId: string,
    inputData: RpcParameterBinding[],
    triggerMetadata: Record<string, RpcTypedData> = {},
    invocationId: string = randomUUID(),
  ): Promise<RpcInvocationResponse> {
    const fn = this.functions.get(functionId);
    if (!fn) throw new WorkerError(`Function code for '${functionId}' is not loaded and cannot be invoked.`);
    const model = this.programmingModel ?? processProgrammingModel;
    if (!model) throw new WorkerError("No programming model was registered by the app (is @azure/functions v4 installed?).");
    const log = this.log;
    const request: RpcInvocationRequest = {
      invocationId,
      functionId,
      inputData,
      triggerMetadata,
      traceContext: { traceParent: traceParent(), traceState: "", attributes: {} },
      retryContext: null,
    };
    const coreCtx: CoreInvocationContext = {
      invocationId,
      request,
      metadata: {
        name: fn.name,
        functionId,
        bindings: fn.bindings,
        scriptFile: fn.scriptFile,
        directory: fn.directory,
        rawBindings: Object.entries(fn.bindings).map(([name, b]) => JSON.stringify({ ...b, name })),
      },
      state: undefined,
      log(level: RpcLogLevel, category: RpcLogCategory, message: string) {
        log({ level, category, message, functionName: fn.name, invocationId });
      },
    };
    const invocModel = await model.getInvocationModel(coreCtx);
    const args = await invocModel.getArguments();
    const context = args.context;
    let inputs = args.inputs;
    let callback = fn.callback;
    const hookData: Record<string, unknown> = {};

    const pre = { hookData, invocationContext: context, functionCallback: callback, inputs } as Record<string, unknown>;
    coreCtx.state = "preInvocationHooks";
    try {
      await this.runHooks("preInvocation", pre);
    } finally {
      coreCtx.state = undefined;
    }
    inputs = pre.inputs as unknown[];
    callback = pre.functionCallback as FunctionCallback;

    const post = { hookData, invocationContext: context, inputs, result: null as unknown, error: null as unknown } as Record<
      string,
      unknown
    >;
    coreCtx.state = "invocation";
    try {
      post.result = await invocModel.invokeFunction(context, inputs, callback);
    } catch (err) {
      post.error = err;
    } finally {
      coreCtx.state = undefined;
    }
    coreCtx.state = "postInvocationHooks";
    try {
      await this.runHooks("postInvocation", post);
    } finally {
      coreCtx.state = undefined;
    }
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows whatever the function threw, as the worker does
    if (post.error !== null && post.error !== undefined) throw post.error;
    return invocModel.getResponse(context, post.result);
  }
}

function traceParent(): string {
  const hex = (n: number) => randomUUID().replace(/-/g, "").slice(0, n);
  return `00-${hex(32)}-${hex(16)}-01`;
}

// ---- Typed data helpers ----

/**
 * A binding value as the host hands it to the worker (RpcMessageConversionUtilities.ToRpc): strings as
 * `string` (which the library JSON-parses when it can; this is why durable-functions JSON-encodes string
 * activity inputs before scheduling them), other JSON values as `json`, null/undefined as no data.
 */
export function hostTypedData(value: unknown): RpcTypedData | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return { string: value };
  return { json: JSON.stringify(value) };
}

/** Reads a typed data value the way the host reads a worker's return value / output binding. */
export function fromTypedData(data: RpcTypedData | null | undefined): unknown {
  if (!data) return undefined;
  if (data.json !== undefined && data.json !== null) return JSON.parse(data.json);
  if (data.string !== undefined && data.string !== null) return data.string;
  if (data.bytes) return Buffer.from(data.bytes);
  if (data.stream) return Buffer.from(data.stream);
  if (data.int !== undefined && data.int !== null) return Number(data.int);
  if (data.double !== undefined && data.double !== null) return data.double;
  if (data.http) return data.http;
  if (data.collectionString?.string) return data.collectionString.string;
  if (data.collectionDouble?.double) return data.collectionDouble.double;
  if (data.collectionSint64?.sint64) return data.collectionSint64.sint64.map(Number);
  if (data.collectionBytes?.bytes) return data.collectionBytes.bytes.map((b) => Buffer.from(b));
  return undefined;
}

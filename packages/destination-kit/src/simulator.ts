import { Hono, type Context } from "hono";
import type { SimulatedRequest, Simulator, SimulatorFault } from "./types.js";

/** Marks a light request as one that came through a simulator's own `fetch`. */
const IN_PROCESS = Symbol("meshwork.simulator.inProcess");
const inProcess = new WeakSet<object>();

/** Whether `fetch` is a simulator's: it runs in this process and leaves no listener on a signal it was given, unless it hangs. */
export const isSimulatorFetch = (fetchImpl: unknown): boolean => typeof fetchImpl === "function" && inProcess.has(fetchImpl);

/** What a vendor simulator supplies: a Hono app that models the API, and a view of its state. */
export interface SimulatorOptions<TSnapshot> {
  type: string;
  app: Hono;
  snapshot: () => TSnapshot;
  /**
   * How many of the most recent requests `requests` keeps (default 1,000), so a long-running
   * sandbox connection does not hold every request it ever answered. `requestCount` counts all.
   */
  keepRequests?: number;
}

/**
 * Turns a Hono app modelling a vendor API into a `Simulator`: requests are recorded and
 * injected faults (status, headers, body, or a hang) answer before the app does. The host of
 * the URL is ignored, so the adapter's real base URL works unchanged.
 */
export function createSimulator<TSnapshot>(options: SimulatorOptions<TSnapshot>): Simulator<TSnapshot> {
  const requests: SimulatedRequest[] = [];
  const faults: SimulatorFault[] = [];
  const keep = options.keepRequests ?? 1_000;
  let requestCount = 0;

  const simulatorFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    const body = init?.body;
    const request =
      input instanceof Request || (body != null && typeof body !== "string")
        ? new Request(input, { ...init, signal: null })
        : lightRequest(typeof input === "string" ? input : input.href, init?.method ?? "GET", headersOf(init?.headers), body ?? "");
    const recorded = new RecordedRequest(
      request,
      typeof body === "string" ? body : body == null && !(input instanceof Request) ? "" : await request.clone().text(),
    );
    requests.push(recorded);
    requestCount++;
    keepRecent(requests, keep);

    const index = faults.findIndex((fault) => !fault.match || fault.match(recorded));
    if (index !== -1) {
      const fault = faults[index]!;
      if ((fault.times ?? 1) <= 1) faults.splice(index, 1);
      else fault.times = (fault.times ?? 1) - 1;
      if (fault.hang) return hang(signal ?? request.signal);
      const faultBody = typeof fault.body === "string" ? fault.body : JSON.stringify(fault.body ?? {});
      const type = typeof fault.body === "string" ? "text/plain" : "application/json";
      return simulatedResponse(faultBody, fault.status ?? 500, { "content-type": type, ...fault.headers });
    }
    signal?.throwIfAborted();
    return options.app.fetch(request);
  };

  inProcess.add(simulatorFetch);
  return {
    type: options.type,
    fetch: simulatorFetch as typeof fetch,
    requests,
    requestCount: () => requestCount,
    inject: (fault) => faults.push({ ...fault }),
    snapshot: options.snapshot,
  };
}

/**
 * Trims a record kept oldest first to about its `keep` most recent entries, passing the dropped
 * ones to `forget`. It trims a tenth at a time, so the array moves once every `keep / 10` pushes
 * rather than on each: between `keep` and 1.1 × `keep` entries stay.
 */
export function keepRecent<T>(list: T[], keep: number, forget?: (item: T) => void): void {
  if (list.length <= keep + Math.ceil(keep / 10)) return;
  const dropped = list.splice(0, list.length - keep);
  if (forget) for (const item of dropped) forget(item);
}

/**
 * A request as a simulator records it. Its headers are copied out of the `Headers` (sorted, pair
 * by pair) only when a test or a fault reads them; a class, so no request builds its own getter.
 */
class RecordedRequest implements SimulatedRequest {
  readonly method: string;
  readonly url: string;
  #request: Request;
  #headers: Record<string, string> | undefined;

  constructor(
    request: Request,
    readonly body: string,
  ) {
    this.method = request.method;
    this.url = request.url;
    this.#request = request;
  }

  get headers(): Record<string, string> {
    return (this.#headers ??= Object.fromEntries(this.#request.headers));
  }

  set headers(value: Record<string, string>) {
    this.#headers = value;
  }

  toJSON(): SimulatedRequest {
    return { method: this.method, url: this.url, headers: this.headers, body: this.body };
  }
}

/** ofetch already hands over a `Headers`: used as it is rather than copied. */
const headersOf = (init: HeadersInit | undefined): Headers => (init instanceof Headers ? init : new Headers(init));

/**
 * What a Hono app reads of a request (url, method, headers, body as text or JSON), without undici
 * building a `Request` and a body stream for every simulated call: on Node 20 that costs more than
 * the simulated API itself. Anything else falls back to a real `Request`, built on first use.
 */
class LightRequest {
  readonly [IN_PROCESS] = true;
  #real: Request | undefined;

  constructor(
    readonly url: string,
    readonly method: string,
    readonly headers: Headers,
    private readonly content: string,
  ) {}

  text(): Promise<string> {
    return Promise.resolve(this.content);
  }

  json(): Promise<unknown> {
    return Promise.resolve().then(() => JSON.parse(this.content) as unknown);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.real().arrayBuffer();
  }

  blob(): Promise<Blob> {
    return this.real().blob();
  }

  formData(): Promise<FormData> {
    return this.real().formData();
  }

  clone(): Request {
    return this.real().clone();
  }

  private real(): Request {
    return (this.#real ??= new Request(this.url, { method: this.method, headers: this.headers, ...(this.content && { body: this.content }) }));
  }
}

const lightRequest = (url: string, method: string, headers: Headers, body: string): Request =>
  new LightRequest(url, method, headers, body) as unknown as Request;

/**
 * A new Hono app for a vendor simulator. Requests that come through the simulator's own `fetch`
 * are answered with light responses (see `simulatedResponse`): `c.json`, `c.text`, `c.body`,
 * `c.header` and `c.status` behave as in Hono, without an undici `Response` and its web stream per
 * answer, which cost more than the simulated API. That took the engine's sandbox benchmark from
 * about 9,000 to about 13,000 deliveries/s. Served over HTTP, the app answers real `Response`s.
 */
export function createSimulatorApp(): Hono {
  const app = new Hono();
  app.use((c, next) => {
    if ((c.req.raw as unknown as Record<symbol, unknown>)[IN_PROCESS]) answerLightly(c);
    return next();
  });
  return app;
}

type Init = number | ResponseInit | undefined;
type HeaderRecord = Record<string, string | string[]>;

/** The status and headers a light answer is building, kept on Hono's context. */
const ANSWER = Symbol("meshwork.simulator.answer");
type LightContext = { [ANSWER]: { status: number; headers: Record<string, string> } };

/** Hono's answer methods, light: shared functions over the context's `ANSWER`, none built per request. */
const lightMethods = {
  status(this: LightContext, code: number) {
    this[ANSWER].status = code;
  },
  header(this: LightContext, name: string, value: string | undefined) {
    const headers = this[ANSWER].headers;
    if (value === undefined) delete headers[name.toLowerCase()];
    else headers[name.toLowerCase()] = value;
  },
  json(this: LightContext, data: unknown, init?: Init, extra?: HeaderRecord) {
    return answer(this, JSON.stringify(data), "application/json", init, extra);
  },
  text(this: LightContext, text: string, init?: Init, extra?: HeaderRecord) {
    return answer(this, text, "text/plain; charset=UTF-8", init, extra);
  },
  body(this: LightContext, data: string | null, init?: Init, extra?: HeaderRecord) {
    return answer(this, data, undefined, init, extra);
  },
};

function answerLightly(c: Context): void {
  // Plain stores into Hono's own fields: an `Object.assign` here cost more than the assignments.
  const light = c as unknown as typeof lightMethods & LightContext;
  light.status = lightMethods.status;
  light.header = lightMethods.header;
  light.json = lightMethods.json;
  light.text = lightMethods.text;
  light.body = lightMethods.body;
  light[ANSWER] = { status: 200, headers: {} };
}

function answer(c: LightContext, body: string | null, type: string | undefined, init: Init, extra: HeaderRecord | undefined): Response {
  const merged: Record<string, string> = { ...c[ANSWER].headers };
  if (type && body !== null) merged["content-type"] = type;
  if (typeof init === "object" && init.headers) mergeHeaders(merged, init.headers);
  if (extra) mergeHeaders(merged, extra);
  return simulatedResponse(body, typeof init === "number" ? init : (init?.status ?? c[ANSWER].status), merged);
}

function mergeHeaders(into: Record<string, string>, source: HeadersInit | HeaderRecord): void {
  const pairs = source instanceof Headers || Array.isArray(source) ? source : Object.entries(source);
  for (const [name, value] of pairs as Iterable<[string, string | string[]]>) into[name.toLowerCase()] = String(value);
}

/**
 * A simulator's answer: what ofetch, the request client and tests read of a `Response` (status,
 * headers, the body as text, JSON or bytes, clone), with the body kept as the string it is.
 */
export function simulatedResponse(body: string | null, status: number, headers: Record<string, string>): Response {
  const response = {
    status,
    statusText: "",
    ok: status >= 200 && status < 300,
    redirected: false,
    type: "basic",
    url: "",
    headers: new SimulatedHeaders(headers),
    body,
    bodyUsed: false,
    text: () => Promise.resolve(body ?? ""),
    json: () => Promise.resolve().then(() => JSON.parse(body ?? "") as unknown),
    arrayBuffer: () => Promise.resolve(bytesOf(body)),
    blob: () => Promise.resolve(new Blob([bytesOf(body)], { type: response.headers.get("content-type") ?? "" })),
    clone: () => simulatedResponse(body, status, Object.fromEntries(response.headers)),
  };
  return response as unknown as Response;
}

type HeaderEntries = ReturnType<Headers["entries"]>;

/**
 * A simulated answer's headers: a real `Headers` (`instanceof` holds) whose values live in the
 * record of lowercase names the simulator built, read without undici's per-call validation.
 * Building an undici `Headers` from a record cost about 1 µs per answer.
 */
class SimulatedHeaders extends Headers {
  readonly #values: Record<string, string>;

  constructor(values: Record<string, string>) {
    super();
    // The simulator's own answers come with lowercase names already; injected faults may not.
    let lowercase = true;
    for (const name in values) if (name !== name.toLowerCase()) lowercase = false;
    this.#values = lowercase ? values : Object.fromEntries(Object.entries(values).map(([name, value]) => [name.toLowerCase(), String(value)]));
  }

  override get(name: string): string | null {
    const key = name.toLowerCase();
    return Object.hasOwn(this.#values, key) ? this.#values[key]! : null;
  }

  override has(name: string): boolean {
    return Object.hasOwn(this.#values, name.toLowerCase());
  }

  override set(name: string, value: string): void {
    this.#values[name.toLowerCase()] = String(value);
  }

  override append(name: string, value: string): void {
    const previous = this.get(name);
    this.set(name, previous === null ? value : `${previous}, ${value}`);
  }

  override delete(name: string): void {
    delete this.#values[name.toLowerCase()];
  }

  override getSetCookie(): string[] {
    const cookie = this.get("set-cookie");
    return cookie === null ? [] : [cookie];
  }

  /** The names in the order `Headers` iterates: sorted. */
  #names(): string[] {
    return Object.keys(this.#values).sort();
  }

  override entries(): HeaderEntries {
    return this.#names().map((name): [string, string] => [name, this.#values[name]!])[Symbol.iterator]() as unknown as HeaderEntries;
  }

  override keys(): ReturnType<Headers["keys"]> {
    return this.#names()[Symbol.iterator]() as unknown as ReturnType<Headers["keys"]>;
  }

  override values(): ReturnType<Headers["values"]> {
    return this.#names().map((name) => this.#values[name]!)[Symbol.iterator]() as unknown as ReturnType<Headers["values"]>;
  }

  override forEach(callback: (value: string, name: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const name of this.#names()) callback.call(thisArg, this.#values[name]!, name, this);
  }

  override [Symbol.iterator](): HeaderEntries {
    return this.entries();
  }
}

/** An HTTP token (RFC 9110), what a header name must be. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What a header value must not hold: NUL, line breaks, and characters beyond Latin-1 (not a ByteString). */
const HEADER_VALUE_FORBIDDEN = /[\0\r\n\u0100-\uffff]/;

/**
 * The `Headers` ofetch builds for a request to a simulator (its `Headers` option): undici's
 * checks on names and values, and its trimming of values, without undici's WebIDL conversion,
 * which cost about 1.2 µs per request. The simulator reads the same object.
 */
export class SimulatorRequestHeaders extends SimulatedHeaders {
  constructor(init?: HeadersInit) {
    const values: Record<string, string> = {};
    const add = (name: string, value: string) => {
      const text = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
      if (!HEADER_NAME.test(name)) throw new TypeError(`Headers.append: "${name}" is an invalid header name.`);
      if (HEADER_VALUE_FORBIDDEN.test(text)) throw new TypeError(`Headers.append: "${text}" is an invalid header value.`);
      const key = name.toLowerCase();
      values[key] = Object.hasOwn(values, key) ? `${values[key]}, ${text}` : text;
    };
    if (init instanceof Headers || Array.isArray(init)) for (const [name, value] of init as Iterable<[string, string]>) add(name, value);
    else if (init) for (const name in init) add(name, (init as Record<string, string>)[name]!);
    super(values);
  }
}

function bytesOf(body: string | null): ArrayBuffer {
  const bytes = new TextEncoder().encode(body ?? "");
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function hang(signal: AbortSignal | null | undefined): Promise<Response> {
  return new Promise((_resolve, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

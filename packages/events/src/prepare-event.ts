import { MeshworkValidationError } from "./errors.js";
import type { StandardSchemaIssue, StandardSchemaV1 } from "./types.js";
import { uuidv7 } from "./uuid.js";

/** An event validated and serialized once at `emit`; `body` is reused in every batch that carries it. */
export interface PreparedEvent {
  /** The caller's id; a generated one is read from the body (`idOf`), not kept twice. */
  id?: string | undefined;
  body: string;
  bytes: number;
}

/** The id of a prepared or queued event: the given one, or the generated UUID at the start of its body. */
export const idOf = (event: { id?: string | undefined; body: string }): string => event.id ?? event.body.slice(7, 43);

export interface PrepareOptions {
  maxPayloadBytes: number;
  schemas?: Record<string, StandardSchemaV1 | undefined> | undefined;
}

const encoder = new TextEncoder();
let scratch: Uint8Array | undefined;

/** UTF-8 length of a string, counted by the platform's encoder into a reused buffer. */
export function byteLength(text: string): number {
  scratch ??= new Uint8Array(64 * 1024);
  const { read, written } = encoder.encodeInto(text, scratch);
  return read === text.length ? written : encoder.encode(text).length;
}

const invalid = (field: string, code: string, message: string, cause?: unknown) =>
  new MeshworkValidationError(field, code, message, cause);

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

const pathOf = (keys: Array<string | number>): string => {
  let path = "";
  for (const key of keys) {
    path += typeof key === "number" ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  }
  return path.startsWith(".") ? path.slice(1) : path;
};

/** Throws on anything JSON cannot carry faithfully: BigInt, functions, symbols, cycles. */
function assertJson(value: unknown, keys: Array<string | number>, ancestors: object[]): void {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
      return;
    case "object": {
      if (value === null || typeof (value as { toJSON?: unknown }).toJSON === "function") return;
      if (ancestors.includes(value)) throw invalid(pathOf(keys), "non_json_value", "circular reference");
      ancestors.push(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          keys.push(i);
          assertJson(value[i], keys, ancestors);
          keys.pop();
        }
      } else {
        for (const key of Object.keys(value)) {
          keys.push(key);
          assertJson((value as Record<string, unknown>)[key], keys, ancestors);
          keys.pop();
        }
      }
      ancestors.pop();
      return;
    }
    default:
      throw invalid(pathOf(keys), "non_json_value", `a ${typeof value} cannot be sent as JSON`);
  }
}

function checkSchema(schema: StandardSchemaV1, payload: unknown): unknown {
  let result: ReturnType<StandardSchemaV1["~standard"]["validate"]>;
  try {
    result = schema["~standard"].validate(payload);
  } catch (error) {
    throw invalid("payload", "schema_error", `the schema threw: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  if (typeof (result as { then?: unknown }).then === "function") {
    (result as Promise<unknown>).then(undefined, () => undefined);
    throw invalid("payload", "async_schema", "the schema validates asynchronously; only synchronous schemas are supported");
  }
  const { issues } = result as { issues?: ReadonlyArray<StandardSchemaIssue> };
  if (issues) {
    const issue = issues[0];
    const keys = (issue?.path ?? []).map((p) => {
      const key = typeof p === "object" ? p.key : p;
      return typeof key === "number" ? key : String(key);
    });
    throw invalid(pathOf(["payload", ...keys]), "schema_mismatch", issue?.message ?? "does not match the schema", issues);
  }
  return (result as { value: unknown }).value;
}

/** Whether a function or symbol hides anywhere JSON.stringify would silently drop it. */
function hasOpaque(value: object, depth: number): boolean {
  if (depth > 200) return true;
  const array = Array.isArray(value);
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    const type = typeof item;
    if (type === "object") {
      if (item !== null && typeof (item as { toJSON?: unknown }).toJSON !== "function" && hasOpaque(item as object, depth + 1)) return true;
    } else if (type === "function" || type === "symbol") {
      if (array || Object.prototype.hasOwnProperty.call(value, key)) return true;
    }
  }
  return false;
}

/** Validates an event and serializes it once; throws `MeshworkValidationError` naming the field. */
export function prepareEvent(input: unknown, options: PrepareOptions): PreparedEvent {
  if (!isPlainObject(input)) throw invalid("event", "invalid_event", "an event must be an object");
  const { event, resource, resource_id } = input;
  if (typeof event !== "string" || event.trim() === "") {
    throw invalid("event", "invalid_event", "`event` must be a non-empty string");
  }
  if (resource !== undefined && typeof resource !== "string") {
    throw invalid("resource", "invalid_event", "`resource` must be a string");
  }
  if (resource_id !== undefined && typeof resource_id !== "string") {
    throw invalid("resource_id", "invalid_event", "`resource_id` must be a string");
  }
  const given = input.id;
  if (given !== undefined && (typeof given !== "string" || given === "" || given.length > 200)) {
    throw invalid("id", "invalid_event", "`id` must be a non-empty string of at most 200 characters");
  }
  let payload = input.payload;
  const schema = options.schemas?.[event];
  if (schema) payload = checkSchema(schema, payload);
  if (!isPlainObject(payload)) throw invalid("payload", "invalid_payload", "`payload` must be a plain object");
  // One JSON.stringify makes the whole body (undefined members are left out); it finds cycles
  // and BigInts itself, and the slower walk only runs to name the field.
  const id = given ?? uuidv7();
  let body: string;
  try {
    body = JSON.stringify({ id, event, resource, resource_id, payload });
  } catch (error) {
    assertJson(payload, ["payload"], []);
    throw invalid("payload", "non_json_value", "cannot be serialized as JSON", error);
  }
  if (hasOpaque(payload, 0)) assertJson(payload, ["payload"], []);
  const bytes = byteLength(body);
  // The payload is no bigger than the body, so its own size is only worth measuring when the
  // body is over the limit: the body less the envelope (`{"id":…,"event":…,"payload":0}` less the 0).
  if (bytes > options.maxPayloadBytes) {
    const payloadBytes = bytes - (byteLength(JSON.stringify({ id, event, resource, resource_id, payload: 0 })) - 1);
    if (payloadBytes > options.maxPayloadBytes) {
      throw invalid(
        "payload",
        "payload_too_large",
        `${payloadBytes} bytes serialized, over the limit of ${options.maxPayloadBytes}`,
      );
    }
  }
  return { id: given, body, bytes };
}

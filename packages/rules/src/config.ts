import { z } from "zod";
import type { Destination } from "@meshwork/destination-kit";
import { CONDITION_OPS } from "./condition.js";
import { MeshworkConfigError, type ConfigProblem } from "./errors.js";
import { TRANSFORM_TYPES } from "./mapping.js";
import type {
  AccessKeyConfig,
  ConnectionConfig,
  MeshworkConfig,
  MeshworkConfigInput,
  RuleConfig,
  WorkspaceConfig,
} from "./types.js";

const ENV_MISSING = Symbol.for("meshwork.env-missing");
const SECRET = "[secret]";

interface MissingEnv {
  [ENV_MISSING]: string;
}

/**
 * Reads a secret from `process.env` when the configuration is loaded. A missing variable is not
 * thrown here but reported by `defineConfig` / `createEngine` with the config path that uses it,
 * e.g. `connections[0].credentials.accessToken: environment variable ACME_HUBSPOT_TOKEN is not set`.
 *
 * @example
 * credentials: { accessToken: env("ACME_HUBSPOT_TOKEN") }
 */
export function env(name: string, fallback?: string): string {
  const value = process.env[name];
  if (value !== undefined && value !== "") return value;
  if (fallback !== undefined) return fallback;
  const fail = () => {
    throw new MeshworkConfigError([{ path: `env("${name}")`, message: `environment variable ${name} is not set` }]);
  };
  const missing = {
    [ENV_MISSING]: name,
    toString: fail,
    [Symbol.toPrimitive]: fail,
    toJSON: () => `env("${name}") (not set)`,
  };
  return missing as unknown as string;
}

function isMissingEnv(value: unknown): value is MissingEnv {
  return typeof value === "object" && value !== null && ENV_MISSING in value;
}

// ─── Schemas ───────────────────────────────────────────────────────────────────────────────

/** Fields of Meshes' exports that carry no meaning here; accepted and dropped so an export loads as it is. */
const MESHES_EXTRAS = {
  created_by: z.unknown().optional(),
  created_at: z.unknown().optional(),
  updated_at: z.unknown().optional(),
  hidden: z.unknown().optional(),
  description: z.unknown().optional(),
};

const nonEmpty = z.string().min(1);
const rateLimitSchema = z.strictObject({ requests: z.number().int().positive(), perMs: z.number().int().positive() });
const retrySchema = z.strictObject({
  schedule: z.array(z.number().nonnegative()).min(1).optional(),
  jitter: z.number().min(0).max(1).optional(),
  maxRetryAfterMs: z.number().nonnegative().optional(),
});
const breakerSchema = z.strictObject({
  failureThreshold: z.number().int().nonnegative().optional(),
  cooldownMs: z.number().nonnegative().optional(),
  maxCooldownMs: z.number().nonnegative().optional(),
});

const workspaceSchema = z.strictObject({
  id: nonEmpty,
  name: nonEmpty,
  environment: z.enum(["production", "staging", "development"]),
  publishableKeys: z.array(z.string().min(8)).min(1),
  ...MESHES_EXTRAS,
  publishable_key: z.unknown().optional(),
});

const connectionSchema = z.strictObject({
  id: nonEmpty,
  workspace: nonEmpty,
  type: nonEmpty,
  name: nonEmpty,
  mode: z.enum(["live", "sandbox"]).default("live"),
  credentials: z.record(z.string(), z.unknown()),
  rateLimit: rateLimitSchema.optional(),
  concurrency: z.number().int().positive().optional(),
  retry: retrySchema.optional(),
  breaker: breakerSchema.optional(),
  timeoutMs: z.number().int().positive().optional(),
  ...MESHES_EXTRAS,
  metadata: z.unknown().optional(),
  action_data: z.unknown().optional(),
});

const ruleSchema = z.strictObject({
  id: nonEmpty,
  workspace: nonEmpty,
  connection: nonEmpty,
  event: nonEmpty,
  resource: z.string().min(1).nullable().optional(),
  resource_id: z.string().min(1).nullable().optional(),
  when: z.unknown().optional(),
  metadata: z.looseObject({ action: nonEmpty }),
  mapping: z.unknown().optional(),
  active: z.boolean().optional(),
  ...MESHES_EXTRAS,
  type: z.string().optional(),
  name: z.unknown().optional(),
});

const accessKeySchema = z.strictObject({
  accessKey: nonEmpty,
  secretKey: z.string().min(16),
  workspaces: z.array(nonEmpty).min(1),
});

const configSchema = z.strictObject({
  workspaces: z.array(z.unknown()),
  connections: z.array(z.unknown()),
  rules: z.array(z.unknown()),
  accessKeys: z.array(z.unknown()).optional(),
});

const KNOWN_FIELDS: Record<string, string[]> = {
  workspaces: Object.keys(workspaceSchema.shape),
  connections: Object.keys(connectionSchema.shape),
  rules: Object.keys(ruleSchema.shape),
  accessKeys: Object.keys(accessKeySchema.shape),
  "": Object.keys(configSchema.shape),
};

// ─── Problems ──────────────────────────────────────────────────────────────────────────────

/** `["rules", 2, "metadata", "action"]` → `rules[2].metadata.action`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || "(config)";
}

function kindOf(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** ` — did you mean "x"?` when a candidate is close enough, else "". */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestScore = Infinity;
  const all = [...candidates];
  const prefixed = name.length >= 3 ? all.filter((c) => c.toLowerCase().startsWith(name.toLowerCase())) : [];
  if (prefixed.length === 1) return `; did you mean "${prefixed[0]}"?`;
  for (const candidate of all) {
    const score = distance(name.toLowerCase(), candidate.toLowerCase());
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(name.length / 3)) ? `; did you mean "${best}"?` : "";
}

function list(values: Iterable<string>): string {
  const items = [...values];
  return items.length ? items.join(", ") : "none";
}

function mask(key: string): string {
  return key.length > 14 ? `${key.slice(0, 12)}…` : key;
}

interface ZodIssueLike {
  code: string;
  path: PropertyKey[];
  message: string;
  expected?: string;
  values?: unknown[];
  keys?: string[];
  minimum?: number | bigint;
  maximum?: number | bigint;
  origin?: string;
}

/** Turns a zod issue into a problem at `prefix + issue.path`, with a message a person can act on. */
function issueProblem(issue: ZodIssueLike, prefix: PropertyKey[], root: unknown, known?: string[]): ConfigProblem[] {
  const path = [...prefix, ...issue.path];
  const actual = valueAt(root, path);
  switch (issue.code) {
    case "invalid_type":
      if (actual === undefined) return [{ path: formatPath(path), message: `is required (${issue.expected ?? "a value"})` }];
      return [{ path: formatPath(path), message: `must be ${issue.expected === "int" ? "an integer" : (issue.expected ?? "another type")}, got ${kindOf(actual)}` }];
    case "invalid_value":
      return [{ path: formatPath(path), message: `must be one of ${list((issue.values ?? []).map((v) => JSON.stringify(v)))}${typeof actual === "string" ? `, got ${JSON.stringify(actual)}${didYouMean(actual, (issue.values ?? []).map(String))}` : ""}` }];
    case "unrecognized_keys":
      return (issue.keys ?? []).map((key) => ({
        path: formatPath([...path, key]),
        message: `is not a known field${known ? didYouMean(key, known) : ""}${known ? ` (known: ${list(known.filter((k) => !(k in MESHES_EXTRAS)))})` : ""}`,
      }));
    case "too_small":
      if (issue.origin === "string" && Number(issue.minimum) === 1) return [{ path: formatPath(path), message: "must not be empty" }];
      if (issue.origin === "array") return [{ path: formatPath(path), message: `needs at least ${issue.minimum} item${Number(issue.minimum) === 1 ? "" : "s"}` }];
      if (issue.origin === "string") return [{ path: formatPath(path), message: `must be at least ${issue.minimum} characters long` }];
      return [{ path: formatPath(path), message: `must be at least ${issue.minimum}` }];
    case "too_big":
      return [{ path: formatPath(path), message: `must be at most ${issue.maximum}` }];
    default:
      return [{ path: formatPath(path), message: issue.message }];
  }
}

function parseInto<T>(schema: z.ZodType<T>, value: unknown, prefix: PropertyKey[], root: unknown, problems: ConfigProblem[], known?: string[]): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) problems.push(...issueProblem(issue as unknown as ZodIssueLike, prefix, root, known));
  return undefined;
}

// ─── when / mapping ────────────────────────────────────────────────────────────────────────

function checkCondition(value: unknown, path: PropertyKey[], problems: ConfigProblem[], depth = 0): void {
  const at = formatPath(path);
  if (depth > 32) return void problems.push({ path: at, message: "is nested too deeply (more than 32 levels)" });
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return void problems.push({ path: at, message: `must be a condition object ({ path, op, value } or { all | any | not }), got ${kindOf(value)}` });
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (const combinator of ["all", "any"] as const) {
    if (combinator in record) {
      if (keys.length !== 1) problems.push({ path: at, message: `"${combinator}" must be the only field of its object` });
      const items = record[combinator];
      if (!Array.isArray(items) || items.length === 0) return void problems.push({ path: formatPath([...path, combinator]), message: "must be a non-empty array of conditions" });
      items.forEach((item, i) => checkCondition(item, [...path, combinator, i], problems, depth + 1));
      return;
    }
  }
  if ("not" in record) {
    if (keys.length !== 1) problems.push({ path: at, message: `"not" must be the only field of its object` });
    return checkCondition(record.not, [...path, "not"], problems, depth + 1);
  }
  const allowed = ["path", "op", "value"];
  for (const key of keys) {
    if (!allowed.includes(key)) problems.push({ path: formatPath([...path, key]), message: `is not a field of a condition${didYouMean(key, [...allowed, "all", "any", "not"])} (a condition is { path, op, value } or { all | any | not })` });
  }
  if (typeof record.path !== "string" || record.path === "") problems.push({ path: formatPath([...path, "path"]), message: "must be a dot path into the payload, e.g. \"user.plan\"" });
  const op = record.op;
  if (typeof op !== "string" || !CONDITION_OPS.includes(op as never)) {
    return void problems.push({ path: formatPath([...path, "op"]), message: `must be one of ${list(CONDITION_OPS)}${typeof op === "string" ? `, got ${JSON.stringify(op)}${didYouMean(op, CONDITION_OPS)}` : ""}` });
  }
  const operand = record.value;
  const valuePath = formatPath([...path, "value"]);
  if ((op === "in" || op === "nin") && !Array.isArray(operand)) problems.push({ path: valuePath, message: `must be an array of candidates for "${op}"` });
  if (["gt", "gte", "lt", "lte"].includes(op) && typeof operand !== "number" && typeof operand !== "string") {
    problems.push({ path: valuePath, message: `must be a number or a string for "${op}"` });
  }
  if (op === "starts_with" && typeof operand !== "string") problems.push({ path: valuePath, message: `must be a string for "starts_with"` });
  if (op === "contains" && operand === undefined) problems.push({ path: valuePath, message: `is required for "contains"` });
  if ((op === "eq" || op === "neq") && operand === undefined) problems.push({ path: valuePath, message: `is required for "${op}" (use op "exists" to test for presence)` });
  if (op === "exists" && operand !== undefined && typeof operand !== "boolean") problems.push({ path: valuePath, message: `must be true, false or left out for "exists"` });
}

const ON_ERROR = ["skip_field", "warn_action", "fail_action"];

function checkMapping(value: unknown, path: PropertyKey[], problems: ConfigProblem[]): void {
  const at = formatPath(path);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return void problems.push({ path: at, message: `must be a mapping object { schema_version: 1, fields: [...] }, got ${kindOf(value)}` });
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!["schema_version", "fields", "meta"].includes(key)) problems.push({ path: formatPath([...path, key]), message: `is not a field of a mapping${didYouMean(key, ["schema_version", "fields", "meta"])}` });
  }
  if (record.schema_version !== 1) problems.push({ path: formatPath([...path, "schema_version"]), message: `must be 1 (the only mapping schema version), got ${JSON.stringify(record.schema_version) ?? "nothing"}` });
  if (!Array.isArray(record.fields)) return void problems.push({ path: formatPath([...path, "fields"]), message: "must be an array of fields { dest, source, transforms?, on_error? }" });
  const dests = new Map<string, number>();
  record.fields.forEach((field: unknown, i: number) => {
    const fieldPath = [...path, "fields", i];
    if (field === null || typeof field !== "object" || Array.isArray(field)) {
      return void problems.push({ path: formatPath(fieldPath), message: `must be an object { dest, source, transforms?, on_error? }, got ${kindOf(field)}` });
    }
    const f = field as Record<string, unknown>;
    const fieldKeys = ["dest", "source", "transforms", "on_error", "notes"];
    for (const key of Object.keys(f)) {
      if (!fieldKeys.includes(key)) problems.push({ path: formatPath([...fieldPath, key]), message: `is not a field of a mapping field${didYouMean(key, fieldKeys)}` });
    }
    if (typeof f.dest !== "string" || f.dest === "") problems.push({ path: formatPath([...fieldPath, "dest"]), message: "must be a non-empty string, the key in `mapped` (dots nest)" });
    else if (dests.has(f.dest)) problems.push({ path: formatPath([...fieldPath, "dest"]), message: `"${f.dest}" is already produced by fields[${dests.get(f.dest)}]` });
    else dests.set(f.dest, i);
    const source = f.source as Record<string, unknown> | undefined;
    if (!source || typeof source !== "object") {
      problems.push({ path: formatPath([...fieldPath, "source"]), message: `is required: { type: "path", value: "user.email" } or { type: "literal", value: … }` });
    } else if (source.type === "path") {
      if (typeof source.value !== "string" || source.value === "") problems.push({ path: formatPath([...fieldPath, "source", "value"]), message: "must be a dot path into the payload" });
    } else if (source.type === "literal") {
      const literal = source.value;
      if (!(literal === null || ["string", "number", "boolean"].includes(typeof literal))) problems.push({ path: formatPath([...fieldPath, "source", "value"]), message: "must be a string, number, boolean or null" });
    } else {
      problems.push({ path: formatPath([...fieldPath, "source", "type"]), message: `must be "path" or "literal"${typeof source.type === "string" ? `, got ${JSON.stringify(source.type)}` : ""}` });
    }
    if (f.on_error !== undefined && !ON_ERROR.includes(f.on_error as string)) {
      problems.push({ path: formatPath([...fieldPath, "on_error"]), message: `must be one of ${list(ON_ERROR)}${typeof f.on_error === "string" ? `, got ${JSON.stringify(f.on_error)}${didYouMean(f.on_error, ON_ERROR)}` : ""}` });
    }
    if (f.transforms !== undefined) {
      if (!Array.isArray(f.transforms)) return void problems.push({ path: formatPath([...fieldPath, "transforms"]), message: "must be an array of transforms" });
      f.transforms.forEach((transform: unknown, j: number) => checkTransform(transform, [...fieldPath, "transforms", j], problems));
    }
  });
}

function checkTransform(value: unknown, path: PropertyKey[], problems: ConfigProblem[]): void {
  const spec = typeof value === "string" ? { type: value } : value;
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    return void problems.push({ path: formatPath(path), message: `must be a transform such as "trim" or { type: "substring", start: 0, end: 10 }, got ${kindOf(value)}` });
  }
  const t = spec as Record<string, unknown>;
  const type = t.type;
  if (typeof type !== "string" || !TRANSFORM_TYPES.includes(type as never)) {
    return void problems.push({ path: formatPath(typeof value === "string" ? path : [...path, "type"]), message: `must be one of ${list(TRANSFORM_TYPES)}${typeof type === "string" ? `, got ${JSON.stringify(type)}${didYouMean(type, TRANSFORM_TYPES)}` : ""}` });
  }
  if (type === "default" && !("value" in t)) problems.push({ path: formatPath([...path, "value"]), message: `is required for "default" (the value used when the source has none)` });
  if (type === "default" && "value" in t && !(t.value === null || ["string", "number", "boolean"].includes(typeof t.value))) {
    problems.push({ path: formatPath([...path, "value"]), message: "must be a string, number, boolean or null" });
  }
  if (type === "substring") {
    if (!Number.isInteger(t.start)) problems.push({ path: formatPath([...path, "start"]), message: "must be an integer" });
    for (const key of ["end", "length"] as const) {
      if (t[key] !== undefined && !Number.isInteger(t[key])) problems.push({ path: formatPath([...path, key]), message: "must be an integer" });
    }
  }
  if ((type === "to_date" || type === "to_datetime") && t.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: String(t.timezone) });
    } catch {
      problems.push({ path: formatPath([...path, "timezone"]), message: `${JSON.stringify(t.timezone)} is not an IANA time zone (e.g. "Europe/Paris")` });
    }
  }
}

// ─── Validation ────────────────────────────────────────────────────────────────────────────

interface Checked {
  problems: ConfigProblem[];
  config?: Omit<MeshworkConfig, "kind">;
}

function findMissingEnv(value: unknown, path: PropertyKey[], problems: ConfigProblem[], seen = new Set<unknown>()): void {
  if (isMissingEnv(value)) {
    const name = value[ENV_MISSING];
    problems.push({ path: formatPath(path), message: `environment variable ${name} is not set (read with env("${name}")); set it before loading the config, or give a fallback: env("${name}", "…")` });
    return;
  }
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) value.forEach((item, i) => findMissingEnv(item, [...path, i], problems, seen));
  else for (const [key, item] of Object.entries(value)) findMissingEnv(item, [...path, key], problems, seen);
}

/** Structural checks and the cross-references that need no destination. */
function checkStructure(input: unknown): Checked {
  const problems: ConfigProblem[] = [];
  findMissingEnv(input, [], problems);
  const top = parseInto(configSchema, input, [], input, problems, KNOWN_FIELDS[""]);
  if (!top) return { problems };

  const workspaces: WorkspaceConfig[] = [];
  const connections: ConnectionConfig[] = [];
  const rules: RuleConfig[] = [];
  const accessKeys: AccessKeyConfig[] = [];

  const workspaceIndex = new Map<string, number>();
  const keyOwner = new Map<string, { workspace: string; index: number }>();
  top.workspaces.forEach((raw, i) => {
    const parsed = parseInto(workspaceSchema, raw, ["workspaces", i], input, problems, KNOWN_FIELDS.workspaces);
    if (!parsed) return;
    if (workspaceIndex.has(parsed.id)) {
      problems.push({ path: `workspaces[${i}].id`, message: `duplicate workspace id "${parsed.id}" (also workspaces[${workspaceIndex.get(parsed.id)}]); ids must be unique` });
      return;
    }
    workspaceIndex.set(parsed.id, i);
    parsed.publishableKeys.forEach((key, k) => {
      const owner = keyOwner.get(key);
      if (owner && owner.workspace !== parsed.id) {
        problems.push({ path: `workspaces[${i}].publishableKeys[${k}]`, message: `publishable key "${mask(key)}" is already used by workspace "${owner.workspace}" (workspaces[${owner.index}]); a key must name exactly one workspace, so give each workspace its own` });
      } else if (!owner) keyOwner.set(key, { workspace: parsed.id, index: i });
    });
    workspaces.push({
      id: parsed.id,
      name: parsed.name,
      environment: parsed.environment,
      publishableKeys: [...new Set(parsed.publishableKeys)],
      ...(typeof parsed.description === "string" && { description: parsed.description }),
    });
  });
  const workspaceIds = [...workspaceIndex.keys()];
  const unknownWorkspace = (id: string) =>
    `workspace "${id}" is not defined${didYouMean(id, workspaceIds)} (workspaces: ${list(workspaceIds)})`;

  const connectionIndex = new Map<string, number>();
  top.connections.forEach((raw, i) => {
    const parsed = parseInto(connectionSchema, raw, ["connections", i], input, problems, KNOWN_FIELDS.connections);
    if (!parsed) return;
    if (connectionIndex.has(parsed.id)) {
      problems.push({ path: `connections[${i}].id`, message: `duplicate connection id "${parsed.id}" (also connections[${connectionIndex.get(parsed.id)}]); ids must be unique across workspaces` });
      return;
    }
    if (!workspaceIndex.has(parsed.workspace)) problems.push({ path: `connections[${i}].workspace`, message: unknownWorkspace(parsed.workspace) });
    connectionIndex.set(parsed.id, i);
    connections.push({
      id: parsed.id,
      workspace: parsed.workspace,
      type: parsed.type,
      name: parsed.name,
      mode: parsed.mode,
      credentials: parsed.credentials,
      ...(parsed.rateLimit && { rateLimit: parsed.rateLimit }),
      ...(parsed.concurrency !== undefined && { concurrency: parsed.concurrency }),
      ...(parsed.retry && { retry: parsed.retry }),
      ...(parsed.breaker && { breaker: parsed.breaker }),
      ...(parsed.timeoutMs !== undefined && { timeoutMs: parsed.timeoutMs }),
    });
  });

  const ruleIndex = new Map<string, number>();
  top.rules.forEach((raw, i) => {
    const parsed = parseInto(ruleSchema, raw, ["rules", i], input, problems, KNOWN_FIELDS.rules);
    if (!parsed) return;
    if (ruleIndex.has(parsed.id)) {
      problems.push({ path: `rules[${i}].id`, message: `duplicate rule id "${parsed.id}" (also rules[${ruleIndex.get(parsed.id)}]); ids must be unique across workspaces` });
      return;
    }
    ruleIndex.set(parsed.id, i);
    if (!workspaceIndex.has(parsed.workspace)) problems.push({ path: `rules[${i}].workspace`, message: unknownWorkspace(parsed.workspace) });
    const connectionAt = connectionIndex.get(parsed.connection);
    const connection = connectionAt === undefined ? undefined : connections.find((c) => c.id === parsed.connection);
    if (!connection) {
      const own = connections.filter((c) => c.workspace === parsed.workspace).map((c) => c.id);
      problems.push({ path: `rules[${i}].connection`, message: `connection "${parsed.connection}" is not defined${didYouMean(parsed.connection, own)} (connections of workspace "${parsed.workspace}": ${list(own)})` });
    } else if (connection.workspace !== parsed.workspace) {
      problems.push({ path: `rules[${i}].connection`, message: `connection "${connection.id}" belongs to workspace "${connection.workspace}", not "${parsed.workspace}"; a rule can only use connections of its own workspace` });
    } else if (parsed.type !== undefined && parsed.type !== connection.type) {
      problems.push({ path: `rules[${i}].type`, message: `is "${parsed.type}" but connection "${connection.id}" is of type "${connection.type}"` });
    }
    if (parsed.when !== undefined) checkCondition(parsed.when, ["rules", i, "when"], problems);
    if (parsed.mapping !== undefined && parsed.mapping !== null) checkMapping(parsed.mapping, ["rules", i, "mapping"], problems);
    const { action, ...fields } = parsed.metadata;
    rules.push({
      id: parsed.id,
      workspace: parsed.workspace,
      connection: parsed.connection,
      event: parsed.event,
      resource: parsed.resource ?? null,
      resource_id: parsed.resource_id ?? null,
      ...(parsed.when !== undefined && { when: parsed.when as RuleConfig["when"] }),
      metadata: { action, ...fields },
      ...(parsed.mapping !== undefined && parsed.mapping !== null && { mapping: parsed.mapping as RuleConfig["mapping"] }),
      active: parsed.active ?? true,
    });
  });

  const accessKeyIndex = new Map<string, number>();
  (top.accessKeys ?? []).forEach((raw, i) => {
    const parsed = parseInto(accessKeySchema, raw, ["accessKeys", i], input, problems, KNOWN_FIELDS.accessKeys);
    if (!parsed) return;
    if (accessKeyIndex.has(parsed.accessKey)) {
      problems.push({ path: `accessKeys[${i}].accessKey`, message: `duplicate access key (also accessKeys[${accessKeyIndex.get(parsed.accessKey)}])` });
      return;
    }
    accessKeyIndex.set(parsed.accessKey, i);
    parsed.workspaces.forEach((id, w) => {
      if (!workspaceIndex.has(id)) problems.push({ path: `accessKeys[${i}].workspaces[${w}]`, message: unknownWorkspace(id) });
    });
    accessKeys.push({ accessKey: parsed.accessKey, secretKey: parsed.secretKey, workspaces: parsed.workspaces });
  });

  return { problems, config: { workspaces, connections, rules, accessKeys } };
}

/** Checks that need the destinations: connection types, credentials, actions and their metadata. */
function checkAgainstDestinations(config: Omit<MeshworkConfig, "kind">, raw: unknown, destinations: readonly Destination[], problems: ConfigProblem[]): void {
  const byType = new Map(destinations.map((d) => [d.type, d]));
  const rawConnections = (raw as { connections?: unknown[] }).connections ?? [];
  const rawRules = (raw as { rules?: unknown[] }).rules ?? [];
  const connectionType = new Map<string, string>();

  for (const connection of config.connections) {
    const i = rawConnections.findIndex((c) => (c as { id?: unknown })?.id === connection.id);
    const destination = byType.get(connection.type);
    connectionType.set(connection.id, connection.type);
    if (!destination) {
      problems.push({
        path: `connections[${i}].type`,
        message: `"${connection.type}" is not a destination this engine knows${didYouMean(connection.type, byType.keys())} (known: ${list(byType.keys())}); pass it to createEngine({ destinations: [...] })`,
      });
      continue;
    }
    const result = destination.credentials.safeParse(connection.credentials);
    if (!result.success) {
      const shape = (destination.credentials as unknown as { shape?: Record<string, unknown> }).shape;
      const hint = shape ? `; ${destination.type} credentials are { ${Object.keys(shape).join(", ")} }` : "";
      for (const issue of result.error.issues) {
        const path = ["connections", i, "credentials", ...issue.path];
        if (isMissingEnv(valueAt(raw, path))) continue;
        for (const problem of issueProblem(issue as unknown as ZodIssueLike, ["connections", i, "credentials"], raw)) {
          problems.push({ path: problem.path, message: `${problem.message}${hint}` });
        }
      }
    }
  }

  for (const rule of config.rules) {
    const i = rawRules.findIndex((r) => (r as { id?: unknown })?.id === rule.id);
    const type = connectionType.get(rule.connection);
    const destination = type === undefined ? undefined : byType.get(type);
    if (!destination) continue;
    const actions = Object.keys(destination.actions);
    const action = destination.actions[rule.metadata.action];
    if (!action) {
      problems.push({
        path: `rules[${i}].metadata.action`,
        message: `"${rule.metadata.action}" is not an action of ${destination.type} (${list(actions)})${didYouMean(rule.metadata.action, actions)}`,
      });
      continue;
    }
    const { action: _action, ...fields } = rule.metadata;
    const result = action.metadata.safeParse(fields);
    if (result.success) continue;
    for (const issue of result.error.issues) {
      // A `{{template}}` is only known after rendering: runAction checks it then.
      if (issue.path.some((_key: PropertyKey, n: number) => isTemplate(valueAt(fields, issue.path.slice(0, n + 1))))) continue;
      if (issue.path.length === 0 && Object.values(fields).some(isTemplate)) continue;
      for (const problem of issueProblem(issue as unknown as ZodIssueLike, ["rules", i, "metadata"], raw)) {
        problems.push({ path: problem.path, message: `${problem.message} (metadata of ${destination.type}.${rule.metadata.action})` });
      }
    }
  }
}

function isTemplate(value: unknown): boolean {
  return typeof value === "string" && value.includes("{{");
}

/**
 * Every problem with a configuration, each with its path and a suggested fix; empty when it can
 * run. Pass the destinations to also check connection types, credentials, actions and metadata
 * (what `createEngine` does). Never throws; a CLI can print the list.
 *
 * @example
 * for (const p of validateConfig(config, [hubspot()])) console.error(`${p.path}: ${p.message}`);
 */
export function validateConfig(config: MeshworkConfigInput | MeshworkConfig | unknown, destinations?: readonly Destination[]): ConfigProblem[] {
  const raw = isConfig(config) ? rawOf(config) : config;
  const { problems, config: checked } = checkStructure(raw);
  if (checked && destinations) checkAgainstDestinations(checked, raw, destinations, problems);
  return problems;
}

const RAW = Symbol("meshwork.config.raw");

function isConfig(value: unknown): value is MeshworkConfig {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "meshwork.config";
}

function rawOf(config: MeshworkConfig): unknown {
  return (config as unknown as { [RAW]?: unknown })[RAW] ?? { ...config, kind: undefined };
}

/** Drops secrets from a config for printing. */
function redacted(config: Omit<MeshworkConfig, "kind">) {
  return {
    workspaces: config.workspaces,
    connections: config.connections.map((c) => ({ ...c, credentials: Object.fromEntries(Object.keys(c.credentials).map((k) => [k, SECRET])) })),
    rules: config.rules,
    accessKeys: config.accessKeys.map((k) => ({ ...k, secretKey: SECRET })),
  };
}

/**
 * Checks a configuration's shape and cross-references and returns it typed and normalized
 * (`active` defaults to true, `resource`/`resource_id` to null, `mode` to live). Throws a
 * `MeshworkConfigError` listing every problem. Checks that need the destinations (actions,
 * metadata and credential schemas) run in `createEngine` and `validateConfig`. Fields that
 * Meshes' exports carry (`created_at`, `hidden`, a rule's `type`, …) are accepted and dropped.
 * Secrets are hidden when the result is printed or serialized.
 *
 * @example
 * export default defineConfig({
 *   workspaces: [{ id: "acme-prod", name: "Acme", environment: "production", publishableKeys: ["mw_pub_8kq2…"] }],
 *   connections: [{ id: "acme-hubspot", workspace: "acme-prod", type: "hubspot", name: "HubSpot",
 *                   mode: "live", credentials: { accessToken: env("ACME_HUBSPOT_TOKEN") } }],
 *   rules: [{ id: "onboarding-step", workspace: "acme-prod", connection: "acme-hubspot", event: "page.completed",
 *             metadata: { action: "update_property", id: "onboarding_step", value: "{{sequence_step}}" } }],
 * });
 */
export function defineConfig(input: MeshworkConfigInput | MeshworkConfig): MeshworkConfig {
  if (isConfig(input)) return input;
  const { problems, config } = checkStructure(input);
  if (problems.length || !config) throw new MeshworkConfigError(problems);
  const result = { kind: "meshwork.config" as const, ...config };
  Object.defineProperty(result, RAW, { value: input, enumerable: false });
  Object.defineProperty(result, "toJSON", { value: () => ({ kind: result.kind, ...redacted(config) }), enumerable: false });
  Object.defineProperty(result, Symbol.for("nodejs.util.inspect.custom"), {
    value: () => ({ kind: result.kind, ...redacted(config) }),
    enumerable: false,
  });
  return Object.freeze(result);
}

/** `defineConfig` plus the destination checks; what `createEngine` runs. */
export function resolveConfig(input: MeshworkConfigInput | MeshworkConfig, destinations: readonly Destination[]): MeshworkConfig {
  const config = defineConfig(input);
  const problems: ConfigProblem[] = [];
  checkAgainstDestinations(config, rawOf(config), destinations, problems);
  if (problems.length) throw new MeshworkConfigError(problems);
  return config;
}

import { MeshworkConfigError, type ConfigProblem } from "./errors.js";
import type { AccessKeyConfig, ConnectionConfig, Environment, Mapping, MeshworkConfigInput, RuleConfig, WorkspaceConfig } from "./types.js";

type Listing<T> = T[] | { records: T[] };

/** A workspace as Meshes' management API returns it. */
export interface MeshesWorkspace {
  id: string;
  name?: string;
  description?: string | null;
  publishable_key?: { public_key: string; name?: string } | null;
  [field: string]: unknown;
}

/** A connection as Meshes returns it: no credentials, connector settings in `metadata`. */
export interface MeshesConnection {
  id: string;
  workspace: string;
  type: string;
  name: string;
  metadata?: Record<string, unknown>;
  [field: string]: unknown;
}

/** A rule as Meshes returns it (`GET /api/v1/rules`). */
export interface MeshesRule {
  id: string;
  workspace: string;
  connection: string;
  event: string;
  type?: string;
  resource?: string | null;
  resource_id?: string | null;
  metadata: { action: string; [field: string]: unknown };
  active?: boolean;
  mapping?: Mapping;
  [field: string]: unknown;
}

/** A connection's default mapping as Meshes returns it (`GET /connections/{id}/mappings/default`). */
export interface MeshesDefaultMapping {
  connection_id: string;
  schema: Mapping;
  [field: string]: unknown;
}

/** What a Meshes export holds: each list either plain or as the API's `{ records }` page. */
export interface MeshesExport {
  workspaces?: Listing<MeshesWorkspace>;
  connections?: Listing<MeshesConnection>;
  rules: Listing<MeshesRule>;
  mappings?: Listing<MeshesDefaultMapping | { mapping: MeshesDefaultMapping }>;
}

/** What Meshes does not export and Meshwork needs. */
export interface FromMeshesOptions {
  /** Credentials per connection id; Meshes never returns them. */
  credentials?: Record<string, Record<string, unknown>>;
  /** Per workspace id: environment, publishable keys (added to the exported one) and name. */
  workspaces?: Record<string, { environment?: Environment; publishableKeys?: string[]; name?: string }>;
  /** Environment of workspaces not listed in `workspaces`. Default `"production"`. */
  environment?: Environment;
  /** Mode of every connection. Default `"live"`; `"sandbox"` runs the same rules against simulators. */
  mode?: "live" | "sandbox";
  /** Per connection id: anything else to set (rate limit, retry, mode…). */
  connections?: Record<string, Partial<Omit<ConnectionConfig, "id" | "workspace" | "type">>>;
  accessKeys?: AccessKeyConfig[];
}

function records<T>(listing: Listing<T> | undefined): T[] {
  if (!listing) return [];
  return Array.isArray(listing) ? listing : Array.isArray(listing.records) ? listing.records : [];
}

/**
 * Turns a Meshes export (the JSON of its `rules`, `connections`, `workspaces` and default-mapping
 * endpoints) into a Meshwork configuration input, ready for `defineConfig`. Rules keep their
 * Meshes shape; what Meshes does not export (credentials, environments, extra publishable keys)
 * comes from `options`. A connection's default mapping applies to its rules that have none.
 *
 * @example
 * const config = defineConfig(fromMeshesExport(JSON.parse(await readFile("meshes-export.json", "utf8")), {
 *   credentials: { "0b6c…": { accessToken: env("HUBSPOT_TOKEN") } },
 *   workspaces: { "5d1e…": { environment: "production", publishableKeys: ["mw_pub_…"] } },
 * }));
 */
export function fromMeshesExport(data: MeshesExport, options: FromMeshesOptions = {}): MeshworkConfigInput {
  const problems: ConfigProblem[] = [];
  const rules = records(data.rules);
  const connections = records(data.connections);
  const exportedWorkspaces = records(data.workspaces);
  const defaults = new Map<string, Mapping>();
  for (const entry of records(data.mappings)) {
    const mapping = "mapping" in entry && entry.mapping && typeof entry.mapping === "object" && "schema" in entry.mapping ? entry.mapping : entry;
    const m = mapping as MeshesDefaultMapping;
    if (m.connection_id && m.schema) defaults.set(m.connection_id, m.schema);
  }

  const workspaceIds = new Set<string>(exportedWorkspaces.map((w) => w.id));
  for (const item of [...connections, ...rules]) if (typeof item.workspace === "string") workspaceIds.add(item.workspace);

  const workspaces: WorkspaceConfig[] = [...workspaceIds].map((id, i) => {
    const exported = exportedWorkspaces.find((w) => w.id === id);
    const extra = options.workspaces?.[id] ?? {};
    const keys = [...(exported?.publishable_key?.public_key ? [exported.publishable_key.public_key] : []), ...(extra.publishableKeys ?? [])];
    if (keys.length === 0) {
      problems.push({ path: `workspaces[${i}].publishableKeys`, message: `workspace "${id}" has no publishable key: the export holds none, so pass fromMeshesExport(data, { workspaces: { "${id}": { publishableKeys: ["…"] } } })` });
    }
    return {
      id,
      name: extra.name ?? exported?.name ?? id,
      environment: extra.environment ?? options.environment ?? "production",
      publishableKeys: keys,
      ...(typeof exported?.description === "string" && { description: exported.description }),
    };
  });

  const connectionConfigs: ConnectionConfig[] = connections.map((c) => {
    const override = options.connections?.[c.id] ?? {};
    return {
      id: c.id,
      workspace: c.workspace,
      type: c.type,
      name: c.name,
      mode: override.mode ?? options.mode ?? "live",
      credentials: { ...(options.credentials?.[c.id] ?? {}), ...(override.credentials ?? {}) },
      ...override,
    } as ConnectionConfig;
  });

  const ruleConfigs: RuleConfig[] = rules.map((rule) => {
    const mapping = rule.mapping ?? defaults.get(rule.connection);
    const copy: Record<string, unknown> = { ...rule };
    if (mapping) copy.mapping = mapping;
    return copy as unknown as RuleConfig;
  });

  if (problems.length) throw new MeshworkConfigError(problems);
  return {
    workspaces,
    connections: connectionConfigs,
    rules: ruleConfigs,
    ...(options.accessKeys && { accessKeys: options.accessKeys }),
  };
}

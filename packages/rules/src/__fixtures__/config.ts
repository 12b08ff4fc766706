import type { ConnectionConfig, MeshworkConfigInput, RuleConfig } from "../types.js";
import { ACME_TOKEN } from "./destinations.js";

export const KEY_A = "mw_pub_acme_0123456789";
export const KEY_B = "mw_pub_beta_0123456789";

/** A sandbox acme connection in `workspace`. */
export function acmeConnection(id: string, workspace = "acme-prod", extra: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return { id, workspace, type: "acme", name: id, mode: "sandbox", credentials: { token: ACME_TOKEN }, ...extra };
}

/** A rule adding a note through `connection`. */
export function noteRule(id: string, connection: string, extra: Partial<RuleConfig> = {}, workspace = "acme-prod"): RuleConfig {
  return {
    id,
    workspace,
    connection,
    event: "page.completed",
    metadata: { action: "add_note", contact: "{{email}}", text: `step {{sequence_step}} via ${id}` },
    ...extra,
  };
}

/** One workspace (acme-prod, key KEY_A) plus whatever connections and rules are given. */
export function config(connections: ConnectionConfig[], rules: RuleConfig[], more: Partial<MeshworkConfigInput> = {}): MeshworkConfigInput {
  return {
    workspaces: [
      { id: "acme-prod", name: "Acme", environment: "production", publishableKeys: [KEY_A] },
      { id: "beta-prod", name: "Beta", environment: "production", publishableKeys: [KEY_B] },
    ],
    connections,
    rules,
    ...more,
  };
}

export const payload = { email: "alex@northstar.io", user_id: "usr_5012", sequence_step: 3 };

export function pageCompleted(id: string, extra: Record<string, unknown> = {}) {
  return { id, event: "page.completed", resource: "onboarding_sequence", resource_id: "workspace-setup", payload: { ...payload, ...extra } };
}

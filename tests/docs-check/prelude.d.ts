// Names the guides use without defining them: the reader's own data and functions, the
// `...` of a snippet. Placeholders only — never a Meshwork API, so a guide that forgets an
// import still fails. Each code block is a module: its own declarations win over these.
import type { ConnectionConfig, Engine, IngestEvent, RuleConfig, WorkspaceConfig } from "@meshwork/rules";
import type { MeshworkClient } from "@meshwork/events";

declare global {
  /** `defineConfig({ workspaces, connections, rules })` in an entry-point snippet. */
  const workspaces: WorkspaceConfig[];
  const connections: ConnectionConfig[];
  const rules: RuleConfig[];
  /** A batch handed to `engine.ingest(events, { publishableKey })`. */
  const events: IngestEvent[];
  /** Settings a snippet passes on without saying where they come from. */
  const publishableKey: string;
  const endpoint: string;
  /** An engine or a client created earlier in the guide. */
  const engine: Engine;
  const meshwork: MeshworkClient;
  /** A receiver's own dedupe store and work queue. */
  function alreadyProcessed(id: string): Promise<boolean>;
  function enqueue(id: string, payload: unknown): Promise<void>;
}

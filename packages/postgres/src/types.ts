import type { Pool } from "pg";

/** Options of `postgresStore`. Give `connectionString` or `pool`. */
export interface PostgresStoreOptions {
  /** e.g. `postgres://user:pass@host:5432/db`; the store makes and ends its own pool. */
  connectionString?: string;
  /** Your own `pg.Pool`; the store borrows connections and never ends it. */
  pool?: Pool;
  /** The Postgres schema holding Meshwork's tables. Default `meshwork`. */
  schema?: string;
  /** Run the migrations on `open()` (engine start). Default true; turn off when the app's role may not create tables and run `migrate()` at deploy. */
  migrate?: boolean;
  /** Connections in the store's own pool. Default 10. */
  max?: number;
  /**
   * Wake idle workers with LISTEN/NOTIFY when deliveries are stored or put back in the queue.
   * Default true; without it workers find new work by polling (`pollIntervalMs` of the engine).
   */
  notify?: boolean;
  /**
   * Most request tokens one process takes from a connection's shared bucket per round trip.
   * Default 32, and never more than about 50 ms of the connection's rate, so tokens are spent at
   * once and the limit holds across processes.
   */
  tokenBatch?: number;
}

/** Options of `migrate`. */
export interface MigrateOptions {
  connectionString?: string;
  pool?: Pool;
  /** Default `meshwork`. */
  schema?: string;
}

/** What `migrate` did: the schema's version before and after. */
export interface MigrateResult {
  schema: string;
  from: number;
  to: number;
}

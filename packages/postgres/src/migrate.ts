import { MeshworkRulesError } from "@meshwork/rules";
import pg from "pg";
import { migrations, quoteSchema } from "./schema.js";
import type { MigrateOptions, MigrateResult } from "./types.js";
import { storeError } from "./sql.js";

/** How many migrations this version of `@meshwork/postgres` knows. */
export const SCHEMA_VERSION: number = migrations('"x"').length;

/**
 * Creates or upgrades Meshwork's tables in a Postgres schema (default `meshwork`). Safe to run
 * from many processes at once: they take turns on an advisory lock, and each migration runs in
 * its own transaction. `postgresStore` runs it on `open()` unless told not to; run it yourself
 * (or `meshwork migrate --database-url …`) when the app's role may not create tables.
 *
 * @example
 * import { migrate } from "@meshwork/postgres";
 * const { from, to } = await migrate({ connectionString: process.env.DATABASE_URL });
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const schema = options.schema ?? "meshwork";
  const s = quoteSchema(schema);
  const own = options.pool ? undefined : new pg.Pool({ connectionString: options.connectionString, max: 1 });
  const pool = options.pool ?? own!;
  own?.on("error", () => {});
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    await own?.end();
    throw storeError("connect", error);
  }
  let failed: unknown;
  try {
    const steps = migrations(s);
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`meshwork.migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version int4 PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${s}.schema_migrations`);
    const from = rows[0]?.version ?? 0;
    if (from > steps.length) {
      throw new MeshworkRulesError(
        "store_version",
        `Postgres schema "${schema}" is at version ${from}, newer than this @meshwork/postgres knows (${steps.length}); upgrade @meshwork/postgres`,
      );
    }
    await client.query("COMMIT");
    for (let v = from; v < steps.length; v++) {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`meshwork.migrate:${schema}`]);
      const done = await client.query(`SELECT 1 FROM ${s}.schema_migrations WHERE version = $1`, [v + 1]);
      if (done.rowCount === 0) {
        await client.query(steps[v]!);
        await client.query(`INSERT INTO ${s}.schema_migrations (version) VALUES ($1)`, [v + 1]);
      }
      await client.query("COMMIT");
    }
    return { schema, from, to: Math.max(from, steps.length) };
  } catch (error) {
    failed = error;
    await client.query("ROLLBACK").catch(() => {});
    if (MeshworkRulesError.isInstance(error)) throw error;
    throw storeError("migration", error);
  } finally {
    client.release(failed !== undefined && !MeshworkRulesError.isInstance(failed));
    await own?.end();
  }
}

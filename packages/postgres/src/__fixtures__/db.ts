// Shared by the Postgres tests: is a server reachable, and a fresh schema per test file.
import { randomBytes } from "node:crypto";
import pg from "pg";

export const DATABASE_URL = process.env.MESHWORK_TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Where the server is, without the password, for skip messages. */
export const where = DATABASE_URL.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");

/** True when a Postgres server answers at DATABASE_URL within a second or two. */
export async function reachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Checks once per file and says why the suite is skipped. */
export async function checkReachable(file: string): Promise<boolean> {
  const ok = await reachable();
  if (!ok) console.warn(`PostgreSQL not reachable at ${where}; skipping ${file} (set MESHWORK_TEST_DATABASE_URL to run it)`);
  return ok;
}

/** A schema name no other test file uses. */
export function testSchema(prefix = "mw_test"): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

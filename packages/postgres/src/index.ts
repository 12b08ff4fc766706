export { postgresStore, type PostgresStore } from "./store.js";
export { migrate, SCHEMA_VERSION } from "./migrate.js";
export type * from "./types.js";

export { createServer } from "./server.js";
export { mintManagementToken, MANAGEMENT_AUDIENCE, MAX_TOKEN_LIFETIME_SECONDS } from "./auth.js";
export { createManagementClient } from "./client.js";
export { loadConfigFile } from "./config-file.js";
export { builtInDestinations } from "./destinations.js";
export { MeshworkServerError } from "./errors.js";
export { memoryIdempotencyStore, sqliteIdempotencyStore, type SqliteIdempotencyStoreOptions } from "./idempotency.js";
export { MAX_BULK_EVENTS, MAX_PAYLOAD_DEPTH } from "./routes/ingest.js";
export type * from "./types.js";

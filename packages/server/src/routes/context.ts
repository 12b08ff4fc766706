import type { Engine, MeshworkConfig } from "@meshwork/rules";
import type { Logger } from "pino";
import type { Principal } from "../auth.js";
import type { Metrics } from "../metrics.js";
import type { KeyedRateLimiter } from "../rate-limit.js";
import type { CorsOptions, IdempotencyStore } from "../types.js";

/** What the route modules share. */
export interface ServerContext {
  engine: Engine;
  config: MeshworkConfig;
  log: Logger;
  metrics: Metrics | undefined;
  idempotency: IdempotencyStore | undefined;
  idempotencyTtlMs: number;
  rateLimiter: KeyedRateLimiter | undefined;
  managementRateLimiter: KeyedRateLimiter | undefined;
  cors: CorsOptions | undefined;
  maxBodyBytes: number;
  maxOpenDeliveries: number | undefined;
  isDraining(): boolean;
  verify(authorization: string | undefined): Promise<Principal>;
}

// Platform APIs the guides show Meshwork next to, reduced to what the guides use (the real
// packages are not dependencies of this repository).
declare module "@vercel/functions" {
  export function waitUntil(promise: Promise<unknown>): void;
}

/** Cloudflare Workers: the handler's context and bindings. */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}
/** The Worker's bindings, as its wrangler configuration declares them. */
interface Env {
  KEY: string;
  ENDPOINT: string;
}

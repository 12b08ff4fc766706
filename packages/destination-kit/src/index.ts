export { defineAction, defineDestination } from "./define.js";
export {
  AuthError,
  DestinationError,
  MappingError,
  PermanentError,
  RateLimitedError,
  RetryableError,
} from "./errors.js";
export { createRedactor, redactHeaders, stringLeaves } from "./redact.js";
export {
  classifyStatus,
  createRequestClient,
  parseRetryAfter,
  parseStandardRateLimitHeaders,
  vendorMessage,
  type RequestClientConfig,
} from "./request.js";
export { createMemoryState, runAction, type AttemptResult, type RunActionInput } from "./run-action.js";
export { createSimulator, createSimulatorApp, keepRecent, simulatedResponse, type SimulatorOptions } from "./simulator.js";
export { getPath, hasTemplate, renderTemplate, renderTemplates } from "./template.js";
export type * from "./types.js";

export { createClient } from "./client.js";
export { EventsClient, EventsClient as MeshesEventsClient } from "./events-client.js";
export type { CreateEventResult, EventsCallback, EventsClientOptions, EventsRequestOptions } from "./events-client.js";
export { MeshworkDeliveryError, MeshworkError, MeshworkValidationError } from "./errors.js";
export { memoryQueue } from "./memory-queue.js";
export type {
  BulkResult,
  ClientEventMap,
  ClientOptions,
  CloseReport,
  DropReason,
  EndpointOptions,
  EngineOptions,
  EventInput,
  EventInputOf,
  EventMap,
  EventPayload,
  EventQueue,
  EventsTransportTarget,
  FailedRecord,
  MeshworkClient,
  OverflowPolicy,
  QueuedEvent,
  RetryOptions,
  StandardSchemaIssue,
  StandardSchemaResult,
  StandardSchemaV1,
  StoredEvent,
  WireEvent,
} from "./types.js";

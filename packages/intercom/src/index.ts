export { DEFAULT_INTERCOM_VERSION, INTERCOM_BASE_URLS, intercom } from "./destination.js";
export { flattenEventMetadata, INTERCOM_METADATA_LIMIT, type FlattenedMetadata } from "./event-metadata.js";
export { createIntercomSimulator } from "./simulator.js";
export type * from "./types.js";

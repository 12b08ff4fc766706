export { SLACK_BLOCK_LIMIT, SLACK_TEXT_LIMIT } from "./actions/send-message.js";
export { isSlackWebhookUrl } from "./credentials.js";
export { SLACK_API_BASE_URL, slack } from "./destination.js";
export {
  classifySlackResponse,
  SLACK_AUTH_ERRORS,
  SLACK_PERMANENT_ERRORS,
  SLACK_RATE_LIMIT_ERRORS,
  SLACK_RETRYABLE_ERRORS,
} from "./errors.js";
export { escapeSlackText } from "./render.js";
export { createSlackSimulator } from "./simulator.js";
export type * from "./types.js";

import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";

/** Paths pino blanks in every log line: secrets in headers, credentials and keys wherever they appear. */
export const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  'headers["x-meshes-publishable-key"]',
  '*.headers["x-meshes-publishable-key"]',
  "publishableKey",
  "*.publishableKey",
  "credentials",
  "*.credentials",
  "*.*.credentials",
  "secretKey",
  "*.secretKey",
  "*.*.secretKey",
  "accessToken",
  "*.accessToken",
  "token",
  "*.token",
];

/** The server's logger: JSON lines (pino) with credentials redacted; `false` is silent. */
export function createLogger(option: Logger | LoggerOptions | false | undefined, destination?: DestinationStream): Logger {
  if (option === false) return pino({ enabled: false });
  if (option && typeof (option as Logger).child === "function" && typeof (option as Logger).info === "function") return option as Logger;
  const options = (option ?? {}) as LoggerOptions;
  const extra = Array.isArray(options.redact) ? options.redact : (options.redact?.paths ?? []);
  const settings: LoggerOptions = { name: "meshwork", level: "info", ...options, redact: { paths: [...REDACT_PATHS, ...extra], censor: "[redacted]" } };
  return destination ? pino(settings, destination) : pino(settings);
}

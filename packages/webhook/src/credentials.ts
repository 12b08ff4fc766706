import { z } from "zod";
import { secretProblem } from "./secret.js";

/** Headers Meshwork sets itself, or that would break the request if a connection set them. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  "webhook-id",
  "webhook-timestamp",
  "webhook-signature",
  "content-type",
  "content-length",
  "transfer-encoding",
  "host",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "expect",
]);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Why a connection URL is unusable, or undefined. Never echoes the URL (it may hold a token). */
export function urlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "must be an absolute http: or https: URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `must be an http: or https: URL, not ${url.protocol}`;
  if (url.username || url.password) return 'must not hold a user name or password; use auth: { type: "basic" }';
  return undefined;
}

const auth = z.discriminatedUnion("type", [
  z.object({ type: z.literal("none") }),
  z.object({ type: z.literal("bearer"), token: z.string().min(1, { error: "must not be empty" }) }),
  z.object({
    type: z.literal("basic"),
    username: z.string().refine((name) => !name.includes(":"), { error: "a basic-auth user name cannot contain a colon" }),
    password: z.string(),
  }),
]);

/** The zod schema of `webhook` connection credentials (see `WebhookCredentials`). */
export const webhookCredentials = z
  .object({
    url: z.string().superRefine((value, ctx) => {
      const problem = urlProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    secrets: z
      .array(
        z.string().superRefine((value, ctx) => {
          const problem = secretProblem(value);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
      )
      .min(1, { error: 'at least one signing secret ("whsec_…") is required' })
      .max(10, { error: "at most 10 secrets sign a delivery" }),
    method: z.enum(["POST", "PUT", "PATCH"]).default("POST"),
    payloadMode: z.enum(["event", "mapped"]).default("event"),
    headers: z.record(z.string(), z.string()).default({}),
    auth: auth.default({ type: "none" }),
  })
  .superRefine((credentials, ctx) => {
    for (const [name, value] of Object.entries(credentials.headers)) {
      const lower = name.toLowerCase();
      const problem = !TOKEN.test(name)
        ? "is not a valid header name"
        : RESERVED_HEADERS.has(lower)
          ? `is set by Meshwork (or by HTTP itself) and cannot be overridden`
          : lower === "authorization" && credentials.auth.type !== "none"
            ? "conflicts with the auth setting; use one or the other"
            : /[\r\n\0]/.test(value)
              ? "has a value with a line break or NUL"
              : undefined;
      if (problem) ctx.addIssue({ code: "custom", path: ["headers", name], message: `header "${name}" ${problem}` });
    }
  });

/** Parsed `webhook` credentials, defaults applied. */
export type ParsedWebhookCredentials = z.output<typeof webhookCredentials>;

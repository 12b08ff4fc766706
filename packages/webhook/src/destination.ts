import {
  defineAction,
  defineDestination,
  DestinationError,
  MappingError,
  PermanentError,
  RetryableError,
  type Destination,
  type PerformContext,
} from "@meshwork/destination-kit";
import { z } from "zod";
import { webhookCredentials, type ParsedWebhookCredentials } from "./credentials.js";
import { AddressRefusedError } from "./errors.js";
import { createWebhookSimulator } from "./receiver.js";
import { signWebhook } from "./sign.js";
import { createGuard, normalizeHost } from "./ssrf.js";
import { createPinnedFetch } from "./transport.js";
import type { WebhookEventBody, WebhookOptions } from "./types.js";

/** Default budget per connection: 50 requests a second. */
export const WEBHOOK_RATE_LIMIT = { requests: 50, perMs: 1000 } as const;
/** Default deliveries in flight per connection. */
export const WEBHOOK_CONCURRENCY = 10;
/** Default timeout per delivery, ms (the receiver should answer fast and process later). */
export const WEBHOOK_TIMEOUT_MS = 15_000;
const USER_AGENT = "Meshwork-Webhooks/1";
/** The SSRF pre-flight's DNS lookup gives up after this. */
const DNS_TIMEOUT_MS = 10_000;

const sendWebhookMetadata = z.strictObject({
  event_type: z.string().min(1).optional(),
});

type SendWebhookContext = PerformContext<z.output<typeof sendWebhookMetadata>, ParsedWebhookCredentials>;

/**
 * The signed-webhook destination (connection `type: "webhook"`): one action, `send_webhook`,
 * which POSTs (or PUTs/PATCHes) the event, signed the Standard Webhooks way, to the connection's
 * URL. Every secret of the connection signs every delivery, so secrets rotate without downtime.
 *
 * An SSRF guard refuses URLs that are, or resolve to, loopback, private, link-local (cloud
 * metadata), CGNAT and other non-public addresses, checked before the request and again by the
 * default transport on connect; `allowedHosts` or `allowPrivateNetworks` opens them. Redirects are
 * never followed. Node-only (`node:crypto`, `node:dns`, `node:http`).
 *
 * @example
 * const engine = createEngine({ config, destinations: [webhook()] });
 * // a connection: { type: "webhook", credentials: { url: "https://hooks.acme.io/meshwork", secrets: ["whsec_…"] } }
 * // a rule:       { event: "user.signup", connection: "acme-webhook", metadata: { action: "send_webhook" } }
 *
 * // local development, receiving on your own machine:
 * webhook({ allowedHosts: ["localhost", "127.0.0.1"] });
 */
export function webhook(options: WebhookOptions = {}): Destination<typeof webhookCredentials> {
  const base = options.baseUrl === undefined ? undefined : new URL(options.baseUrl);
  if (base && base.protocol !== "http:" && base.protocol !== "https:") {
    throw new TypeError(`webhook({ baseUrl }) must be an http: or https: URL, not ${base.protocol}`);
  }
  const guard = createGuard({
    ...options,
    // The base URL comes from code, not from a tenant's credentials: its host is trusted.
    allowedHosts: [...(options.allowedHosts ?? []), ...(base ? [normalizeHost(base.hostname)] : [])],
  });
  const target = (url: string): URL => {
    const parsed = new URL(url);
    if (!base) return parsed;
    return new URL(`${base.href.replace(/\/+$/, "")}${parsed.pathname}${parsed.search}`);
  };

  async function perform(context: SendWebhookContext) {
    const { credentials, idempotencyKey, connection, request, log } = context;
    const url = target(credentials.url);
    try {
      const lookup = guard.check(url, { resolve: connection.mode === "live" });
      if (lookup) await bounded(lookup, context.signal);
    } catch (error) {
      if (DestinationError.isInstance(error)) throw error;
      if (AddressRefusedError.isInstance(error)) throw new PermanentError(error.message, { cause: error });
      const code = (error as { code?: unknown }).code;
      throw new RetryableError(`DNS lookup of ${url.hostname} failed${typeof code === "string" ? `: ${code}` : ""}`, {
        code: "network_error",
        cause: error,
      });
    }

    if (credentials.payloadMode === "mapped" && context.metadata.event_type !== undefined) {
      log.warn('metadata.event_type has no effect with payloadMode "mapped"; the body is the mapping output');
    }
    const body = serialize(context);
    const timestamp = Math.floor(context.now() / 1000);
    const headers: Record<string, string> = { "user-agent": USER_AGENT };
    for (const [name, value] of Object.entries(credentials.headers)) headers[name.toLowerCase()] = value;
    Object.assign(headers, authorization(credentials.auth), {
      "content-type": "application/json",
      "webhook-id": idempotencyKey,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signWebhook(credentials.secrets, { id: idempotencyKey, timestamp, body }),
    });

    try {
      const response = await request(url.href, { method: credentials.method, body, headers, responseType: "text" });
      return { summary: `webhook ${idempotencyKey} delivered to ${url.host} (${response.status})` };
    } catch (error) {
      const refused = findRefusal(error);
      if (refused) throw new PermanentError(refused.message, { cause: error });
      throw error;
    }
  }

  return defineDestination({
    type: "webhook",
    name: "Webhook",
    options: { ...options, fetch: options.fetch ?? createPinnedFetch(guard.connectLookup) },
    credentials: webhookCredentials,
    baseUrl: (credentials) => credentials.url,
    rateLimit: { ...WEBHOOK_RATE_LIMIT },
    concurrency: WEBHOOK_CONCURRENCY,
    timeoutMs: WEBHOOK_TIMEOUT_MS,
    classify: ({ status }) => {
      if (status === 410) {
        return new PermanentError(
          "the receiver answered 410 Gone: it asked to stop receiving webhooks. " +
            "The connection is disabled until it is re-enabled.",
          { status, disableConnection: true },
        );
      }
      // Standard Webhooks: every 5xx is retried, including the 501 and 505 the kit treats as final.
      if (status === 501 || status === 505) return new RetryableError(`the receiver answered ${status}`, { status });
      return undefined;
    },
    redactCredentials: (credentials) => [
      credentials.url,
      target(credentials.url).href,
      credentials.secrets,
      credentials.auth,
      Object.values(authorization(credentials.auth)),
      Object.values(credentials.headers),
    ],
    actions: {
      send_webhook: defineAction({
        description: "Send the event (or the rule's mapping output) to the connection's URL, signed with Standard Webhooks",
        metadata: sendWebhookMetadata,
        perform,
      }),
    },
    // Verifies signatures with the connection's own secrets, as the real receiver would.
    sandbox: (connection) => createWebhookSimulator(connection ? { secrets: connection.credentials.secrets } : {}),
  });
}

/** Waits for the SSRF pre-flight (a DNS lookup) at most `DNS_TIMEOUT_MS`, and not past an abort. */
async function bounded(check: Promise<void>, signal: AbortSignal): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new RetryableError(`DNS lookup timed out after ${DNS_TIMEOUT_MS} ms`, { code: "timeout" })),
      DNS_TIMEOUT_MS,
    );
    onAbort = () => reject(new RetryableError("the delivery was aborted during the DNS lookup", { code: "timeout" }));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([check, stop]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort!);
  }
}

/** The body, serialized once: these exact bytes are signed and sent. */
function serialize({ credentials, event, metadata, mapped }: SendWebhookContext): string {
  if (credentials.payloadMode === "mapped") {
    if (!mapped) {
      throw new MappingError(
        'payloadMode "mapped" sends the rule\'s field mapping output, but the rule has no mapping; add one or use payloadMode "event"',
      );
    }
    return stringify(mapped);
  }
  const envelope: WebhookEventBody = {
    id: event.id,
    type: metadata.event_type ?? event.event,
    event: event.event,
    workspace: event.workspace,
    resource: event.resource ?? null,
    resource_id: event.resource_id ?? null,
    payload: event.payload,
    created_at: event.created_at,
  };
  return stringify(envelope);
}

function stringify(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new MappingError(`the webhook body cannot be serialized as JSON: ${(error as Error).message}`, { cause: error });
  }
}

function authorization(auth: ParsedWebhookCredentials["auth"]): Record<string, string> {
  if (auth.type === "bearer") return { authorization: `Bearer ${auth.token}` };
  if (auth.type === "basic") {
    return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}` };
  }
  return {};
}

/** The SSRF refusal behind a failed request, when the connect-time check was what stopped it. */
function findRefusal(error: unknown): AddressRefusedError | undefined {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    if (AddressRefusedError.isInstance(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

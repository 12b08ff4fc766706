// Shared test fixtures: two workspaces with sandbox connections, three access keys, and
// credential strings distinctive enough to search every response body for.
import type { MeshworkConfigInput } from "@meshwork/rules";
import { createServer, mintManagementToken, type MeshworkServer, type ServerOptions } from "../index.js";

export const KEYS = {
  acme: "mw_pub_acme_0123456789abcdef",
  globex: "mw_pub_globex_0123456789abcdef",
} as const;

export const SECRETS = {
  hubspotToken: "pat-na1-SECRET-hubspot-5f0c2d7e",
  webhookSecret: "whsec_bWVzaHdvcmstdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OSE=",
  webhookSigningKey: "bWVzaHdvcmstdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OSE=",
  webhookUrlToken: "SECRETURLTOKEN7f3a",
  webhookHeader: "hdr-SECRET-9d41",
  slackToken: "xoxb-SECRET-slack-4e21",
  globexWebhookSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  acmeSecretKey: "sk_acme_SECRET_b7c1e9d2f4a6",
  globexSecretKey: "sk_globex_SECRET_a1b2c3d4e5f6",
  bothSecretKey: "sk_both_SECRET_0f9e8d7c6b5a",
} as const;

export const ACCESS = {
  acme: { accessKey: "mk_acme_1", secretKey: SECRETS.acmeSecretKey },
  globex: { accessKey: "mk_globex_1", secretKey: SECRETS.globexSecretKey },
  both: { accessKey: "mk_both_1", secretKey: SECRETS.bothSecretKey },
} as const;

/** Every credential string of the config: none may ever appear in a management response. */
export const CREDENTIAL_STRINGS: string[] = [
  SECRETS.hubspotToken,
  SECRETS.webhookSecret,
  SECRETS.webhookSigningKey,
  SECRETS.webhookUrlToken,
  SECRETS.webhookHeader,
  SECRETS.slackToken,
  SECRETS.globexWebhookSecret,
  SECRETS.acmeSecretKey,
  SECRETS.globexSecretKey,
  SECRETS.bothSecretKey,
];

export function testConfig(): MeshworkConfigInput {
  return {
    workspaces: [
      { id: "acme-prod", name: "Acme", environment: "production", publishableKeys: [KEYS.acme] },
      { id: "globex-prod", name: "Globex", environment: "production", publishableKeys: [KEYS.globex] },
    ],
    connections: [
      {
        id: "acme-hook",
        workspace: "acme-prod",
        type: "webhook",
        name: "Acme webhook",
        mode: "sandbox",
        credentials: {
          url: `https://hooks.acme.test/in?token=${SECRETS.webhookUrlToken}`,
          secrets: [SECRETS.webhookSecret],
          headers: { "x-acme-auth": SECRETS.webhookHeader },
        },
      },
      { id: "acme-hubspot", workspace: "acme-prod", type: "hubspot", name: "Acme HubSpot", mode: "sandbox", credentials: { accessToken: SECRETS.hubspotToken } },
      { id: "acme-slack", workspace: "acme-prod", type: "slack", name: "Acme Slack", mode: "sandbox", credentials: { botToken: SECRETS.slackToken } },
      {
        id: "globex-hook",
        workspace: "globex-prod",
        type: "webhook",
        name: "Globex webhook",
        mode: "sandbox",
        credentials: { url: "https://hooks.globex.test/in", secrets: [SECRETS.globexWebhookSecret] },
      },
    ],
    rules: [
      { id: "acme-signup-hook", workspace: "acme-prod", connection: "acme-hook", event: "user.signup", metadata: { action: "send_webhook" } },
      {
        id: "acme-signup-hubspot",
        workspace: "acme-prod",
        connection: "acme-hubspot",
        event: "user.signup",
        metadata: { action: "sync_contact", properties: { lifecyclestage: "lead" } },
      },
      { id: "acme-deal-slack", workspace: "acme-prod", connection: "acme-slack", event: "deal.won", metadata: { action: "send_message", id: "C0SALES", text: "won {{amount}}" } },
      { id: "globex-signup-hook", workspace: "globex-prod", connection: "globex-hook", event: "user.signup", metadata: { action: "send_webhook" } },
    ],
    accessKeys: [
      { ...ACCESS.acme, workspaces: ["acme-prod"] },
      { ...ACCESS.globex, workspaces: ["globex-prod"] },
      { ...ACCESS.both, workspaces: ["acme-prod", "globex-prod"] },
    ],
  };
}

/** A started in-process server on the test config (memory stores, silent, no rate limits unless given). */
export async function startServer(overrides: Partial<ServerOptions> = {}): Promise<MeshworkServer> {
  const server = createServer({
    config: testConfig(),
    logger: false,
    rateLimit: false,
    managementRateLimit: false,
    engine: { retry: { schedule: [0, 60_000], jitter: 0 }, random: () => 0.5 },
    ...overrides,
  });
  await server.start();
  return server;
}

export type Who = keyof typeof ACCESS;

/** Headers for a management request as `who`. */
export async function bearer(who: Who): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await mintManagementToken(ACCESS[who])}` };
}

/** Headers of an ingest request. */
export function ingestHeaders(key: string = KEYS.acme, extra: Record<string, string> = {}): Record<string, string> {
  return { "content-type": "application/json", "x-meshes-publishable-key": key, ...extra };
}

/** POSTs JSON to an ingest route in-process. */
export function post(server: MeshworkServer, path: string, body: unknown, headers: Record<string, string> = ingestHeaders()) {
  return server.app.request(path, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
}

/** GETs a management route in-process as `who`. */
export async function get(server: MeshworkServer, path: string, who: Who = "acme") {
  return server.app.request(path, { headers: await bearer(who) });
}

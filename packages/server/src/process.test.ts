// The real `meshwork` binary as a child process: graceful shutdown under load (SIGTERM) and a
// crash under load (SIGKILL), each followed by a restart on the same SQLite database.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Attempt, EventSummary, Page } from "@meshwork/rules";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleCli, loadGenerator, PROCESS_KEYS, RECEIVER_CONCURRENCY, receiverConfig, spawnCli, spawnServe, startReceiver, waitFor, type Receiver } from "./__fixtures__/process.js";
import { createManagementClient } from "./index.js";

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "meshwork-process-"));
  await bundleCli();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, receiver: Receiver): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(receiverConfig(receiver.url)));
  return file;
}

const api = (url: string) => createManagementClient({ url, accessKey: PROCESS_KEYS.accessKey, secretKey: PROCESS_KEYS.secretKey });

/** Acknowledged events that are not completed yet, per the server. */
async function unfinished(url: string, acked: Set<string>): Promise<string[]> {
  const client = api(url);
  const out: string[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<EventSummary> = await client.request("GET", `/events?status=pending,processing,failed,canceled&limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    for (const e of page.records) if (acked.has(e.id)) out.push(`${e.id}:${e.status}`);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

describe("meshwork serve as a process", () => {
  it("SIGTERM under load drains and exits 0; a restart delivers everything that was acknowledged, once", async () => {
    const receiver = await startReceiver({ delayMs: 2 });
    const config = writeConfig("graceful.json", receiver);
    const db = join(dir, "graceful.db");
    const first = await spawnServe(["--config", config, "--db", db]);
    const load = loadGenerator(first.url, { size: 50, senders: 2, maxRequests: 60 });
    await waitFor(() => load.acked.size >= 600, 60_000, "600 acknowledged events");
    first.child.kill("SIGTERM");
    const exit = await first.exited;
    await load.done;
    expect(exit, first.lines.slice(-5).join("\n")).toEqual({ code: 0, signal: null });
    expect(first.lines.some((l) => l.includes('"msg":"draining: no new events are accepted"'))).toBe(true);
    expect(first.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    // The load stopped on 503 or a refused connection, not on anything else.
    for (const status of load.statuses.keys()) expect([201, 503, "network_error"]).toContain(status);
    const atStop = receiver.total;
    expect(atStop).toBeLessThan(load.acked.size); // a backlog was left for the restart

    const second = await spawnServe(["--config", config, "--db", db]);
    await waitFor(() => [...load.acked].every((id) => receiver.events.has(id)), 40_000, "every acknowledged event at the receiver");
    await waitFor(async () => (await unfinished(second.url, load.acked)).length === 0, 10_000, "every acknowledged event completed");
    second.child.kill("SIGTERM");
    expect(await second.exited).toEqual({ code: 0, signal: null });
    await receiver.close();

    expect(receiver.total).toBeGreaterThan(atStop);
    const twice = [...receiver.deliveries].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
  }, 90_000);

  it("SIGKILL under load, restart on the same database: every acknowledged event's deliveries complete, none twice beyond processing retries", async () => {
    const receiver = await startReceiver({ delayMs: 2 });
    const config = writeConfig("kill.json", receiver);
    const db = join(dir, "kill.db");
    const first = await spawnServe(["--config", config, "--db", db]);
    const load = loadGenerator(first.url, { size: 100, senders: 3, maxRequests: 24 });
    await waitFor(() => load.acked.size >= 900 && receiver.total >= 30, 60_000, "900 acknowledged events and deliveries under way");
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    load.stop();
    await load.done;
    const atKill = receiver.total;
    expect(atKill).toBeLessThan(load.acked.size);

    const second = await spawnServe(["--config", config, "--db", db]);
    await waitFor(() => [...load.acked].every((id) => receiver.events.has(id)), 60_000, "every acknowledged event at the receiver");
    await waitFor(async () => (await unfinished(second.url, load.acked)).length === 0, 15_000, "every acknowledged event completed");

    // A delivery may arrive twice only when it was `processing` at the kill: the restart records
    // that attempt as interrupted and sends it again (at-least-once).
    const client = api(second.url);
    const twice = [...receiver.deliveries].filter(([, n]) => n > 1);
    for (const [deliveryId, count] of twice) {
      const eventId = receiver.eventOf.get(deliveryId)!;
      const { records }: { records: Attempt[] } = await client.request("GET", `/events/${eventId}/rules/load-rule/attempts`);
      const interrupted = records.filter((a) => a.message.startsWith("attempt interrupted")).length;
      expect(count, `${deliveryId}: ${JSON.stringify(records)}`).toBeLessThanOrEqual(1 + interrupted);
    }
    // At most one connection's worth of deliveries can be in flight at the kill.
    expect(twice.length).toBeLessThanOrEqual(RECEIVER_CONCURRENCY);

    second.child.kill("SIGTERM");
    expect(await second.exited).toEqual({ code: 0, signal: null });
    await receiver.close();
  }, 120_000);

  it("the binary validates a config and exits 1 with the problems", async () => {
    const file = join(dir, "broken.json");
    writeFileSync(
      file,
      JSON.stringify({
        workspaces: [{ id: "w", name: "W", environment: "production", publishableKeys: ["mw_pub_0123456789"] }],
        connections: [{ id: "c", workspace: "w", type: "hubspot", name: "H", mode: "sandbox", credentials: { accessToken: "x" } }],
        rules: [{ id: "r", workspace: "w", connection: "c", event: "e", metadata: { action: "add_tags" } }],
      }),
    );
    const run = spawnCli(await bundleCli(), ["validate", "--config", file]);
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(run.lines.join("\n")).toContain('rules[0].metadata.action: "add_tags" is not an action of hubspot');
  }, 30_000);
});

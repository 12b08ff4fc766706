// The benchmark's HTTP sink, run in its own process: accepts the @meshwork/events bulk protocol,
// Segment's /v1/batch and PostHog's /batch/, counts distinct event ids (so retries are not
// counted twice) and can answer 503 to every Nth request. Driven by the parent over IPC.
import { createServer } from "node:http";
import { gunzipSync } from "node:zlib";

let expected = 0;
let failEvery = 0;
let requests = 0;
let failed = 0;
let received = 0;
let unique = new Set();
let completeAt = null;
let lastNewAt = null;
let unknown = 0;
let cpu0 = process.cpuUsage();

function idsOf(path, body) {
  if (path === "/api/v1/events/bulk") return body.map((event) => event.id);
  if (path === "/v1/batch") return body.batch.map((event) => event.messageId);
  if (path === "/batch/" || path === "/batch") return body.batch.map((event) => event.uuid);
  return null;
}

function answer(path, body) {
  if (path !== "/api/v1/events/bulk") return path === "/v1/batch" ? { success: true } : { status: 1 };
  const created_at = new Date().toISOString();
  return {
    count: body.length,
    records: body.map((event) => ({
      id: event.id,
      type: "event",
      event: event.event,
      workspace: "bench",
      created_by: "publishable_key",
      created_at,
      resource: event.resource ?? "global",
      resource_id: event.resource_id ?? null,
    })),
  };
}

const server = createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    requests++;
    const path = request.url.split("?")[0];
    if (failEvery && requests % failEvery === 0) {
      failed++;
      response.writeHead(503, { "content-type": "application/json" });
      response.end('{"message":"unavailable (benchmark fault injection)"}');
      return;
    }
    let raw = Buffer.concat(chunks);
    if (request.headers["content-encoding"] === "gzip") raw = gunzipSync(raw);
    let body;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      response.writeHead(400).end();
      return;
    }
    const ids = idsOf(path, body);
    if (!ids) {
      unknown++;
      response.writeHead(404, { "content-type": "application/json" }).end("{}");
      return;
    }
    received += ids.length;
    const before = unique.size;
    for (const id of ids) unique.add(id);
    if (unique.size > before) lastNewAt = Date.now();
    if (completeAt === null && expected && unique.size >= expected) completeAt = Date.now();
    response.writeHead(path === "/api/v1/events/bulk" ? 201 : 200, { "content-type": "application/json" });
    response.end(JSON.stringify(answer(path, body)));
  });
});
server.keepAliveTimeout = 30_000;

server.listen(0, "127.0.0.1", () => {
  process.send({ type: "ready", url: `http://127.0.0.1:${server.address().port}` });
});

process.on("message", (message) => {
  if (message.type === "reset") {
    expected = message.expected;
    failEvery = message.failEvery;
    requests = failed = received = unknown = 0;
    unique = new Set();
    completeAt = lastNewAt = null;
    cpu0 = process.cpuUsage();
    process.send({ type: "reset" });
  } else if (message.type === "stats") {
    const cpu = process.cpuUsage(cpu0);
    process.send({ type: "stats", requests, failed, received, unique: unique.size, completeAt, lastNewAt, unknown, cpuMicros: cpu.user + cpu.system });
  } else if (message.type === "stop") {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});

// Baselines for the client benchmark: what a bare loop of requests reaches against the same sink,
// with no SDK. 100,000 events of the same ~306-byte payload, in batches of 100 serialized at send,
// 4 requests in flight: once with the platform's fetch, once with raw node:http keep-alive.
//   node bench/events/baselines.mjs
import { fork } from "node:child_process";
import http from "node:http";
const sink = fork(new URL("./sink.mjs", import.meta.url), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
// The payload of bench/events/client.mjs.
const msg = (type) => new Promise((r) => sink.on("message", function on(m) { if (m.type === type) { sink.off("message", on); r(m); } }));
const { url } = await msg("ready");
const payloadOf = (i) => ({ user_id: `usr_${i}`, email: `user${i}@northstar.example`, plan: i % 3 ? "pro" : "free", sequence_step: i % 7, page: "/onboarding/workspace-setup", referrer: "https://www.example.com/pricing?utm_source=newsletter&utm_medium=email", locale: "en-US", amount_cents: 4900 + (i % 100), experiment: "onboarding-v3", session_id: `ses_${(i * 7919) % 1000003}` });
const N = 100000;
async function run(name, send) {
  sink.send({ type: "reset", expected: N, failEvery: 0 }); await msg("reset");
  const t0 = Date.now(); let next = 0;
  const worker = async () => { while (next < N) { const from = next; next += 100; const body = JSON.stringify(Array.from({ length: 100 }, (_, k) => ({ id: `e${from + k}`, event: "page.completed", payload: payloadOf(from + k) }))); await send(body); } };
  await Promise.all([worker(), worker(), worker(), worker()]);
  console.log(name, Math.round(N / ((Date.now() - t0) / 1000)), "events/s");
}
await run("fetch loop (4 in flight)", async (body) => { const r = await fetch(url + "/api/v1/events/bulk", { method: "POST", body, headers: { "content-type": "application/json", "x-meshes-publishable-key": "k" } }); await r.text(); });
const agent = new http.Agent({ keepAlive: true });
await run("node:http (4 in flight)", (body) => new Promise((resolve, reject) => { const q = http.request(url + "/api/v1/events/bulk", { method: "POST", agent, headers: { "content-type": "application/json", "x-meshes-publishable-key": "k" } }, (s) => { s.resume(); s.on("end", resolve); }); q.on("error", reject); q.end(body); }));
sink.send({ type: "stop" });

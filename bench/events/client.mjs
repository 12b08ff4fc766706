// One benchmark run of one client library, in its own process: emit N events of ~300-byte
// payload in chunks of 1000 (yielding to I/O between chunks), wait until the client says it has
// sent everything, and report enqueue cost, CPU, peak memory and timestamps to the parent.
import { clearInterval, setImmediate, setInterval } from "node:timers";

const { lib, n, endpoint } = JSON.parse(process.argv[2]);

let peakRss = 0;
let peakHeap = 0;
let ticks = 0;
// RSS is sampled every 20 ms; the heap (costlier to read) every 100 ms.
const sample = () => {
  const rss = process.memoryUsage.rss();
  if (rss > peakRss) peakRss = rss;
  if (ticks++ % 5 === 0) {
    const heap = process.memoryUsage().heapUsed;
    if (heap > peakHeap) peakHeap = heap;
  }
};
const sampler = setInterval(sample, 20);

/** ~300 bytes of JSON, different for every event. */
const payloadOf = (i) => ({
  user_id: `usr_${i}`,
  email: `user${i}@northstar.example`,
  plan: i % 3 ? "pro" : "free",
  sequence_step: i % 7,
  page: "/onboarding/workspace-setup",
  referrer: "https://www.example.com/pricing?utm_source=newsletter&utm_medium=email",
  locale: "en-US",
  amount_cents: 4900 + (i % 100),
  experiment: "onboarding-v3",
  session_id: `ses_${(i * 7919) % 1000003}`,
});

async function setup() {
  if (lib === "meshwork") {
    const { createClient } = await import("@meshwork/events");
    // The queue must hold a whole burst: the producer below is faster than any network.
    const client = createClient({
      publishableKey: "mw_pub_bench",
      endpoint,
      maxQueueEvents: 200_000,
      maxQueueBytes: 128 * 1024 * 1024,
    });
    let errors = 0;
    return {
      emit: (payload) => {
        client.emit({ event: "page.completed", payload }).catch(() => errors++);
      },
      drain: async () => {
        await client.flush();
        const report = await client.close({ timeoutMs: 1000 });
        return { errors, report };
      },
    };
  }
  if (lib === "segment") {
    const { Analytics } = await import("@segment/analytics-node");
    const analytics = new Analytics({ writeKey: "bench", host: endpoint });
    let errors = 0;
    analytics.on("error", () => errors++);
    return {
      emit: (payload) => analytics.track({ userId: payload.user_id, event: "page.completed", properties: payload }),
      drain: async () => {
        await analytics.closeAndFlush({ timeout: 120_000 });
        return { errors };
      },
    };
  }
  const { PostHog } = await import("posthog-node");
  const posthog = new PostHog("phc_bench", {
    host: endpoint,
    ...(lib === "posthog" ? { maxQueueSize: 200_000 } : {}),
  });
  return {
    emit: (payload) => posthog.capture({ distinctId: payload.user_id, event: "page.completed", properties: payload }),
    drain: async () => {
      await posthog.shutdown(120_000);
      return {};
    },
  };
}

const client = await setup();
const CHUNK = 1000;
const perCall = [];
const perCallCpu = [];
const cpu0 = process.cpuUsage();
const startedAt = Date.now();
for (let i = 0; i < n; i += CHUNK) {
  const payloads = [];
  for (let j = i; j < Math.min(n, i + CHUNK); j++) payloads.push(payloadOf(j));
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const payload of payloads) client.emit(payload);
  perCall.push(Number(process.hrtime.bigint() - t0) / 1000 / payloads.length);
  const c = process.cpuUsage(c0);
  perCallCpu.push((c.user + c.system) / payloads.length);
  await new Promise((resolve) => setImmediate(resolve));
}
const emittedAt = Date.now();
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** What is known now; sent at the end, or early when the parent's deadline is up. */
function report(extra) {
  const cpu = process.cpuUsage(cpu0);
  ticks = 0;
  sample();
  return {
    type: "result",
    startedAt,
    emittedAt,
    doneAt: Date.now(),
    cpuMicros: cpu.user + cpu.system,
    enqueueMedian: median(perCall),
    enqueueCpuMedian: median(perCallCpu),
    peakRss,
    peakHeap,
    payloadBytes: JSON.stringify(payloadOf(n - 1)).length,
    ...extra,
  };
}
process.on("message", (message) => {
  if (message.type === "report") process.send(report({ partial: true }));
});
const outcome = await client.drain();
const result = report(outcome);
clearInterval(sampler);
process.send(result, () => process.exit(0));

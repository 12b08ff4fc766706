import type { Delivery, Engine } from "@meshwork/rules";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

const TERMINAL = new Set(["completed", "failed", "canceled"]);

/** The server's Prometheus metrics, in a registry of its own (several servers can share a process). */
export function createMetrics(engine: Engine) {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: "meshwork_" });

  const httpRequests = new Counter({
    name: "meshwork_http_requests_total",
    help: "HTTP requests answered, by method, route pattern and status.",
    labelNames: ["method", "route", "status"] as const,
    registers,
  });
  const ingestDuration = new Histogram({
    name: "meshwork_ingest_duration_seconds",
    help: "Time to answer an ingest request: parse, validate, store and commit.",
    labelNames: ["route"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const ingestedEvents = new Counter({
    name: "meshwork_ingested_events_total",
    help: "Events in ingest requests by result: accepted (stored, or already stored with the same id) or rejected (invalid).",
    labelNames: ["workspace", "result"] as const,
    registers,
  });
  const deliveries = new Counter({
    name: "meshwork_deliveries_total",
    help: "Delivery state changes, by destination type, the status reached and the last attempt's outcome (none before an attempt).",
    labelNames: ["destination_type", "status", "outcome"] as const,
    registers,
  });
  const deliveryLatency = new Histogram({
    name: "meshwork_delivery_latency_seconds",
    help: "Time from ingest to a delivery's final state (completed, failed or canceled), by destination type and status.",
    labelNames: ["destination_type", "status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000, 86400],
    registers,
  });
  new Gauge({
    name: "meshwork_queue_depth",
    help: "Open deliveries in this process by state: queued (due, waiting for a slot), in_flight, scheduled (waiting for a retry, a rate limit or a circuit probe), spilled (waiting in the store for room in the engine's in-memory window).",
    labelNames: ["state"] as const,
    registers,
    collect() {
      const stats = engine.stats();
      this.set({ state: "queued" }, stats.queued);
      this.set({ state: "in_flight" }, stats.inFlight);
      this.set({ state: "scheduled" }, stats.scheduled);
      this.set({ state: "spilled" }, stats.spilled);
    },
  });
  new Gauge({
    name: "meshwork_open_deliveries",
    help: "Deliveries not yet completed, failed or canceled.",
    registers,
    collect() {
      this.set(engine.stats().open);
    },
  });
  new Gauge({
    name: "meshwork_connection_deliveries",
    help: "Deliveries per connection by state (queued, in_flight).",
    labelNames: ["connection", "state"] as const,
    registers,
    collect() {
      for (const c of engine.stats().connections) {
        this.set({ connection: c.id, state: "queued" }, c.queued);
        this.set({ connection: c.id, state: "in_flight" }, c.inFlight);
      }
    },
  });
  new Gauge({
    name: "meshwork_connection_circuit_open",
    help: "1 while a connection's circuit breaker is open or half open, or the connection is disabled; else 0.",
    labelNames: ["connection"] as const,
    registers,
    collect() {
      for (const c of engine.stats().connections) this.set({ connection: c.id }, c.circuit === "closed" && !c.disabled ? 0 : 1);
    },
  });

  const onDelivery = (d: Delivery) => {
    deliveries.inc({ destination_type: d.integration_type, status: d.status, outcome: d.last_outcome ?? "none" });
    if (TERMINAL.has(d.status) && d.completed_at) {
      const seconds = (Date.parse(d.completed_at) - Date.parse(d.created_at)) / 1000;
      if (seconds >= 0) deliveryLatency.observe({ destination_type: d.integration_type, status: d.status }, seconds);
    }
  };

  return {
    registry,
    httpRequests,
    ingestDuration,
    ingestedEvents,
    onDelivery,
    contentType: registry.contentType as string,
    text: () => registry.metrics(),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

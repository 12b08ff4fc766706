import { MeshworkRulesError } from "@meshwork/rules";
import pg from "pg";

/** Statuses a delivery can still leave, as a SQL list. */
export const OPEN_SQL = "('pending', 'processing', 'retrying')";

/** The database clock in epoch milliseconds (transaction start: stable inside one statement). */
export const NOW_MS = "(extract(epoch from now()) * 1000)::int8";

/**
 * Planner settings for statements that touch a few rows by key out of a busy table: index
 * lookups always. (A queue table is small but full of dead rows between vacuums, and its
 * statistics lag, so the planner would otherwise pick hash joins over sequential scans.)
 */
export const KEYED = "SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off";

/**
 * Schema migrations, applied in order inside one transaction each; `s` is the quoted schema.
 * Times are epoch milliseconds (int8) as the engine keeps them. A delivery is in the queue while
 * `run_at` is set: it is claimable once `run_at` has passed (its retry time, or the end of the
 * lease of the worker holding it).
 */
export function migrations(s: string): string[] {
  return [
    `
    CREATE TABLE ${s}.events (
      seq int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      workspace text NOT NULL,
      id text NOT NULL,
      event text NOT NULL,
      resource text,
      resource_id text,
      payload json NOT NULL,
      created_by text NOT NULL,
      created_at int8 NOT NULL,
      status text NOT NULL,
      total_rules int4 NOT NULL,
      completed_count int4 NOT NULL DEFAULT 0,
      failed_count int4 NOT NULL DEFAULT 0,
      CONSTRAINT events_workspace_id UNIQUE (workspace, id)
    ) WITH (fillfactor = 80);
    CREATE INDEX events_id ON ${s}.events (id);
    CREATE INDEX events_workspace_seq ON ${s}.events (workspace, seq);
    CREATE INDEX events_workspace_status_seq ON ${s}.events (workspace, status, seq);
    CREATE INDEX events_workspace_event_seq ON ${s}.events (workspace, event, seq);
    CREATE INDEX events_workspace_resource_seq ON ${s}.events (workspace, resource, resource_id, seq) WHERE resource IS NOT NULL;
    CREATE INDEX events_workspace_created ON ${s}.events (workspace, created_at);

    CREATE TABLE ${s}.deliveries (
      id text PRIMARY KEY,
      event_seq int8 NOT NULL REFERENCES ${s}.events (seq) ON DELETE CASCADE,
      workspace text NOT NULL,
      event_id text NOT NULL,
      rule_id text NOT NULL,
      connection text NOT NULL,
      action text NOT NULL,
      integration_type text NOT NULL,
      event text NOT NULL,
      status text NOT NULL,
      attempt_count int4 NOT NULL,
      round_start int4 NOT NULL,
      next_attempt_at int8,
      last_error text,
      last_outcome text,
      idempotency_key text NOT NULL,
      created_at int8 NOT NULL,
      updated_at int8 NOT NULL,
      completed_at int8,
      run_at int8,
      locked_by text,
      locked_until int8,
      cancel_requested boolean NOT NULL DEFAULT false,
      CONSTRAINT deliveries_event_rule UNIQUE (event_seq, rule_id)
    ) WITH (fillfactor = 80);
    CREATE INDEX deliveries_queue ON ${s}.deliveries (run_at) WHERE run_at IS NOT NULL;
    -- Replays look for failed or canceled deliveries; a partial index stays out of the way of
    -- the three writes every delivery makes on its way to completed.
    CREATE INDEX deliveries_finished ON ${s}.deliveries (workspace, status, connection) WHERE status IN ('failed', 'canceled');

    CREATE TABLE ${s}.attempts (
      delivery_id text NOT NULL,
      attempt int4 NOT NULL,
      workspace text NOT NULL,
      event_id text NOT NULL,
      rule_id text NOT NULL,
      started_at int8 NOT NULL,
      duration_ms int4 NOT NULL,
      status int4,
      outcome text NOT NULL,
      retryable boolean NOT NULL,
      message text NOT NULL,
      detail json,
      PRIMARY KEY (delivery_id, attempt)
    );

    CREATE TABLE ${s}.connection_status (
      connection text PRIMARY KEY,
      disabled_at int8 NOT NULL,
      reason text NOT NULL
    );

    CREATE TABLE ${s}.rate_buckets (
      bucket text PRIMARY KEY,
      tokens float8 NOT NULL,
      updated_at float8 NOT NULL,
      paused_until float8 NOT NULL DEFAULT 0
    );

    CREATE TABLE ${s}.breakers (
      connection text PRIMARY KEY,
      state text NOT NULL,
      failures int4 NOT NULL,
      cooldown_ms int8 NOT NULL,
      probe_at int8 NOT NULL,
      probe_by text,
      probe_until int8 NOT NULL DEFAULT 0,
      updated_at int8 NOT NULL
    );

    -- A token bucket per connection (or per keyed budget), shared by every process: takes up to
    -- p_count tokens; answers how many were granted and, when none, how long until one is back.
    CREATE FUNCTION ${s}.take_tokens(p_bucket text, p_count int4, p_rate float8, p_burst float8)
    RETURNS TABLE (granted int4, wait_ms float8) LANGUAGE plpgsql AS $fn$
    DECLARE
      v_tokens float8;
      v_updated float8;
      v_paused float8;
      v_now float8;
    BEGIN
      SELECT b.tokens, b.updated_at, b.paused_until INTO v_tokens, v_updated, v_paused
        FROM ${s}.rate_buckets b WHERE b.bucket = p_bucket FOR UPDATE;
      IF NOT FOUND THEN
        INSERT INTO ${s}.rate_buckets (bucket, tokens, updated_at) VALUES (p_bucket, p_burst, extract(epoch from clock_timestamp()) * 1000)
          ON CONFLICT (bucket) DO NOTHING;
        SELECT b.tokens, b.updated_at, b.paused_until INTO v_tokens, v_updated, v_paused
          FROM ${s}.rate_buckets b WHERE b.bucket = p_bucket FOR UPDATE;
      END IF;
      -- Read the clock only once the row is ours, so time never runs backwards across holders.
      v_now := greatest(v_updated, extract(epoch from clock_timestamp()) * 1000);
      v_tokens := least(p_burst, v_tokens + (v_now - v_updated) * p_rate);
      IF v_paused > v_now THEN
        granted := 0;
        wait_ms := v_paused - v_now;
      ELSE
        granted := least(p_count, floor(v_tokens))::int4;
        v_tokens := v_tokens - granted;
        wait_ms := CASE WHEN granted > 0 THEN 0 ELSE (1 - v_tokens) / p_rate END;
      END IF;
      UPDATE ${s}.rate_buckets SET tokens = v_tokens, updated_at = v_now WHERE bucket = p_bucket;
      RETURN NEXT;
    END
    $fn$;

    -- Records one attempt's effect on a connection's circuit breaker (the engine's Breaker rules).
    CREATE FUNCTION ${s}.breaker_record(p_connection text, p_failure boolean, p_threshold int4, p_cooldown int8, p_max_cooldown int8, p_now int8)
    RETURNS TABLE (state text, failures int4, probe_at int8) LANGUAGE plpgsql AS $fn$
    DECLARE
      r ${s}.breakers%ROWTYPE;
      v_cooldown int8;
    BEGIN
      INSERT INTO ${s}.breakers AS b (connection, state, failures, cooldown_ms, probe_at, updated_at)
        VALUES (p_connection, 'closed', 0, p_cooldown, 0, p_now) ON CONFLICT (connection) DO NOTHING;
      SELECT * INTO r FROM ${s}.breakers b WHERE b.connection = p_connection FOR UPDATE;
      IF NOT p_failure THEN
        UPDATE ${s}.breakers b SET state = 'closed', failures = 0, cooldown_ms = p_cooldown, probe_by = NULL, probe_until = 0, updated_at = p_now
          WHERE b.connection = p_connection;
      ELSIF r.state = 'half_open' THEN
        v_cooldown := least(r.cooldown_ms * 2, greatest(p_max_cooldown, p_cooldown));
        UPDATE ${s}.breakers b SET state = 'open', cooldown_ms = v_cooldown, probe_at = p_now + v_cooldown, probe_by = NULL, probe_until = 0, updated_at = p_now
          WHERE b.connection = p_connection;
      ELSIF r.state = 'closed' THEN
        IF p_threshold > 0 AND r.failures + 1 >= p_threshold THEN
          UPDATE ${s}.breakers b SET state = 'open', failures = r.failures + 1, probe_at = p_now + r.cooldown_ms, updated_at = p_now
            WHERE b.connection = p_connection;
        ELSE
          UPDATE ${s}.breakers b SET failures = r.failures + 1, updated_at = p_now WHERE b.connection = p_connection;
        END IF;
      END IF;
      RETURN QUERY SELECT b.state, b.failures, CASE WHEN b.state = 'half_open' THEN b.probe_until ELSE b.probe_at END
        FROM ${s}.breakers b WHERE b.connection = p_connection;
    END
    $fn$;

    -- Claims due deliveries for p_worker and starts an attempt on each (processing, attempt_count
    -- + 1: the attempt's write-ahead). Candidates are locked with SKIP LOCKED, so workers never
    -- wait on each other; at most p_caps[i] for connection p_connections[i]; leased for p_lease
    -- ms. previous_status 'processing' means the last holder died mid-attempt. A delivery someone
    -- asked to cancel while its holder died is canceled instead (previous_status 'canceled').
    -- The events come back from here too: this function's statements see rows committed after
    -- the calling statement began, so a join outside it could miss the event of a delivery it claimed.
    CREATE FUNCTION ${s}.claim(p_worker text, p_connections text[], p_caps int4[], p_limit int4, p_lease int8)
    RETURNS TABLE (previous_status text, claimed_delivery ${s}.deliveries, claimed_event ${s}.events) LANGUAGE plpgsql ${KEYED} AS $fn$
    DECLARE
      v_now int8 := ${NOW_MS};
      v_rows ${s}.deliveries[];
      v_previous text[];
      v_fresh int8[];
    BEGIN
      WITH c AS (
        SELECT x.id, x.connection, x.run_at, x.status, x.attempt_count FROM ${s}.deliveries x
        WHERE x.run_at <= v_now AND x.connection = ANY(p_connections)
        ORDER BY x.run_at
        LIMIT p_limit * 2
        FOR UPDATE SKIP LOCKED
      ), picked AS (
        SELECT r.id, r.status FROM (SELECT c.*, row_number() OVER (PARTITION BY c.connection ORDER BY c.run_at) AS rn FROM c) r
        JOIN unnest(p_connections, p_caps) AS cap(connection, n) ON cap.connection = r.connection
        WHERE r.rn <= cap.n ORDER BY r.run_at LIMIT p_limit
      ), upd AS (
        UPDATE ${s}.deliveries x SET
          status = CASE WHEN x.cancel_requested THEN 'canceled' ELSE 'processing' END,
          attempt_count = CASE WHEN x.cancel_requested THEN x.attempt_count ELSE x.attempt_count + 1 END,
          next_attempt_at = NULL,
          completed_at = CASE WHEN x.cancel_requested THEN v_now ELSE x.completed_at END,
          locked_by = CASE WHEN x.cancel_requested THEN NULL ELSE p_worker END,
          locked_until = CASE WHEN x.cancel_requested THEN NULL ELSE v_now + p_lease END,
          run_at = CASE WHEN x.cancel_requested THEN NULL ELSE v_now + p_lease END
        FROM picked WHERE x.id = picked.id
        RETURNING CASE WHEN x.cancel_requested THEN 'canceled' ELSE picked.status END AS previous_status, x AS d
      )
      SELECT array_agg(upd.d ORDER BY (upd.d).run_at, (upd.d).id), array_agg(upd.previous_status ORDER BY (upd.d).run_at, (upd.d).id),
             array_agg(DISTINCT (upd.d).event_seq) FILTER (WHERE upd.previous_status = 'canceled' OR (upd.previous_status = 'pending' AND (upd.d).attempt_count = 1))
        INTO v_rows, v_previous, v_fresh FROM upd;
      -- Events whose first attempt starts now (still pending), or with a delivery canceled, change status.
      IF v_fresh IS NOT NULL THEN
        SELECT array_agg(e.seq) INTO v_fresh FROM ${s}.events e WHERE e.seq = ANY(v_fresh) AND (e.status = 'pending' OR EXISTS (
          SELECT 1 FROM generate_subscripts(v_rows, 1) AS i WHERE v_previous[i] = 'canceled' AND (v_rows[i]).event_seq = e.seq));
        IF v_fresh IS NOT NULL THEN PERFORM ${s}.refresh_events(v_fresh); END IF;
      END IF;
      IF v_rows IS NOT NULL THEN
        RETURN QUERY SELECT v_previous[i], v_rows[i], ev FROM generate_subscripts(v_rows, 1) AS i
          JOIN ${s}.events ev ON ev.seq = (v_rows[i]).event_seq;
      END IF;
    END
    $fn$;

    CREATE FUNCTION ${s}.renew(p_worker text, p_ids text[], p_lease int8)
    RETURNS TABLE (id text, cancel_requested boolean) LANGUAGE sql ${KEYED} AS $fn$
      UPDATE ${s}.deliveries d SET locked_until = ${NOW_MS} + p_lease, run_at = ${NOW_MS} + p_lease
      WHERE d.id = ANY(p_ids) AND d.locked_by = p_worker
      RETURNING d.id, d.cancel_requested
    $fn$;

    CREATE FUNCTION ${s}.release(p_worker text, p_ids text[])
    RETURNS int8 LANGUAGE sql ${KEYED} AS $fn$
      WITH r AS (
        UPDATE ${s}.deliveries d SET locked_by = NULL, locked_until = NULL,
          run_at = CASE WHEN d.status IN ${OPEN_SQL} THEN coalesce(d.next_attempt_at, ${NOW_MS}) END
        WHERE d.id = ANY(p_ids) AND d.locked_by = p_worker
        RETURNING 1
      ) SELECT count(*) FROM r
    $fn$;

    -- Recomputes events' status and counters from their deliveries. The events are locked first,
    -- in seq order (no deadlock between writers), and each statement of a function sees what
    -- committed before it, so two workers finishing deliveries of one event never lose an update.
    CREATE FUNCTION ${s}.refresh_events(p_seqs int8[]) RETURNS void LANGUAGE plpgsql ${KEYED} AS $fn$
    BEGIN
      PERFORM 1 FROM ${s}.events WHERE seq = ANY(p_seqs) ORDER BY seq FOR UPDATE;
      UPDATE ${s}.events e SET status = x.status, completed_count = x.completed, failed_count = x.failed
      FROM (
        SELECT d.event_seq,
          CASE
            WHEN count(*) FILTER (WHERE d.status IN ${OPEN_SQL}) > 0 THEN
              CASE WHEN count(*) FILTER (WHERE d.status <> 'pending' OR d.attempt_count > 0) > 0 THEN 'processing' ELSE 'pending' END
            WHEN count(*) FILTER (WHERE d.status = 'failed') > 0 THEN 'failed'
            WHEN count(*) FILTER (WHERE d.status = 'canceled') > 0 AND count(*) FILTER (WHERE d.status = 'completed') = 0 THEN 'canceled'
            ELSE 'completed'
          END AS status,
          (count(*) FILTER (WHERE d.status = 'completed'))::int4 AS completed,
          (count(*) FILTER (WHERE d.status = 'failed'))::int4 AS failed
        FROM ${s}.deliveries d WHERE d.event_seq = ANY(p_seqs) GROUP BY d.event_seq
      ) x
      WHERE e.seq = x.event_seq AND (e.status, e.completed_count, e.failed_count) IS DISTINCT FROM (x.status, x.completed, x.failed);
    END
    $fn$;

    -- One engine flush in one round trip: delivery changes (only the rows p_worker holds, when
    -- given; each released unless kept), attempts, and the events' status. Answers the ids of
    -- deliveries the worker no longer held, which were left unchanged.
    CREATE FUNCTION ${s}.write_batch(
      p_worker text, p_ids text[], p_status text[], p_attempt_count int4[], p_round_start int4[], p_next int8[],
      p_error text[], p_outcome text[], p_updated int8[], p_completed int8[], p_keep boolean[],
      a_delivery text[], a_attempt int4[], a_workspace text[], a_event text[], a_rule text[], a_started int8[],
      a_duration int4[], a_status int4[], a_outcome text[], a_retryable boolean[], a_message text[], a_detail json[]
    ) RETURNS SETOF text LANGUAGE plpgsql ${KEYED} AS $fn$
    DECLARE
      v_seqs int8[];
      v_moving int8[];
      v_done text[];
    BEGIN
      IF cardinality(p_ids) > 0 THEN
        WITH u AS (
          SELECT u.*, (u.status IN ('pending', 'retrying') AND NOT u.keep) AS releasable
          FROM unnest(p_ids, p_status, p_attempt_count, p_round_start, p_next, p_error, p_outcome, p_updated, p_completed, p_keep)
            AS u(id, status, attempt_count, round_start, next_attempt_at, last_error, last_outcome, updated_at, completed_at, keep)
        ), upd AS (
          UPDATE ${s}.deliveries d SET
            status = CASE WHEN d.cancel_requested AND u.releasable THEN 'canceled' ELSE u.status END,
            attempt_count = u.attempt_count,
            round_start = u.round_start,
            next_attempt_at = CASE WHEN d.cancel_requested AND u.releasable THEN NULL ELSE u.next_attempt_at END,
            last_error = u.last_error,
            last_outcome = u.last_outcome,
            updated_at = u.updated_at,
            completed_at = CASE WHEN d.cancel_requested AND u.releasable THEN u.updated_at ELSE u.completed_at END,
            locked_by = CASE WHEN u.keep THEN d.locked_by END,
            locked_until = CASE WHEN u.keep THEN d.locked_until END,
            run_at = CASE
              WHEN u.keep THEN d.run_at
              WHEN d.cancel_requested AND u.releasable THEN NULL
              WHEN u.status IN ${OPEN_SQL} THEN coalesce(u.next_attempt_at, u.updated_at)
            END
          FROM u
          WHERE d.id = u.id AND (p_worker IS NULL OR d.locked_by = p_worker)
          RETURNING d.id, d.event_seq, d.status
        )
        -- An event's status and counters change when a delivery finishes or starts over; a
        -- delivery moving between processing and retrying changes nothing unless it is pending.
        SELECT array_agg(DISTINCT upd.event_seq) FILTER (WHERE upd.status NOT IN ('processing', 'retrying')),
               array_agg(DISTINCT upd.event_seq) FILTER (WHERE upd.status IN ('processing', 'retrying')),
               array_agg(upd.id)
          INTO v_seqs, v_moving, v_done FROM upd;
        IF v_moving IS NOT NULL THEN
          SELECT coalesce(v_seqs, '{}'::int8[]) || array_agg(e.seq) INTO v_seqs FROM ${s}.events e WHERE e.seq = ANY(v_moving) AND e.status = 'pending';
        END IF;
      END IF;
      IF cardinality(a_delivery) > 0 THEN
        INSERT INTO ${s}.attempts (delivery_id, attempt, workspace, event_id, rule_id, started_at, duration_ms, status, outcome, retryable, message, detail)
        SELECT * FROM unnest(a_delivery, a_attempt, a_workspace, a_event, a_rule, a_started, a_duration, a_status, a_outcome, a_retryable, a_message, a_detail)
        ON CONFLICT (delivery_id, attempt) DO NOTHING;
      END IF;
      IF v_seqs IS NOT NULL THEN
        PERFORM ${s}.refresh_events(v_seqs);
      END IF;
      IF p_worker IS NOT NULL AND cardinality(p_ids) > 0 THEN
        RETURN QUERY SELECT x FROM unnest(p_ids) AS x WHERE NOT (x = ANY(coalesce(v_done, '{}'::text[])));
      END IF;
    END
    $fn$;
    `,
  ];
}

/** `"name"` for a schema name, after checking it is a plain identifier. */
export function quoteSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,50}$/i.test(schema)) {
    throw new MeshworkRulesError("invalid_request", `schema: ${JSON.stringify(schema)} must be a plain SQL identifier (letters, digits and _, at most 51 characters)`);
  }
  return pg.escapeIdentifier(schema);
}

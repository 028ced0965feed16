-- Audit records the platform keeps about itself; created by setup, owned by the
-- warehouse owner, written by the roles granted in bootstrap.py.
create table if not exists audit.loads (
    load_id bigserial primary key,
    source text not null,
    file_name text not null,
    file_sha256 text not null,
    run_id text,
    started_at timestamptz not null,
    finished_at timestamptz,
    rows_read bigint not null default 0,
    rows_loaded bigint not null default 0,
    rows_rejected bigint not null default 0,
    rows_inserted bigint not null default 0,
    rows_updated bigint not null default 0,
    -- the same content is loaded once, whatever the file is called
    unique (source, file_sha256)
);

create table if not exists audit.rejected_rows (
    load_id bigint not null references audit.loads (load_id),
    line_number bigint not null,
    record jsonb not null,
    reason text not null,
    primary key (load_id, line_number)
);

create table if not exists audit.publications (
    publication_id bigserial primary key,
    table_name text not null,
    row_count bigint not null,
    run_id text,
    published_at timestamptz not null default now()
);

-- Added with the server-typed loader (additive: older warehouses gain the columns).
-- loads: the file's size, the typing and publishing paths taken, and schema drift
-- (new columns kept, declared columns absent, columns rejected in most rows).
alter table audit.loads add column if not exists bytes bigint;
alter table audit.loads add column if not exists typing text;
alter table audit.loads add column if not exists publish text;
alter table audit.loads add column if not exists drift jsonb;
-- rejected_rows: the column that failed and its value, beside the whole record.
alter table audit.rejected_rows add column if not exists column_name text;
alter table audit.rejected_rows add column if not exists value text;

-- Whether text converts to a type, on servers without pg_input_is_valid (before 16).
-- Slow (a subtransaction per call); the loader uses it only on such servers.
create or replace function audit.input_is_valid(value text, type_name text)
returns boolean language plpgsql stable as $$
begin
    execute format('select %L::%s', value, type_name);
    return true;
exception when others then
    return false;
end
$$;

-- The high-water mark of each incrementally extracted object: the largest incremental
-- key loaded (a timestamp for tables and APIs, the last key for S3 drops). It moves
-- forward only, in the same transaction as the load that reached it; backfills read
-- their own window and leave it alone.
create table if not exists audit.watermarks (
    source text primary key,
    mark text not null,
    load_id bigint references audit.loads (load_id),
    run_id text,
    updated_at timestamptz not null default now()
);

-- The audit trail of runs, quality gates and failures (quality/audit.py writes it).
-- Kept METRICSTACK_AUDIT_RETENTION_DAYS days (default 400), purged by the transform
-- DAG's purge_audit task; audit.loads, rejected_rows and watermarks are the loader's
-- memory of what was loaded and are not purged.

-- One row per DAG run, written by the DAG's success and failure callbacks; a cleared
-- and re-run DAG run updates its row.
create table if not exists audit.pipeline_runs (
    dag_id text not null,
    run_id text not null,
    run_type text,
    state text not null,
    started_at timestamptz,
    ended_at timestamptz,
    reason text,
    recorded_at timestamptz not null default now(),
    primary key (dag_id, run_id)
);

-- Every expectation a quality gate evaluated: what it checked and what it found.
create table if not exists audit.validations (
    validation_id bigserial primary key,
    run_id text,
    checkpoint text not null,
    suite text not null,
    asset text not null,
    expectation_type text not null,
    column_name text,
    expected text,
    success boolean not null,
    severity text not null,
    observed_value text,
    unexpected_count bigint,
    element_count bigint,
    evaluation_error boolean not null default false,
    validated_at timestamptz not null default now()
);
create index if not exists validations_run_id on audit.validations (run_id);
create index if not exists validations_validated_at on audit.validations (validated_at);

-- Each gate's decision: passed, passed_with_warnings (recorded, not blocking) or
-- blocked (the run stopped; reasons say which expectations, or the error).
create table if not exists audit.gate_decisions (
    decision_id bigserial primary key,
    run_id text,
    gate text not null,
    decision text not null
        check (decision in ('passed', 'passed_with_warnings', 'blocked')),
    evaluated integer not null default 0,
    blocking integer not null default 0,
    warnings integer not null default 0,
    reasons jsonb not null default '[]',
    data_docs text,
    decided_at timestamptz not null default now()
);
create index if not exists gate_decisions_run_id on audit.gate_decisions (run_id);

-- Every task that failed for good (after its retries), with what to do about it.
create table if not exists audit.task_failures (
    failure_id bigserial primary key,
    dag_id text not null,
    task_id text not null,
    run_id text,
    map_index integer,
    try_number integer,
    error_class text,
    message text not null,
    hint text,
    failed_at timestamptz not null default now()
);

-- Alerts: load volumes off their usual range, quality warnings. Non-blocking.
create table if not exists audit.alerts (
    alert_id bigserial primary key,
    kind text not null,
    subject text not null,
    observed numeric,
    expected_low numeric,
    expected_high numeric,
    details jsonb,
    run_id text,
    notified boolean,
    raised_at timestamptz not null default now()
);
create index if not exists alerts_raised_at on audit.alerts (raised_at);

-- Lineage edges for auditors (lineage/store.py rewrites them after each publication):
-- source object -> raw table -> dbt models -> marts -> Superset dataset -> chart.
create table if not exists audit.lineage_edges (
    from_dataset text not null,
    to_dataset text not null,
    kind text not null,
    job text not null,
    run_id text,
    event_time timestamptz,
    state text not null,
    recorded_at timestamptz not null default now(),
    primary key (from_dataset, to_dataset)
);

-- Which table publication left in marts_build as the base of each mart's next
-- incremental build (warehouse/publish.py): a build table with another OID was
-- created anew, and the published copy goes back as the base.
create table if not exists audit.publication_bases (
    table_name text primary key,
    base_oid oid not null
);

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

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

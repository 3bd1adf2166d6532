-- PostgreSQL's version of the shared migration of the same name: bigint where SQLite's
-- integer holds 64-bit values.
-- Recordings of meetings: uploaded slice by slice from a participant's browser (mesh), or
-- made by a hosted provider (its id in external_id). Bytes live in DATA_DIR/recordings/.
create table recording (
    id text primary key not null,
    meeting_id text not null references meeting (id) on delete cascade,
    created_by text references account (id) on delete set null,
    provider text not null check (provider in ('mesh', 'stream')),
    status text not null check (status in ('recording', 'ready', 'failed')),
    mime_type text not null,
    byte_size bigint not null default 0,
    next_seq bigint not null default 0,
    duration_ms bigint,
    started_at bigint not null,
    ended_at bigint,
    last_slice_at bigint not null,
    external_id text,
    url text,
    created_at bigint not null
);

create index recording_meeting on recording (meeting_id, started_at);
create unique index recording_external on recording (provider, external_id) where external_id is not null;
-- The sweeper finds recordings whose uploader went quiet.
create index recording_open on recording (last_slice_at) where status = 'recording';

-- The host may let everyone in the meeting record.
alter table meeting add column recording_allowed bigint not null default 0;

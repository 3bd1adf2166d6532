-- Recordings of meetings. Stream reports them by webhook (`call.recording_ready`); `provider`
-- says where the file lives (`stream` today), `url` where to fetch it. A recording is known by
-- its meeting and file name, so a webhook delivered twice stores it once. Times are whole
-- seconds since the Unix epoch, UTC.
create table recording (
    id text primary key not null,
    meeting_id text not null references meeting (id) on delete cascade,
    provider text not null,
    url text not null,
    filename text not null,
    start_time integer not null,
    end_time integer not null,
    created_at integer not null,
    unique (meeting_id, filename)
);

-- PostgreSQL's version of the shared migration of the same name: bigint where SQLite's
-- integer holds 64-bit values.
-- Meetings: instant, scheduled, and the sessions of personal rooms. Times are whole seconds
-- since the Unix epoch, UTC.
create table meeting (
    id text primary key not null,
    owner_id text not null references account (id) on delete cascade,
    description text not null,
    kind text not null check (kind in ('instant', 'scheduled', 'personal')),
    starts_at bigint not null,
    created_at bigint not null,
    ended_at bigint,
    cancelled_at bigint
);

-- The lists start from "meetings I own" ordered by start time.
create index meeting_owner_starts on meeting (owner_id, starts_at);

-- Who really joined a meeting. `present` is 1 while they are connected; `last_seen_at` is
-- refreshed while they are, so a crashed server cannot leave a meeting "live" forever.
create table attendance (
    meeting_id text not null references meeting (id) on delete cascade,
    account_id text not null references account (id) on delete cascade,
    first_joined_at bigint not null,
    last_seen_at bigint not null,
    present bigint not null default 0,
    created_at bigint not null,
    primary key (meeting_id, account_id)
);

-- "Meetings I attended", for the lists.
create index attendance_account on attendance (account_id, meeting_id);

-- A personal room: a stable, random room ID per account. `meeting_id` is the session open now
-- (null when none is): ending the room ends that session, and the next visit opens a new one.
create table personal_room (
    account_id text primary key not null references account (id) on delete cascade,
    room_id text not null unique,
    meeting_id text references meeting (id) on delete set null,
    created_at bigint not null
);

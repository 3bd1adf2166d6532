-- The host's say over who is in a meeting, kept so it holds across reconnects and restarts.
-- `meeting_access`: the waiting room and the lock (a meeting without a row uses its kind's
-- default: the waiting room is on for personal rooms, off otherwise).
create table meeting_access (
    meeting_id text primary key not null references meeting (id) on delete cascade,
    waiting_room integer not null default 0,
    locked integer not null default 0,
    updated_at integer not null,
    created_at integer not null
);

-- People the host let in (they skip the waiting room when they come back) and people the
-- host removed (refused until the host lets them back, which deletes the row).
create table meeting_admission (
    meeting_id text not null references meeting (id) on delete cascade,
    account_id text not null references account (id) on delete cascade,
    status text not null check (status in ('admitted', 'removed')),
    name text not null,
    decided_at integer not null,
    created_at integer not null,
    primary key (meeting_id, account_id)
);

-- The meeting's chat, in the order the room received it (`seq`, from 1). The author's name is
-- kept as it was, so a removed participant's messages stay marked with their name. A message
-- the host deleted keeps its place with its text cleared.
create table chat_message (
    meeting_id text not null references meeting (id) on delete cascade,
    seq integer not null,
    account_id text references account (id) on delete set null,
    author_name text not null,
    body text not null,
    deleted_at integer,
    created_at integer not null,
    primary key (meeting_id, seq)
);

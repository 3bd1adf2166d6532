-- Several instances on one database (PostgreSQL): each one that is running, and which of them
-- holds each meeting's room. An instance refreshes `heartbeat_at` (milliseconds since the
-- epoch) every second; one that stopped doing so for a few seconds is dead, and its rooms go
-- to whichever instance a participant reaches next. `url` is where the other instances reach
-- it (INSTANCE_URL): a participant who reaches another instance is relayed there.
create table instance (
    id text primary key not null,
    url text not null,
    heartbeat_at bigint not null,
    started_at bigint not null,
    created_at bigint not null
);

-- A meeting's room lives on one instance. The row goes with its instance (which removes it when
-- it stops, or is found dead) and with its meeting.
create table room_owner (
    meeting_id text primary key not null references meeting (id) on delete cascade,
    instance_id text not null references instance (id) on delete cascade,
    claimed_at bigint not null,
    created_at bigint not null
);

create index room_owner_instance on room_owner (instance_id);

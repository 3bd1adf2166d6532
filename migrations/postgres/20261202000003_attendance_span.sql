-- PostgreSQL's version of the shared migration of the same name: bigint where SQLite's
-- integer holds 64-bit values.
-- Each stretch of time someone was in a meeting, from joining to leaving: a recording is theirs
-- to watch only if they were there while it was being made. An open span (`left_at` null) is
-- refreshed through `last_seen_at` while they stay; one a crash left open counts until a
-- minute after it was last refreshed.
create table attendance_span (
    meeting_id text not null references meeting (id) on delete cascade,
    account_id text not null references account (id) on delete cascade,
    joined_at bigint not null,
    last_seen_at bigint not null,
    left_at bigint,
    created_at bigint not null
);

create index attendance_span_person on attendance_span (account_id, meeting_id, joined_at);
create index attendance_span_meeting on attendance_span (meeting_id, joined_at);

-- Attendance from before spans existed becomes one span per person: from their first join to
-- when they were last seen.
insert into attendance_span (meeting_id, account_id, joined_at, last_seen_at, left_at, created_at)
select meeting_id, account_id, first_joined_at, last_seen_at,
       case when present = 1 then null else last_seen_at end, created_at
from attendance;

-- When anyone was last seen in a meeting, so meetings whose room emptied long ago can be ended
-- without scanning every meeting.
alter table meeting add column last_seen_at bigint;

update meeting set last_seen_at = (select max(a.last_seen_at) from attendance a where a.meeting_id = meeting.id)
where ended_at is null and cancelled_at is null;

create index meeting_idle on meeting (last_seen_at)
where ended_at is null and cancelled_at is null and last_seen_at is not null;

-- Share links carry the version they were made for; the host stopping sharing bumps it, and
-- every link made before stops playing.
alter table recording add column share_version bigint not null default 0;

-- PostgreSQL's version of the shared migration of the same name: bigint where SQLite's
-- integer holds 64-bit values.
-- A hosted provider's recording, as its API addresses it: Stream deletes a recording by call,
-- session and file name. `provider_seen_at` is when the provider last reported it (by webhook
-- or in a listing), so one it no longer lists can be told from one it has not listed yet.
alter table recording add column provider_session text;
alter table recording add column provider_file text;
alter table recording add column provider_seen_at bigint;

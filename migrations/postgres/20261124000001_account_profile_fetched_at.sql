-- PostgreSQL's version of the shared migration of the same name: bigint where SQLite's
-- integer holds 64-bit values.
-- Accounts from a hosted identity provider (Clerk) keep a copy of the provider's profile (name,
-- picture). `profile_fetched_at` (seconds since the epoch, UTC) says how old that copy is; null
-- for built-in accounts and for a profile that could not be fetched yet.
alter table account add column profile_fetched_at bigint;

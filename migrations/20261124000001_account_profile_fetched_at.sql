-- Accounts from a hosted identity provider (Clerk) keep a copy of the provider's profile (name,
-- picture). `profile_fetched_at` (seconds since the epoch, UTC) says how old that copy is; null
-- for built-in accounts and for a profile that could not be fetched yet.
alter table account add column profile_fetched_at integer;

-- PostgreSQL's version of the shared migration of the same name: bigint where SQLite's
-- integer holds 64-bit values.
-- Signed-in sessions of built-in accounts. The session cookie carries a random ID; `id` here is
-- its SHA-256, so the table alone cannot be turned into cookies. Signing out deletes the row,
-- so a copied cookie stops working. `expires_at` matches the cookie's lifetime.
create table auth_session (
    id text primary key not null,
    account_id text not null references account (id) on delete cascade,
    created_at bigint not null,
    expires_at bigint not null
);

create index auth_session_account on auth_session (account_id, created_at);
create index auth_session_expires on auth_session (expires_at);

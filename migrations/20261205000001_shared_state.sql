-- What several instances on one database share (written in SQL both databases read alike:
-- `bigint` is a 64-bit integer on PostgreSQL and an integer on SQLite).
--
-- Secrets generated once for the whole deployment, such as the session key when SESSION_KEY is
-- not set (PostgreSQL only: on SQLite the one instance keeps it in its data directory).
create table app_secret (
    name text primary key not null,
    value text not null,
    created_at bigint not null
);

-- Rate limits counted for every instance at once (PostgreSQL; the one SQLite instance counts in
-- memory): `hits` in the fixed window that ends at `window_ends_at` (milliseconds since the
-- epoch), per limit (`bucket`) and key (an account, a username, an address).
create table rate_limit (
    bucket text not null,
    key text not null,
    hits bigint not null,
    window_ends_at bigint not null,
    primary key (bucket, key)
);

create index rate_limit_window on rate_limit (window_ends_at);

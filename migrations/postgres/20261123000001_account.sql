-- PostgreSQL's version of the shared migration of the same name: 64-bit times, and usernames
-- compared without regard to case (SQLite's `collate nocase`) through a case-insensitive ICU
-- collation, so `username = $1` and the unique index behave as they do on SQLite.
create collation if not exists nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

create table account (
    id text primary key not null,
    username text collate nocase,
    display_name text not null,
    password_hash text,
    image_url text,
    created_at bigint not null,
    updated_at bigint not null
);

create unique index account_username on account (username) where username is not null;

-- People who can sign in. Local accounts carry a password hash; accounts from a hosted
-- identity provider carry none. Named `account` because `user` is reserved in PostgreSQL.
create table account (
    id text primary key not null,
    username text collate nocase,
    display_name text not null,
    password_hash text,
    image_url text,
    created_at integer not null,
    updated_at integer not null
);

create unique index account_username on account (username) where username is not null;

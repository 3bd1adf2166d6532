-- PostgreSQL's version of the shared migration of the same name: bigint where SQLite's
-- integer holds 64-bit values.
-- Stream webhooks already handled, by delivery ID (`X-Webhook-Id`, or a hash of the body when
-- Stream sends none), so a retried delivery is acknowledged without being applied twice (a
-- retried "joined" after "left" would otherwise put someone back in the meeting). Rows older
-- than a day are removed: Stream stops retrying long before that.
create table stream_webhook_delivery (
    delivery_id text primary key,
    created_at bigint not null
);

create index stream_webhook_delivery_created on stream_webhook_delivery (created_at);

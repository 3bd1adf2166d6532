//! Webhook deliveries already handled, so a delivery Stream retries is applied once.

use sha2::{Digest, Sha256};

use crate::db::Pool;

/// How long a delivery ID is remembered; Stream's retries end long before.
pub const REMEMBER_SECS: i64 = 24 * 3600;

/// The delivery's ID: Stream's `X-Webhook-Id` (the same on every retry of one delivery), or,
/// without one, a hash of the signed body (a retry sends the same bytes, event time included).
pub fn delivery_id(webhook_id: Option<&str>, body: &[u8]) -> String {
    match webhook_id.map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => format!("id:{}", &id[..id.len().min(128)]),
        None => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    }
}

/// Claims a delivery before it is applied: false when it was claimed before (a retry).
pub async fn claim(pool: &Pool, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "insert into stream_webhook_delivery (delivery_id, created_at) values ($1, $2) \
         on conflict (delivery_id) do nothing",
    )
    .bind(id)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    if claimed {
        sqlx::query("delete from stream_webhook_delivery where created_at < $1")
            .bind(now - REMEMBER_SECS)
            .execute(pool)
            .await?;
    }
    Ok(claimed)
}

/// Gives a claim back when applying the delivery failed, so Stream's retry is applied.
pub async fn release(pool: &Pool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("delete from stream_webhook_delivery where delivery_id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_named_by_its_webhook_id_or_else_its_body() {
        assert_eq!(delivery_id(Some(" abc "), b"x"), "id:abc");
        assert_eq!(delivery_id(Some(""), b"x"), delivery_id(None, b"x"));
        assert_ne!(delivery_id(None, b"x"), delivery_id(None, b"y"));
        assert!(delivery_id(Some(&"z".repeat(500)), b"").len() <= 131);
    }
}

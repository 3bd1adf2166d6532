//! The `account` table.

use sqlx::Row;

use super::CurrentUser;
use crate::db::{self, Pool};

fn to_user(row: &crate::db::Row) -> Result<CurrentUser, sqlx::Error> {
    Ok(CurrentUser {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        image_url: row.try_get("image_url")?,
    })
}

/// The account with this ID.
pub async fn find_by_id(pool: &Pool, id: &str) -> Result<Option<CurrentUser>, sqlx::Error> {
    sqlx::query("select id, username, display_name, image_url from account where id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|row| to_user(&row))
        .transpose()
}

/// The account with this username (case-insensitive) and its password hash, for sign-in.
pub async fn find_for_sign_in(
    pool: &Pool,
    username: &str,
) -> Result<Option<(CurrentUser, Option<String>)>, sqlx::Error> {
    let row = sqlx::query(
        "select id, username, display_name, image_url, password_hash from account \
         where username = $1",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    row.map(|row| Ok((to_user(&row)?, row.try_get("password_hash")?)))
        .transpose()
}

/// Why a new account could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("that username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates a built-in account.
pub async fn create_local(
    pool: &Pool,
    username: &str,
    display_name: &str,
    password_hash: &str,
) -> Result<CurrentUser, CreateError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = crate::time::now();
    let result = sqlx::query(
        "insert into account (id, username, display_name, password_hash, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(username)
    .bind(display_name)
    .bind(password_hash)
    .bind(now)
    .bind(now)
    .execute(pool)
    .await;
    match result {
        Ok(_) => Ok(CurrentUser {
            id,
            username: Some(username.to_owned()),
            display_name: display_name.to_owned(),
            image_url: None,
        }),
        Err(e) if db::is_unique_violation(&e) => Err(CreateError::UsernameTaken),
        Err(e) => Err(e.into()),
    }
}

/// Stores a new session for an account, ends sessions that expired (anyone's: the index makes
/// that cheap) and the account's oldest ones beyond `keep`.
pub async fn insert_session(
    pool: &Pool,
    hash: &str,
    account_id: &str,
    now: i64,
    expires_at: i64,
    keep: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("delete from auth_session where expires_at <= $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "insert into auth_session (id, account_id, created_at, expires_at) values ($1, $2, $3, $4)",
    )
    .bind(hash)
    .bind(account_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "delete from auth_session where account_id = $1 and id not in (select id from \
         auth_session where account_id = $1 order by created_at desc, id desc limit $2)",
    )
    .bind(account_id)
    .bind(keep)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The account a live session belongs to (one query: it runs on every request).
pub async fn find_by_session(
    pool: &Pool,
    hash: &str,
    now: i64,
) -> Result<Option<CurrentUser>, sqlx::Error> {
    sqlx::query(
        "select a.id, a.username, a.display_name, a.image_url from auth_session s \
         join account a on a.id = s.account_id where s.id = $1 and s.expires_at > $2",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(pool)
    .await?
    .map(|row| to_user(&row))
    .transpose()
}

/// Ends one session.
pub async fn delete_session(pool: &Pool, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("delete from auth_session where id = $1")
        .bind(hash)
        .execute(pool)
        .await?;
    Ok(())
}

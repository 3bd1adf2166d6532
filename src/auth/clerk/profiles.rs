//! Clerk users' names and pictures, fetched from the Backend API and kept in the `account`
//! table (id = the Clerk user ID) so meeting cards and lists can join on them.
//!
//! A profile is refetched when older than [`PROFILE_LIFETIME`]. Only a user never seen before
//! waits for Clerk; anyone else is served from the database at once while a background task
//! refreshes the copy, so a slow or unreachable Clerk API never holds a page up.
//!
//! Each instance keeps the profiles it served in memory for as long as they are fresh (at most
//! [`PROFILE_LIFETIME`]); nothing else changes them but Clerk. With several instances, one
//! refresh is done per stale profile: the instance that claims it in the database (see
//! [`claim_refresh`]) asks Clerk, the others keep serving the stored copy.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Row;

use super::api::{ClerkApi, ClerkUser};
use crate::auth::CurrentUser;
use crate::db::{self, Pool};

/// How long a fetched profile is shown before it is fetched again.
pub const PROFILE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// After a failed fetch, how long to wait before asking Clerk about that user again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Cached {
    user: CurrentUser,
    /// No need to ask Clerk before this.
    good_until: Instant,
}

/// The profile cache: memory in front of the `account` table in front of Clerk.
#[derive(Clone)]
pub struct Profiles {
    api: ClerkApi,
    memory: Arc<Mutex<HashMap<String, Cached>>>,
    refreshing: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for Profiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profiles").finish_non_exhaustive()
    }
}

impl Profiles {
    pub fn new(api: ClerkApi) -> Self {
        Self {
            api,
            memory: Arc::default(),
            refreshing: Arc::default(),
        }
    }

    fn remember(&self, user: &CurrentUser, good_for: Duration) {
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        memory.insert(
            user.id.clone(),
            Cached {
                user: user.clone(),
                good_until: Instant::now() + good_for,
            },
        );
    }

    /// The user for a verified Clerk user ID.
    pub async fn user(&self, pool: &Pool, id: &str) -> Result<CurrentUser, sqlx::Error> {
        let now = Instant::now();
        let remembered = {
            let memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
            memory.get(id).cloned()
        };
        if let Some(cached) = &remembered
            && cached.good_until > now
        {
            return Ok(cached.user.clone());
        }

        if let Some((user, fetched_at)) = stored(pool, id).await? {
            let age = fetched_at.map(|t| crate::time::now().saturating_sub(t));
            match age {
                Some(age) if (age as u64) < PROFILE_LIFETIME.as_secs() => {
                    let left = PROFILE_LIFETIME - Duration::from_secs(age.max(0) as u64);
                    self.remember(&user, left);
                }
                _ => {
                    // Old or never fetched: show what we have, refresh behind the page.
                    self.remember(&user, RETRY_AFTER_FAILURE);
                    self.refresh_in_background(pool.clone(), id.to_owned());
                }
            }
            return Ok(user);
        }

        // Never seen: this request has to wait for Clerk, once.
        match self.api.user(id).await {
            Ok(profile) => self.store(pool, &profile).await,
            Err(e) => {
                tracing::warn!(error = %e, user = %id, "Clerk profile fetch failed; using the user ID as the name");
                let user = store_placeholder(pool, id).await?;
                self.remember(&user, RETRY_AFTER_FAILURE);
                Ok(user)
            }
        }
    }

    async fn store(&self, pool: &Pool, profile: &ClerkUser) -> Result<CurrentUser, sqlx::Error> {
        let user = upsert(pool, profile).await?;
        self.remember(&user, PROFILE_LIFETIME);
        Ok(user)
    }

    fn refresh_in_background(&self, pool: Pool, id: String) {
        {
            let mut refreshing = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
            if !refreshing.insert(id.clone()) {
                return;
            }
        }
        let this = self.clone();
        tokio::spawn(async move {
            match claim_refresh(&pool, &id, crate::time::now()).await {
                Ok(true) => this.refresh(&pool, &id).await,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, user = %id, "could not claim a profile refresh")
                }
            }
            let mut refreshing = this.refreshing.lock().unwrap_or_else(|e| e.into_inner());
            refreshing.remove(&id);
        });
    }

    async fn refresh(&self, pool: &Pool, id: &str) {
        match self.api.user(id).await {
            Ok(profile) => {
                if let Err(e) = self.store(pool, &profile).await {
                    tracing::error!(error = ?e, user = %id, "Failed to store a Clerk profile");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, user = %id, "Clerk profile refresh failed; keeping the stored one");
            }
        }
    }
}

/// Claims the refresh of a stale profile: true for the one caller (of any instance) that should
/// ask Clerk now. The claim dates the stored copy so that it counts as fresh for
/// [`RETRY_AFTER_FAILURE`] more: others serve it meanwhile, and if this refresh fails the
/// next one is due after that long, as it would be on one instance.
pub async fn claim_refresh(pool: &Pool, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let lifetime = PROFILE_LIFETIME.as_secs() as i64;
    let claimed = sqlx::query(
        "update account set profile_fetched_at = $2 where id = $1 \
         and (profile_fetched_at is null or profile_fetched_at <= $3)",
    )
    .bind(id)
    .bind(now - lifetime + RETRY_AFTER_FAILURE.as_secs() as i64)
    .bind(now - lifetime)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

async fn stored(pool: &Pool, id: &str) -> Result<Option<(CurrentUser, Option<i64>)>, sqlx::Error> {
    let row = sqlx::query(
        "select id, username, display_name, image_url, profile_fetched_at from account \
         where id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok((
            CurrentUser {
                id: row.try_get("id")?,
                username: row.try_get("username")?,
                display_name: row.try_get("display_name")?,
                image_url: row.try_get("image_url")?,
            },
            row.try_get("profile_fetched_at")?,
        ))
    })
    .transpose()
}

/// Writes a fetched profile. A username already held by another account (a built-in one left
/// from an earlier mode) is dropped rather than failing the sign-in.
async fn upsert(pool: &Pool, profile: &ClerkUser) -> Result<CurrentUser, sqlx::Error> {
    let mut user = CurrentUser {
        id: profile.id.clone(),
        username: profile.username.clone().filter(|u| !u.trim().is_empty()),
        display_name: profile.display_name(),
        image_url: profile
            .image_url
            .clone()
            .filter(|u| u.starts_with("https://")),
    };
    let write = |user: &CurrentUser| {
        let now = crate::time::now();
        sqlx::query(
            "insert into account \
               (id, username, display_name, image_url, created_at, updated_at, profile_fetched_at) \
             values ($1, $2, $3, $4, $5, $6, $7) \
             on conflict (id) do update set username = excluded.username, \
               display_name = excluded.display_name, image_url = excluded.image_url, \
               updated_at = excluded.updated_at, profile_fetched_at = excluded.profile_fetched_at",
        )
        .bind(user.id.clone())
        .bind(user.username.clone())
        .bind(user.display_name.clone())
        .bind(user.image_url.clone())
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(pool)
    };
    match write(&user).await {
        Err(e) if db::is_unique_violation(&e) => {
            tracing::warn!(user = %user.id, "Clerk username is taken by another account; storing it without");
            user.username = None;
            write(&user).await?;
        }
        other => {
            other?;
        }
    }
    Ok(user)
}

/// An account row for a user whose profile could not be fetched: meetings need the row, and
/// the name is the ID until Clerk answers.
async fn store_placeholder(pool: &Pool, id: &str) -> Result<CurrentUser, sqlx::Error> {
    let now = crate::time::now();
    sqlx::query(
        "insert into account (id, display_name, created_at, updated_at) values ($1, $2, $3, $4) \
         on conflict (id) do nothing",
    )
    .bind(id)
    .bind(id)
    .bind(now)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(stored(pool, id)
        .await?
        .map(|(user, _)| user)
        .unwrap_or(CurrentUser {
            id: id.to_owned(),
            username: None,
            display_name: id.to_owned(),
            image_url: None,
        }))
}

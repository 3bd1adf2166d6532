//! The two calls Yoom makes to Clerk's Backend API: the instance's JWKS and a user's profile.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// Clerk's API is on the request path (first sight of a key or a user): never wait long.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Why a Backend API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Clerk API request to {path} failed: {source}")]
    Transport {
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Clerk API answered {status} to {path}")]
    Status {
        path: String,
        status: reqwest::StatusCode,
    },
}

/// A JSON Web Key as Clerk publishes it (only RSA signing keys are used).
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kid: Option<String>,
    pub kty: String,
    pub n: Option<String>,
    pub e: Option<String>,
    pub alg: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JwkSet {
    #[serde(default)]
    pub keys: Vec<Jwk>,
}

/// The fields of a Clerk user that Yoom shows.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ClerkUser {
    pub id: String,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
}

impl ClerkUser {
    /// The name people see: the username, else first and last name, else the ID.
    pub fn display_name(&self) -> String {
        if let Some(username) = self.username.as_deref().map(str::trim)
            && !username.is_empty()
        {
            return username.to_owned();
        }
        let full = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if full.is_empty() {
            self.id.clone()
        } else {
            full
        }
    }
}

/// A client for `CLERK_API_URL` authenticated with the secret key.
#[derive(Debug, Clone)]
pub struct ClerkApi {
    http: reqwest::Client,
    base: Url,
    secret: SecretString,
}

impl ClerkApi {
    pub fn new(base: Url, secret: SecretString) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .user_agent(concat!("yoom/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, base, secret })
    }

    /// `{base}/v1/<segments…>`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(segments);
        }
        url
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ApiError> {
        let url = self.url(segments);
        let path = url.path().to_owned();
        let transport = |source| ApiError::Transport {
            path: path.clone(),
            source,
        };
        let res = self
            .http
            .get(url)
            .bearer_auth(self.secret.expose_secret())
            .send()
            .await
            .map_err(transport)?;
        if !res.status().is_success() {
            return Err(ApiError::Status {
                path: path.clone(),
                status: res.status(),
            });
        }
        res.json().await.map_err(transport)
    }

    /// `GET /v1/jwks`
    pub async fn jwks(&self) -> Result<JwkSet, ApiError> {
        self.get(&["jwks"]).await
    }

    /// `GET /v1/users/{id}`
    pub async fn user(&self, id: &str) -> Result<ClerkUser, ApiError> {
        self.get(&["users", id]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(username: Option<&str>, first: Option<&str>, last: Option<&str>) -> ClerkUser {
        ClerkUser {
            id: "user_2abc".into(),
            username: username.map(Into::into),
            first_name: first.map(Into::into),
            last_name: last.map(Into::into),
            image_url: None,
        }
    }

    #[test]
    fn display_name_is_the_username_else_the_full_name_else_the_id() {
        assert_eq!(
            user(Some("ada"), Some("Ada"), Some("Lovelace")).display_name(),
            "ada"
        );
        assert_eq!(
            user(None, Some("Ada"), Some("Lovelace")).display_name(),
            "Ada Lovelace"
        );
        assert_eq!(user(Some(" "), Some("Ada"), None).display_name(), "Ada");
        assert_eq!(
            user(None, None, Some("Lovelace")).display_name(),
            "Lovelace"
        );
        assert_eq!(user(None, Some(""), None).display_name(), "user_2abc");
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_segments() {
        let api = ClerkApi::new(
            Url::parse("http://127.0.0.1:9/clerk/").unwrap(),
            SecretString::from("sk_test_x"),
        )
        .unwrap();
        assert_eq!(
            api.url(&["users", "user_1/../x"]).as_str(),
            "http://127.0.0.1:9/clerk/v1/users/user_1%2F..%2Fx"
        );
        let api = ClerkApi::new(
            Url::parse("https://api.clerk.com").unwrap(),
            SecretString::from("sk_test_x"),
        )
        .unwrap();
        assert_eq!(api.url(&["jwks"]).as_str(), "https://api.clerk.com/v1/jwks");
    }
}

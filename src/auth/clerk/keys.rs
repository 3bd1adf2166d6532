//! Clerk's publishable key: the frontend API host it encodes, and the cookie suffix derived
//! from it. Both follow `@clerk/shared`'s `parsePublishableKey` and `getCookieSuffix`.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha1::{Digest, Sha1};

/// Standard base64 that, like `atob`, does not insist on padding.
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Development (`pk_test_`) or production (`pk_live_`) instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceType {
    Development,
    Production,
}

/// A publishable key, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishableKey {
    pub instance_type: InstanceType,
    /// The frontend API host, e.g. `clerk.example.com` or `foo-bar-13.clerk.accounts.dev`.
    pub frontend_api: String,
}

/// Why a publishable key was refused; the messages are what start-up prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishableKeyError {
    #[error("is missing")]
    Missing,
    #[error("is not valid (expected format: pk_test_... or pk_live_...)")]
    BadFormat,
    #[error("is not valid: its encoded part is not base64")]
    NotBase64,
    #[error("is not valid: it does not encode a frontend API host followed by a single `$`")]
    BadHost,
}

impl PublishableKey {
    /// Parses `pk_test_<base64 of "host$">` or `pk_live_…`.
    pub fn parse(key: &str) -> Result<Self, PublishableKeyError> {
        if key.is_empty() {
            return Err(PublishableKeyError::Missing);
        }
        let instance_type = if key.starts_with("pk_live_") {
            InstanceType::Production
        } else if key.starts_with("pk_test_") {
            InstanceType::Development
        } else {
            return Err(PublishableKeyError::BadFormat);
        };
        let parts: Vec<&str> = key.split('_').collect();
        if parts.len() != 3 || parts[2].is_empty() {
            return Err(PublishableKeyError::BadFormat);
        }
        let decoded = LENIENT_STANDARD
            .decode(parts[2])
            .map_err(|_| PublishableKeyError::NotBase64)?;
        let decoded = String::from_utf8(decoded).map_err(|_| PublishableKeyError::BadHost)?;
        let host = decoded
            .strip_suffix('$')
            .filter(|h| !h.contains('$') && h.contains('.'))
            .ok_or(PublishableKeyError::BadHost)?;
        // The host goes into a URL, a CSP and a script address: refuse anything that is not
        // plainly a host name (Clerk's own parser trusts the key; we are stricter).
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        {
            return Err(PublishableKeyError::BadHost);
        }
        Ok(Self {
            instance_type,
            frontend_api: host.to_owned(),
        })
    }
}

/// The suffix Clerk appends to its cookie names for this key (`__session_<suffix>`): the first
/// eight characters of the URL-safe base64 SHA-1 of the whole publishable key.
pub fn cookie_suffix(publishable_key: &str) -> String {
    let digest = Sha1::digest(publishable_key.as_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
    encoded
        .replace('+', "-")
        .replace('/', "_")
        .chars()
        .take(8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_suffixes_match_clerks_known_answers() {
        for (key, suffix) in [
            ("pk_test_Y2xlcmsuY2xlcmsuZGV2JA", "QvfNY2dr"),
            (
                "pk_live_ZmFrZS1jbGVyay10ZXN0LmNsZXJrLmFjY291bnRzLmRldiQ=",
                "qReyu04C",
            ),
            (
                "pk_test_ZW5vdWdoLWFscGFjYS04Mi5jbGVyay5hY2NvdW50cy5sY2xjbGVyay5jb20k",
                "jtYvyt_H",
            ),
            (
                "pk_test_eHh4eHh4LXhhYWFhYS1hYS5jbGVyay5hY2NvdW50cy5sY2xjbGVyay5jb20k",
                "tZJdb-5s",
            ),
        ] {
            assert_eq!(cookie_suffix(key), suffix, "{key}");
        }
    }

    #[test]
    fn publishable_keys_decode_to_their_frontend_api_host() {
        let live = PublishableKey::parse("pk_live_ZmFrZS1jbGVyay10ZXN0LmNsZXJrLmFjY291bnRzLmRldiQ")
            .unwrap();
        assert_eq!(live.instance_type, InstanceType::Production);
        assert_eq!(live.frontend_api, "fake-clerk-test.clerk.accounts.dev");
        let test =
            PublishableKey::parse("pk_test_Zm9vLWJhci0xMy5jbGVyay5hY2NvdW50cy5kZXYk").unwrap();
        assert_eq!(test.instance_type, InstanceType::Development);
        assert_eq!(test.frontend_api, "foo-bar-13.clerk.accounts.dev");
        // With or without base64 padding.
        for key in [
            "pk_test_Y2xlcmsuY2xlcmsuZGV2JA",
            "pk_test_Y2xlcmsuY2xlcmsuZGV2JA==",
        ] {
            assert_eq!(
                PublishableKey::parse(key).unwrap().frontend_api,
                "clerk.clerk.dev"
            );
        }
    }

    #[test]
    fn malformed_publishable_keys_are_refused_like_clerk_refuses_them() {
        use PublishableKeyError::*;
        for (key, expected) in [
            ("", Missing),
            ("whatever", BadFormat),
            ("fake_pk", BadFormat),
            ("pk_live", BadFormat),
            ("pk_live_", BadFormat),
            ("pk_live_invalid!@#$", NotBase64),
            // Extra characters after the `$`.
            (
                "pk_live_ZmFrZS1jbGVyay1tYWxmb3JtZWQuY2xlcmsuYWNjb3VudHMuZGV2JGV4dHJh",
                BadHost,
            ),
            // Two `$`.
            (
                "pk_live_ZmFrZS1jbGVyay1tdWx0aXBsZS5jbGVyay5hY2NvdW50cy5kZXYkJA==",
                BadHost,
            ),
            (
                "pk_live_JGZha2UtY2xlcmstcHJlZml4LmNsZXJrLmFjY291bnRzLmRldiQ=",
                BadHost,
            ),
            // Not a domain.
            ("pk_live_aW52YWxpZGtleSQ=", BadHost),
            ("pk_test_Y2xlcmsuY2xlcmsuZGV2JGV4dHJh", BadHost),
        ] {
            assert_eq!(PublishableKey::parse(key), Err(expected), "{key:?}");
        }
    }
}

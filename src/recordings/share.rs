//! Share links: `/r/{id}?exp=<unix seconds>&sig=<hex HMAC-SHA256>`, playable without an
//! account until they expire or the recording is deleted.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks share links with a key of their own.
#[derive(Clone)]
pub struct ShareSigner {
    key: Vec<u8>,
    pub lifetime_secs: i64,
    /// The public origin full links start with (`BASE_URL`).
    origin: String,
}

impl std::fmt::Debug for ShareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareSigner")
            .field("lifetime_secs", &self.lifetime_secs)
            .finish_non_exhaustive()
    }
}

/// Why a share link does not play.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkProblem {
    Expired,
    Invalid,
}

impl ShareSigner {
    /// A signer whose key is derived from `secret` (the session key), so links survive
    /// restarts and die with a key rotation.
    pub fn new(secret: &[u8], lifetime_secs: i64) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"yoom recording share links v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
            lifetime_secs,
            origin: String::new(),
        }
    }

    fn mac(&self, id: &str, version: i64, exp: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        // Version 0 signs what links signed before versions existed, so those keep playing
        // until the host stops sharing.
        if version == 0 {
            mac.update(format!("recording:{id}:{exp}").as_bytes());
        } else {
            mac.update(format!("recording:{id}:v{version}:{exp}").as_bytes());
        }
        mac
    }

    /// Full links start with this origin (`https://meet.example.com`).
    pub fn with_origin(self, origin: String) -> Self {
        Self { origin, ..self }
    }

    /// The full link for `id` at its share `version`, expiring `lifetime_secs` after `now`.
    pub fn url(&self, id: &str, version: i64, now: i64) -> String {
        format!("{}{}", self.origin, self.link(id, version, now))
    }

    /// The path and query of a link for `id` at its share `version`, expiring
    /// `lifetime_secs` after `now`.
    pub fn link(&self, id: &str, version: i64, now: i64) -> String {
        let exp = now + self.lifetime_secs;
        let sig = hex::encode(self.mac(id, version, exp).finalize().into_bytes());
        format!("/r/{id}?exp={exp}&sig={sig}")
    }

    /// Checks a link's expiry and signature (in constant time) against the recording's
    /// current share `version`.
    pub fn check(
        &self,
        id: &str,
        version: i64,
        exp: i64,
        sig: &str,
        now: i64,
    ) -> Result<(), LinkProblem> {
        let sig = hex::decode(sig).map_err(|_| LinkProblem::Invalid)?;
        self.mac(id, version, exp)
            .verify_slice(&sig)
            .map_err(|_| LinkProblem::Invalid)?;
        if now > exp {
            return Err(LinkProblem::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(link: &str) -> (String, i64, String) {
        let (path, query) = link.split_once('?').unwrap();
        let id = path.trim_start_matches("/r/").to_owned();
        let mut exp = 0;
        let mut sig = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("exp", v) => exp = v.parse().unwrap(),
                ("sig", v) => sig = v.into(),
                _ => {}
            }
        }
        (id, exp, sig)
    }

    #[test]
    fn a_link_plays_until_it_expires_and_not_when_tampered() {
        let signer = ShareSigner::new(b"k", 3600);
        let (id, exp, sig) = parts(&signer.link("rec-1", 0, 1000));
        assert_eq!(exp, 4600);
        assert_eq!(signer.check(&id, 0, exp, &sig, 1000), Ok(()));
        assert_eq!(
            signer.check(&id, 0, exp, &sig, 4601),
            Err(LinkProblem::Expired)
        );
        assert_eq!(
            signer.check("rec-2", 0, exp, &sig, 1000),
            Err(LinkProblem::Invalid)
        );
        assert_eq!(
            signer.check(&id, 0, exp + 3600, &sig, 1000),
            Err(LinkProblem::Invalid)
        );
        assert_eq!(
            signer.check(&id, 0, exp, "zz", 1000),
            Err(LinkProblem::Invalid)
        );
        let other = ShareSigner::new(b"another key", 3600);
        assert_eq!(
            other.check(&id, 0, exp, &sig, 1000),
            Err(LinkProblem::Invalid)
        );
    }

    #[test]
    fn a_new_share_version_stops_every_older_link() {
        let signer = ShareSigner::new(b"k", 3600);
        let (id, exp, sig) = parts(&signer.link("rec-1", 0, 1000));
        assert_eq!(
            signer.check(&id, 1, exp, &sig, 1000),
            Err(LinkProblem::Invalid)
        );
        let (id, exp, sig) = parts(&signer.link("rec-1", 1, 1000));
        assert_eq!(signer.check(&id, 1, exp, &sig, 1000), Ok(()));
        assert_eq!(
            signer.check(&id, 2, exp, &sig, 1000),
            Err(LinkProblem::Invalid)
        );
    }
}

//! Who may join calls of Stream's `default` call type. Stream lets every user join every call
//! of it by default, so a token from this server would open any meeting's call. We hand out
//! call tokens (`call_cids`), which make their holder a member of that one call; with
//! `join-call` taken from the `user` role and given to `call_member` (Stream's "restricted call
//! access"), that is the only call they can join. Checked at start, changed only when needed
//! (`STREAM_RESTRICT_CALLS=false` leaves the call type alone).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::StreamMedia;
use super::client::{CALL_TYPE, StreamClient, StreamError};

/// The capability that lets a role join a call.
pub const JOIN_CALL: &str = "join-call";
/// Tries again this long after Stream could not be asked (at start it may be unreachable).
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// What the check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restriction {
    AlreadyRestricted,
    Restricted,
}

/// The grants to send when `user` may join or `call_member` may not; `None` when all is well.
pub fn restricted_grants(
    grants: &BTreeMap<String, Vec<String>>,
) -> Option<BTreeMap<String, Vec<String>>> {
    let user = grants.get("user").cloned().unwrap_or_default();
    let member = grants.get("call_member").cloned().unwrap_or_default();
    let user_joins = user.iter().any(|c| c == JOIN_CALL);
    let member_joins = member.iter().any(|c| c == JOIN_CALL);
    if !user_joins && member_joins {
        return None;
    }
    let user: Vec<String> = user.into_iter().filter(|c| c != JOIN_CALL).collect();
    let mut member = member;
    if !member_joins {
        member.push(JOIN_CALL.to_owned());
    }
    Some(BTreeMap::from([
        ("user".to_owned(), user),
        ("call_member".to_owned(), member),
    ]))
}

/// Makes sure only call members may join calls of our call type.
pub async fn restrict(client: &StreamClient) -> Result<Restriction, StreamError> {
    let current = client.get_call_type(CALL_TYPE).await?;
    match restricted_grants(&current.grants) {
        None => Ok(Restriction::AlreadyRestricted),
        Some(grants) => {
            client.update_call_type_grants(CALL_TYPE, &grants).await?;
            Ok(Restriction::Restricted)
        }
    }
}

/// Runs [`restrict`] in the background until it succeeds once.
pub fn spawn(stream: Arc<StreamMedia>) {
    tokio::spawn(async move {
        loop {
            match restrict(&stream.client).await {
                Ok(Restriction::AlreadyRestricted) => {
                    tracing::info!("Stream's {CALL_TYPE} call type lets only call members join");
                    return;
                }
                Ok(Restriction::Restricted) => {
                    tracing::warn!(
                        "Stream's {CALL_TYPE} call type let every user join every call; it now \
                         lets only call members join (STREAM_RESTRICT_CALLS=false leaves it alone)"
                    );
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not check who may join Stream calls; trying again in a minute");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(user: &[&str], member: &[&str]) -> BTreeMap<String, Vec<String>> {
        let owned = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        BTreeMap::from([
            ("user".to_owned(), owned(user)),
            ("call_member".to_owned(), owned(member)),
            ("admin".to_owned(), owned(&["join-call", "end-call"])),
        ])
    }

    #[test]
    fn join_call_moves_from_users_to_call_members_and_nothing_else_changes() {
        let open = grants(&["join-call", "send-audio"], &["send-audio"]);
        let fixed = restricted_grants(&open).unwrap();
        assert_eq!(fixed["user"], ["send-audio"]);
        assert_eq!(fixed["call_member"], ["send-audio", "join-call"]);
        assert!(!fixed.contains_key("admin"), "other roles are not sent");
        assert_eq!(
            restricted_grants(&grants(&["send-audio"], &["join-call"])),
            None
        );
    }
}

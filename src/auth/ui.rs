//! What the app shell needs to know about the identity mode (Clerk's user button or the
//! built-in account menu), available to templates while a signed-in request is handled.
//!
//! [`super::require_user`] runs the handler inside [`scope`], so `shell.html` can ask for
//! [`clerk`] without every page handler (and every `Shell`) carrying the identity along.

use std::future::Future;

use super::clerk::ClerkBrowser;

tokio::task_local! {
    static CLERK: Option<ClerkBrowser>;
}

/// Runs `future` (the rest of the request) with the identity's browser settings in reach.
pub async fn scope<F: Future>(clerk: Option<ClerkBrowser>, future: F) -> F::Output {
    CLERK.scope(clerk, future).await
}

/// Clerk's browser settings when the request is handled in Clerk mode.
pub fn clerk() -> Option<ClerkBrowser> {
    CLERK.try_with(Clone::clone).ok().flatten()
}

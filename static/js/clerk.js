// Clerk in the browser (Clerk mode only): mounts Clerk's sign-in, sign-up and user button, and
// refreshes an out-of-date session. clerk-js and @clerk/ui are classic scripts from the
// instance's frontend API, loaded before this module (see templates/auth/clerk_scripts.html);
// everything this module needs comes from data- attributes on #clerk-root.

const WAIT_FOR_SCRIPTS_MS = 15000;
const SIGN_IN_URL = "/sign-in";
const SIGN_UP_URL = "/sign-up";
// Client-side loop guards (the server has its own for the refresh page).
const REFRESH_KEY = "yoom-clerk-refreshes";
const BOUNCE_KEY = "yoom-clerk-bounced-at";
const MAX_REFRESHES = 3;
const GUARD_WINDOW_MS = 30000;

const root = document.getElementById("clerk-root");

/** The look of the original: blue-1 primary on dark-1, dark-3 inputs, white text, our logo. */
function appearance() {
  return {
    options: {
      logoImageUrl: root?.dataset.logoUrl,
      logoLinkUrl: "/",
      socialButtonsVariant: "iconButton",
    },
    variables: {
      colorPrimary: "#0A6CE8",
      colorBackground: "#1C1F2E",
      colorInput: "#252A41",
      colorForeground: "#FFFFFF",
      colorInputForeground: "#FFFFFF",
    },
  };
}

/** Resolves with `read()` once it returns something, or rejects after the timeout. */
function waitFor(read, timeoutMs = WAIT_FOR_SCRIPTS_MS) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      const value = read();
      if (value) return resolve(value);
      if (Date.now() - started > timeoutMs) return reject(new Error("Clerk did not load"));
      setTimeout(poll, 50);
    };
    poll();
  });
}

/** Loads clerk-js; `withUi` waits for @clerk/ui too (needed only to mount components). */
async function loadClerk({ withUi = false } = {}) {
  const clerk = await waitFor(() => window.Clerk);
  const ClerkUI = withUi
    ? await waitFor(() => window.__internal_ClerkUICtor)
    : window.__internal_ClerkUICtor;
  await clerk.load({
    ui: ClerkUI ? { ClerkUI } : undefined,
    signInUrl: SIGN_IN_URL,
    signUpUrl: SIGN_UP_URL,
    signInFallbackRedirectUrl: "/",
    signUpFallbackRedirectUrl: "/",
    afterSignOutUrl: SIGN_IN_URL,
    // Clerk follows a redirect_url only to these origins, so a link such as
    // /sign-in?redirect_url=https://elsewhere cannot send people away after signing in.
    allowedRedirectOrigins: [window.location.origin],
    appearance: appearance(),
  });
  return clerk;
}

function showFailure() {
  root?.querySelectorAll("[data-clerk-loading]").forEach((el) => el.setAttribute("hidden", ""));
  root?.querySelectorAll("[data-clerk-failed]").forEach((el) => el.removeAttribute("hidden"));
}

/** Recent timestamps stored under `key`, with `now` added. */
function recent(key, now) {
  let list = [];
  try {
    list = JSON.parse(sessionStorage.getItem(key) ?? "[]");
  } catch {
    list = [];
  }
  list = list.filter((t) => typeof t === "number" && now - t < GUARD_WINDOW_MS);
  list.push(now);
  sessionStorage.setItem(key, JSON.stringify(list));
  return list;
}

/** Stale session: let clerk-js refresh the cookie, then load the page again. */
async function refresh() {
  const signIn = root.dataset.signInUrl || SIGN_IN_URL;
  if (recent(REFRESH_KEY, Date.now()).length > MAX_REFRESHES) {
    showFailure();
    return;
  }
  const clerk = await loadClerk();
  if (clerk.session) {
    // A fresh token also rewrites the __session cookie.
    await clerk.session.getToken({ skipCache: true });
    window.location.reload();
  } else {
    window.location.replace(signIn);
  }
}

async function mountAuth(kind) {
  const target = document.getElementById("clerk-component");
  const redirectUrl = root.dataset.redirectUrl || "/";
  const clerk = await loadClerk({ withUi: true });
  if (root.dataset.signOut === "true" && clerk.user) {
    await clerk.signOut();
  }
  if (clerk.user) {
    // Clerk says signed in but the server sent us here: go back once, then stop bouncing.
    if (recent(BOUNCE_KEY, Date.now()).length === 1) {
      window.location.replace(redirectUrl);
    } else {
      showFailure();
    }
    return;
  }
  target.replaceChildren();
  const common = { appearance: appearance(), routing: "hash" };
  if (kind === "sign-up") {
    clerk.mountSignUp(target, {
      ...common,
      signInUrl: SIGN_IN_URL,
      fallbackRedirectUrl: redirectUrl,
      signInFallbackRedirectUrl: redirectUrl,
    });
  } else {
    clerk.mountSignIn(target, {
      ...common,
      signUpUrl: SIGN_UP_URL,
      fallbackRedirectUrl: redirectUrl,
      signUpFallbackRedirectUrl: redirectUrl,
    });
  }
}

async function mountUserButton() {
  const clerk = await loadClerk({ withUi: true });
  root.querySelectorAll("[data-clerk-loading]").forEach((el) => el.remove());
  clerk.mountUserButton(root, { appearance: appearance() });
}

async function main() {
  // Without a mount point (the meeting page) clerk-js still loads: it renews the session token
  // in the background, so a long call never finds its cookie out of date.
  const mount = root?.dataset.clerkMount ?? "keep-alive";
  try {
    if (mount === "keep-alive") await loadClerk();
    else if (mount === "refresh") await refresh();
    else if (mount === "sign-in" || mount === "sign-up") await mountAuth(mount);
    else if (mount === "user-button") await mountUserButton();
  } catch (error) {
    console.error("Clerk:", error);
    if (mount !== "user-button") showFailure();
  }
}

main();

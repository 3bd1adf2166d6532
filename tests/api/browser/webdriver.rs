//! A small W3C WebDriver client over reqwest, driving Debian's chromium through chromedriver.
#![allow(dead_code)] // A shared test library: not every helper is used by every suite.
//!
//! Browser tests fail (never skip) when chromium or chromedriver is missing: the README's test
//! command installs them.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// Only one Chromium at a time: the machine has two cores.
static BROWSER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn find_binary(env: &str, names: &[&str]) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    for name in names {
        for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
            let p = PathBuf::from(dir).join(name);
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "{} not found: install Debian's chromium and chromium-driver (scripts/test.sh does) \
         or set {env}",
        names[0]
    );
}

/// Options for a browser.
#[derive(Default, Clone)]
pub struct BrowserOptions {
    /// Phone-sized viewport (390×844) via mobile emulation.
    pub mobile: bool,
    /// Fake camera and microphone, auto-granted.
    pub fake_media: bool,
    /// Extra command-line switches.
    pub extra_args: Vec<String>,
    /// Time zone for the browser (e.g. "Asia/Kolkata").
    pub time_zone: Option<String>,
}

/// One browser session with its own chromedriver.
pub struct Browser {
    base: String,
    session: String,
    http: reqwest::Client,
    _driver: Child,
    _profile: tempfile::TempDir,
    _guard: std::sync::Arc<tokio::sync::MutexGuard<'static, ()>>,
}

/// A test that fails never reaches `quit`, and killing chromedriver leaves its Chromium
/// running (with fake camera and microphone, it keeps a core busy): end every process that
/// uses this browser's own profile directory.
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("pkill")
            .arg("-KILL")
            .arg("-f")
            .arg(format!(
                "--user-data-dir={}",
                self._profile.path().display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A located element.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// One browser; other tests' browsers wait for it to close.
    pub async fn start(options: BrowserOptions) -> Browser {
        let guard = std::sync::Arc::new(BROWSER_LOCK.lock().await);
        Self::start_with(options, guard).await
    }

    /// Several browsers at once (the participants of one call).
    pub async fn start_many(options: Vec<BrowserOptions>) -> Vec<Browser> {
        let guard = std::sync::Arc::new(BROWSER_LOCK.lock().await);
        let mut browsers = Vec::new();
        for o in options {
            browsers.push(Self::start_with(o, guard.clone()).await);
        }
        browsers
    }

    async fn start_with(
        options: BrowserOptions,
        guard: std::sync::Arc<tokio::sync::MutexGuard<'static, ()>>,
    ) -> Browser {
        let chromium = find_binary(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let driver_bin = find_binary("CHROMEDRIVER", &["chromedriver"]);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            // Never follow a redirect: only chromedriver itself may answer on its port.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // A free port can be taken by someone else (another test's server) before chromedriver
        // binds it; then chromedriver exits and we try another port.
        let mut attempt = 0;
        let (driver, base) = loop {
            attempt += 1;
            let port = free_port();
            let mut cmd = Command::new(&driver_bin);
            cmd.arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true);
            if let Some(tz) = &options.time_zone {
                cmd.env("TZ", tz);
            }
            let mut driver = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_bin.display()));
            let base = format!("http://127.0.0.1:{port}");
            if wait_for_driver(&http, &base, &mut driver).await {
                break (driver, base);
            }
            let _ = driver.kill().await;
            assert!(
                attempt < 5,
                "chromedriver did not start after {attempt} tries"
            );
        };
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if options.fake_media {
            args.push("--use-fake-device-for-media-stream".into());
            args.push("--use-fake-ui-for-media-stream".into());
        }
        args.extend(options.extra_args.iter().cloned());
        let mut chrome_options = json!({
            "binary": chromium,
            "args": args,
            "prefs": { "profile.content_settings.exceptions.clipboard": {
                "*": { "setting": 1 }
            }},
        });
        if options.mobile {
            chrome_options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 3.0, "touch": true },
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36"
            });
        }
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": chrome_options,
                "goog:loggingPrefs": { "browser": "ALL" },
                "unhandledPromptBehavior": "accept",
            }}
        });
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_owned();
        Browser {
            base,
            session,
            http,
            _driver: driver,
            _profile: profile,
            _guard: guard,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res: Value = req.send().await.expect("webdriver").json().await.unwrap();
        if let Some(err) = res["value"].get("error") {
            panic!("webdriver {path}: {err} {}", res["value"]["message"]);
        }
        res["value"].clone()
    }

    async fn try_cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res: Value = req
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        match res["value"].get("error") {
            Some(err) => Err(format!("{err}: {}", res["value"]["message"])),
            None => Ok(res["value"].clone()),
        }
    }

    /// Delays everything this browser sends and receives over HTTP and WebSockets by
    /// `latency` (Chromium's network emulation; WebRTC media is not affected).
    pub async fn set_latency(&self, latency: Duration) {
        self.cmd(
            reqwest::Method::POST,
            "/chromium/network_conditions",
            Some(json!({ "network_conditions": {
                "offline": false,
                "latency": latency.as_millis() as u64,
                "download_throughput": 100_000_000,
                "upload_throughput": 100_000_000,
            }})),
        )
        .await;
    }

    pub async fn clear_latency(&self) {
        self.cmd(
            reqwest::Method::DELETE,
            "/chromium/network_conditions",
            None,
        )
        .await;
    }

    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits for the current URL's path (and query) to satisfy a predicate.
    pub async fn wait_for_path(&self, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let url = self.current_url().await;
            let path = url::Url::parse(&url)
                .map(|u| match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_owned(),
                })
                .unwrap_or_default();
            if pred(&path) {
                return path;
            }
            assert!(start.elapsed() < DEFAULT_WAIT, "URL stayed at {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn find(&self, css: &str) -> Option<Element> {
        self.try_cmd(
            reqwest::Method::POST,
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        )
        .await
        .ok()
        .and_then(|v| v[ELEMENT_KEY].as_str().map(|s| Element(s.to_owned())))
    }

    /// Waits until an element matching `css` is present and displayed.
    pub async fn wait(&self, css: &str) -> Element {
        let start = Instant::now();
        loop {
            if let Some(el) = self.find(css).await
                && self.is_displayed(&el).await
            {
                return el;
            }
            if start.elapsed() > DEFAULT_WAIT {
                let html = self.execute("return document.body.innerHTML", vec![]).await;
                panic!("no visible element {css} after {DEFAULT_WAIT:?}; page: {html}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's text contains `text`.
    pub async fn wait_for_text(&self, text: &str) {
        let start = Instant::now();
        loop {
            let body = self.execute("return document.body.innerText", vec![]).await;
            if body.as_str().is_some_and(|b| b.contains(text)) {
                return;
            }
            assert!(
                start.elapsed() < DEFAULT_WAIT,
                "page never said {text:?}; it says {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `script` (run as a function body, with `args`) returns `true`; `what` says
    /// what was awaited when it never does.
    pub async fn wait_true(&self, script: &str, args: Vec<Value>, what: &str) {
        let start = Instant::now();
        loop {
            if self.execute(script, args.clone()).await == Value::Bool(true) {
                return;
            }
            if start.elapsed() > DEFAULT_WAIT {
                let text = self.execute("return document.body.innerText", vec![]).await;
                panic!(
                    "{what}: not so after {DEFAULT_WAIT:?}; the page says {text}; console: {}",
                    self.console().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An attribute of the first element matching `css` (`None` when there is no such element
    /// or attribute).
    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        self.execute(
            "return document.querySelector(arguments[0])?.getAttribute(arguments[1]) ?? null",
            vec![json!(css), json!(name)],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    pub async fn is_displayed(&self, el: &Element) -> bool {
        self.try_cmd(
            reqwest::Method::GET,
            &format!("/element/{}/displayed", el.0),
            None,
        )
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
    }

    pub async fn click(&self, el: &Element) {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{}/click", el.0),
            Some(json!({})),
        )
        .await;
    }

    pub async fn click_css(&self, css: &str) {
        let el = self.wait(css).await;
        self.click(&el).await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.wait(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{}/clear", el.0),
            Some(json!({})),
        )
        .await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn text(&self, el: &Element) -> String {
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{}/text", el.0),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Runs an async script: the last argument is the callback to call with the result.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    pub async fn press_key(&self, key: &str) {
        self.cmd(
            reqwest::Method::POST,
            "/actions",
            Some(
                json!({ "actions": [{ "type": "key", "id": "kbd", "actions": [
                    { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }
                ]}]}),
            ),
        )
        .await;
    }

    /// Types `text` key by key (WebDriver key values too: `"\u{E004}"` is Tab), each pressed
    /// and released, into whatever has the focus.
    pub async fn keys(&self, text: &str) {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                let key = c.to_string();
                [
                    json!({ "type": "keyDown", "value": key }),
                    json!({ "type": "keyUp", "value": key }),
                ]
            })
            .collect();
        self.cmd(
            reqwest::Method::POST,
            "/actions",
            Some(json!({ "actions": [{ "type": "key", "id": "kbd", "actions": actions }] })),
        )
        .await;
    }

    /// Presses `key` with a modifier held (`"\u{E00A}"` Alt, `"\u{E008}"` Shift).
    pub async fn chord(&self, modifier: &str, key: &str) {
        self.cmd(
            reqwest::Method::POST,
            "/actions",
            Some(
                json!({ "actions": [{ "type": "key", "id": "kbd", "actions": [
                    { "type": "keyDown", "value": modifier }, { "type": "keyDown", "value": key },
                    { "type": "keyUp", "value": key }, { "type": "keyUp", "value": modifier }
                ]}]}),
            ),
        )
        .await;
    }

    /// True when the element matching `css` has the focus.
    pub async fn has_focus(&self, css: &str) -> bool {
        self.execute(
            "return !!document.activeElement && document.activeElement.matches(arguments[0])",
            vec![json!(css)],
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// Presses Tab until the element matching `css` has the focus (at most `limit` presses);
    /// returns the presses it took.
    pub async fn tab_to(&self, css: &str, limit: usize) -> usize {
        for pressed in 0..=limit {
            if self.has_focus(css).await {
                return pressed;
            }
            self.keys("\u{E004}").await;
        }
        let at = self
            .execute(
                "return document.activeElement?.outerHTML.slice(0, 120) ?? ''",
                vec![],
            )
            .await;
        panic!("{css} not reached in {limit} Tabs; the focus is on {at}");
    }

    /// Runs `source` in every page this browser opens from now on, before the page's own
    /// scripts (Chromium's DevTools `Page.addScriptToEvaluateOnNewDocument`).
    pub async fn on_every_page(&self, source: &str) {
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Page.addScriptToEvaluateOnNewDocument",
                "params": { "source": source },
            })),
        )
        .await;
    }

    /// Kills this browser's processes outright (SIGKILL), as a crash or a pulled plug would:
    /// no page unload, no goodbye on any socket.
    pub async fn kill(self) {
        let killed = kill_profile(self._profile.path());
        assert!(killed > 0, "no browser process found for this session");
    }

    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let png = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Saves a screenshot named `name` when `SCREENSHOT_DIR` is set (for docs and reviews).
    pub async fn snapshot(&self, name: &str) {
        if let Ok(dir) = std::env::var("SCREENSHOT_DIR") {
            std::fs::create_dir_all(&dir).unwrap();
            self.screenshot(&std::path::Path::new(&dir).join(format!("{name}.png")))
                .await;
        }
    }

    /// The browser console, for diagnosing a failure.
    pub async fn console(&self) -> Value {
        let url = format!("{}/session/{}/se/log", self.base, self.session);
        match self
            .http
            .post(url)
            .json(&json!({ "type": "browser" }))
            .send()
            .await
        {
            Ok(r) => r
                .json::<Value>()
                .await
                .map(|v| v["value"].clone())
                .unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    pub async fn quit(self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

/// SIGKILLs every process started with this profile directory (only this session's Chromium
/// has it); returns how many.
fn kill_profile(profile: &std::path::Path) -> usize {
    let wanted = format!("--user-data-dir={}", profile.display());
    let mut killed = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == wanted.as_bytes())
        {
            // SAFETY: kill(2) on a PID just read; one that already exited is an ESRCH error.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed += 1;
        }
    }
    killed
}

/// True once chromedriver answers `/status` as ready; false if it exited or never did.
async fn wait_for_driver(http: &reqwest::Client, base: &str, driver: &mut Child) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if matches!(driver.try_wait(), Ok(Some(_))) {
            return false;
        }
        if let Ok(r) = http.get(format!("{base}/status")).send().await
            && let Ok(v) = r.json::<Value>().await
            && v["value"]["ready"] == true
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

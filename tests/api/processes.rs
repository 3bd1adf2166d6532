//! Yoom as a process of its own, for what only a real process shows: being killed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{cookie_header, location, new_client_with_jar};

/// A running `yoom` binary on a free port, with its own data directory.
pub struct Process {
    pub address: String,
    child: Child,
    _data_dir: tempfile::TempDir,
}

impl Process {
    /// Starts the binary on `database_url` and waits for its first healthy `/healthz`.
    pub async fn start(database_url: &str) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let address = format!("http://127.0.0.1:{port}");
        let data_dir = tempfile::tempdir().expect("temp dir");
        let child = Command::new(env!("CARGO_BIN_EXE_yoom"))
            .current_dir(data_dir.path())
            .env_clear()
            .env("PORT", port.to_string())
            .env("MEDIA_UDP_PORT", "0")
            .env("MEDIA_TCP_PORT", "0")
            .env("BIND", "127.0.0.1")
            .env("BASE_URL", &address)
            .env("DATA_DIR", data_dir.path())
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the yoom binary starts");
        let process = Process {
            address,
            child,
            _data_dir: data_dir,
        };
        let start = Instant::now();
        loop {
            if let Ok(res) = reqwest::get(format!("{}/healthz", process.address)).await
                && res.status() == 200
            {
                return process;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "yoom did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Signs a new account up; returns the cookie a browser would then send.
    pub async fn sign_up(&self, username: &str) -> String {
        let (client, jar) = new_client_with_jar();
        let res = client
            .post(format!("{}/sign-up", self.address))
            .header("Origin", &self.address)
            .header("Sec-Fetch-Site", "same-origin")
            .form(&[
                ("username", username),
                ("display_name", &format!("{username} Tester")),
                ("password", "correct horse battery"),
                ("confirm_password", "correct horse battery"),
            ])
            .send()
            .await
            .expect("POST /sign-up");
        assert_eq!(res.status(), 303, "sign-up of {username}");
        cookie_header(&jar, &self.address)
    }

    /// Starts an instant meeting as the person with this cookie; returns its ID.
    pub async fn start_instant(&self, cookie: &str, description: &str) -> String {
        let res = crate::helpers::new_client()
            .post(format!("{}/meetings/instant", self.address))
            .header("Cookie", cookie)
            .header("Origin", &self.address)
            .header("Sec-Fetch-Site", "same-origin")
            .form(&[("description", description)])
            .send()
            .await
            .expect("POST /meetings/instant");
        assert_eq!(res.status(), 303);
        location(res.headers())
            .strip_prefix("/meeting/")
            .expect("redirect to the meeting")
            .to_owned()
    }

    /// Kills the process outright (SIGKILL): no goodbye to the other instances.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

//! Typed configuration, read once from the environment (and `.env`) and validated at start.
//!
//! Every problem names the variable it comes from, so an operator can fix it without reading
//! code. A half-configured provider is an error, never a silent fallback to the embedded mode.

use std::net::IpAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use url::Url;

/// What `yoom --help` prints.
pub const HELP: &str = "\
yoom: a video meeting app in one binary.

Usage: yoom [--help]

Configuration comes from the environment; a .env file in the working directory is read too.
With nothing set, Yoom runs on the embedded default: built-in accounts and the built-in
media server (an SFU on one UDP port, with ICE over TCP as fallback), data in ./data.

  BASE_URL                 public origin used in links and calendar files
                           (default http://localhost:8080; alias NEXT_PUBLIC_BASE_URL)
  BIND                     address to listen on (default 127.0.0.1; 0.0.0.0 for a LAN)
  PORT                     port to listen on (default 8080; 0 picks a free port)
  DATA_DIR                 where the database, recordings and session key live (default ./data)
  RECORDINGS_DIR           built-in recordings (default DATA_DIR/recordings); with several
                           instances, a directory they all mount
  DATABASE_URL             sqlite://<path> (default sqlite://<DATA_DIR>/yoom.db), or
                           postgres://user:password@host/db for several instances
  DATABASE_MAX_CONNECTIONS connections in the pool (default 8 on SQLite, 10 on PostgreSQL)
  DATABASE_ACQUIRE_TIMEOUT_SECS
                           how long a request waits for a connection, and start-up for
                           the database (default 5)
  INSTANCE_URL             with PostgreSQL: where the other instances reach this one,
                           http://host:port on the private network (default
                           http://BIND:PORT; required when BIND is 0.0.0.0 or ::)
  SHUTDOWN_DRAIN_SECS      with PostgreSQL: on SIGTERM, how long the instance keeps serving
                           after it fails its health check and hands its rooms over (default 5)
  SESSION_KEY              at least 64 characters; default: generated once, kept in DATA_DIR
                           (in the database with PostgreSQL)
  TRUST_PROXY              true when behind a reverse proxy that sets X-Forwarded-For
  BUILTIN_MEDIA            sfu (default): the server forwards media; mesh: browsers send to
                           each other directly (end-to-end encrypted, for small calls)
  ROOM_MAX_PARTICIPANTS    participants per SFU room (default 50)
  MEDIA_UDP_PORT           UDP port for all SFU media (default: PORT's number; off: none)
  MEDIA_TCP_PORT           TCP port for ICE over TCP, for networks that block UDP
                           (default: PORT + 1; off: none)
  MEDIA_PUBLIC_IP          address announced to browsers for media (default: BIND unless it
                           is 0.0.0.0 or ::, else the first non-loopback interface); set, the
                           media ports listen on every interface (for servers behind NAT)
  ICE_SERVERS              JSON list of STUN/TURN servers for mesh clients, e.g.
                           [{\"urls\":\"stun:stun.example.org:3478\"}] (default: none, LAN only)
  MESH_MAX_PARTICIPANTS    participants per mesh room (default 8)
  RECORDING_MAX_BYTES      largest recording kept, in bytes (default 2000000000)
  RECORDING_QUOTA_BYTES    all of one account's recordings together (default 10000000000)
  RECORDING_LINK_DAYS      how long a recording's share link plays (default 7)
  MEETING_IDLE_END_MINUTES a meeting nobody ended ends this long after its room
                           emptied (default 30)
  MEETING_CREATE_RATE_LIMIT meetings one person may create per hour (default 30)
  STREAM_API_KEY           Stream Video key (alias NEXT_PUBLIC_STREAM_API_KEY); needs
  STREAM_SECRET_KEY        its secret; together they switch media to Stream
  STREAM_BASE_URL          default https://video.stream-io-api.com
  STREAM_TOKEN_RATE_LIMIT  /api/token requests per person per minute (default 60)
  STREAM_RESTRICT_CALLS    let only call members join calls of Stream's default call type, so
                           a call token admits to its one call only (default true)
  CLERK_PUBLISHABLE_KEY    Clerk key (alias NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY); needs
  CLERK_SECRET_KEY         its secret; together they switch identity to Clerk
  CLERK_JWT_KEY            PEM public key for networkless session verification
  CLERK_API_URL            default https://api.clerk.com
  CLERK_AUTHORIZED_PARTIES comma-separated origins allowed as azp (default: BASE_URL's origin)
  RUST_LOG                 log filter (default info)
";

/// A configuration problem, naming the variable at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

/// Settings for the whole application.
#[derive(Debug, Clone)]
pub struct Settings {
    pub base_url: Url,
    pub bind: IpAddr,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Where built-in recordings are kept (`RECORDINGS_DIR`, default `DATA_DIR/recordings`).
    pub recordings_dir: PathBuf,
    pub database_url: String,
    /// The pool's size and patience (`DATABASE_MAX_CONNECTIONS`, `DATABASE_ACQUIRE_TIMEOUT_SECS`).
    pub database_pool: crate::db::PoolSettings,
    /// Where the other instances reach this one (`INSTANCE_URL`; PostgreSQL only). `None`:
    /// `http://BIND:PORT`, once the port is known.
    pub instance_url: Option<Url>,
    /// How long a stopping instance keeps serving after it fails its health check.
    pub shutdown_drain: std::time::Duration,
    pub session_key: Option<SecretString>,
    pub trust_proxy: bool,
    pub ice_servers: serde_json::Value,
    pub mesh_max_participants: usize,
    /// Which built-in media runs meetings when no hosted provider is configured.
    pub builtin_media: BuiltinMedia,
    /// The built-in SFU's ports, address and room size.
    pub sfu: SfuSettings,
    pub recording_max_bytes: i64,
    pub recording_quota_bytes: i64,
    pub recording_link_days: i64,
    /// A meeting nobody ended is ended this long after its room emptied.
    pub meeting_idle_end: std::time::Duration,
    /// Meetings one person may create per hour (each is a call at a hosted provider).
    pub meetings_per_hour: u32,
    pub stream: Option<StreamSettings>,
    pub clerk: Option<ClerkSettings>,
}

/// The built-in media when no hosted provider is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinMedia {
    /// The server forwards media (one connection per browser).
    Sfu,
    /// Browsers connect to each other; the server relays signalling only.
    Mesh,
}

/// Where the built-in SFU listens and what it tells browsers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfuSettings {
    /// UDP port for media (`None`: UDP off; `Some(0)`: any free port).
    pub udp_port: Option<u16>,
    /// TCP port for ICE over TCP (`None`: off; `Some(0)`: any free port).
    pub tcp_port: Option<u16>,
    /// The address announced in ICE candidates; `None` picks one at start (see
    /// `video::sfu::address`).
    pub public_ip: Option<IpAddr>,
    /// People per SFU room.
    pub max_participants: usize,
}

/// Stream Video credentials; present only when both key and secret are set.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub api_key: String,
    pub secret: SecretString,
    pub base_url: Url,
    /// `GET /api/token` requests one person may make per minute.
    pub token_requests_per_minute: u32,
    /// Make sure Stream's `default` call type lets only call members join (the call tokens we
    /// hand out make people members of the one call they were let into).
    pub restrict_calls: bool,
}

/// Clerk credentials; present only when both keys are set.
#[derive(Debug, Clone)]
pub struct ClerkSettings {
    pub publishable_key: String,
    pub secret_key: SecretString,
    pub jwt_key: Option<String>,
    pub api_url: Url,
    pub authorized_parties: Vec<String>,
}

impl Settings {
    /// Reads the process environment, after loading `.env` if one exists.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is reported by the variables it leaves unset.
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any variable source (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let either = |name: &'static str, alias: &'static str| {
            get(name)
                .map(|v| (name, v))
                .or_else(|| get(alias).map(|v| (alias, v)))
        };

        let base_url = match either("BASE_URL", "NEXT_PUBLIC_BASE_URL") {
            Some((var, raw)) => parse_origin(var, &raw)?,
            None => Url::parse("http://localhost:8080").expect("default BASE_URL is valid"),
        };
        let bind = match get("BIND") {
            Some(raw) => raw
                .parse()
                .map_err(|_| ConfigError::new("BIND", format!("`{raw}` is not an IP address")))?,
            None => IpAddr::from([127, 0, 0, 1]),
        };
        let port = parse_number("PORT", get("PORT"), 8080u16)?;
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "./data".into()));
        let recordings_dir = get("RECORDINGS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("recordings"));
        let database_url = match get("DATABASE_URL") {
            Some(url) if crate::db::Backend::of_url(&url).is_some() => url,
            Some(_) => {
                return Err(ConfigError::new(
                    "DATABASE_URL",
                    "must start with sqlite: or postgres://",
                ));
            }
            None => format!("sqlite://{}/yoom.db", data_dir.display()),
        };
        let backend =
            crate::db::Backend::of_url(&database_url).unwrap_or(crate::db::Backend::Sqlite);
        let max_connections = parse_number(
            "DATABASE_MAX_CONNECTIONS",
            get("DATABASE_MAX_CONNECTIONS"),
            backend.default_max_connections(),
        )?;
        // Start-up holds one connection (its lock) while the migrations run on another.
        if !(2..=1000).contains(&max_connections) {
            return Err(ConfigError::new(
                "DATABASE_MAX_CONNECTIONS",
                "must be between 2 and 1000",
            ));
        }
        let acquire_secs = parse_number(
            "DATABASE_ACQUIRE_TIMEOUT_SECS",
            get("DATABASE_ACQUIRE_TIMEOUT_SECS"),
            crate::db::ACQUIRE_TIMEOUT.as_secs(),
        )?;
        if !(1..=600).contains(&acquire_secs) {
            return Err(ConfigError::new(
                "DATABASE_ACQUIRE_TIMEOUT_SECS",
                "must be between 1 and 600",
            ));
        }
        let database_pool = crate::db::PoolSettings {
            max_connections,
            acquire_timeout: std::time::Duration::from_secs(acquire_secs),
        };
        let instance_url = match get("INSTANCE_URL") {
            Some(raw) => {
                let url = parse_origin("INSTANCE_URL", &raw)?;
                if url.scheme() != "http" {
                    return Err(ConfigError::new(
                        "INSTANCE_URL",
                        "must be http://host:port: instances talk over the private network \
                         (TLS ends at the proxy)",
                    ));
                }
                Some(url)
            }
            None => None,
        };
        if backend.is_shared() && instance_url.is_none() && bind.is_unspecified() {
            return Err(ConfigError::new(
                "INSTANCE_URL",
                "is required with PostgreSQL when BIND is 0.0.0.0 or :: (the other instances \
                 must know how to reach this one)",
            ));
        }
        let drain_secs = parse_number("SHUTDOWN_DRAIN_SECS", get("SHUTDOWN_DRAIN_SECS"), 5u64)?;
        if drain_secs > 300 {
            return Err(ConfigError::new(
                "SHUTDOWN_DRAIN_SECS",
                "must be at most 300",
            ));
        }
        let shutdown_drain = std::time::Duration::from_secs(drain_secs);
        let session_key = match get("SESSION_KEY") {
            Some(key) if key.len() < 64 => {
                return Err(ConfigError::new(
                    "SESSION_KEY",
                    "must be at least 64 characters (try `openssl rand -hex 64`)",
                ));
            }
            other => other.map(SecretString::from),
        };
        let trust_proxy = parse_bool("TRUST_PROXY", get("TRUST_PROXY"))?;
        let ice_servers = parse_ice_servers(get("ICE_SERVERS"))?;
        let mesh_max_participants = parse_number(
            "MESH_MAX_PARTICIPANTS",
            get("MESH_MAX_PARTICIPANTS"),
            8usize,
        )?;
        if !(2..=32).contains(&mesh_max_participants) {
            return Err(ConfigError::new(
                "MESH_MAX_PARTICIPANTS",
                "must be between 2 and 32",
            ));
        }
        let builtin_media = match get("BUILTIN_MEDIA")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("sfu") => BuiltinMedia::Sfu,
            Some("mesh") => BuiltinMedia::Mesh,
            Some(other) => {
                return Err(ConfigError::new(
                    "BUILTIN_MEDIA",
                    format!("`{other}` is neither sfu nor mesh"),
                ));
            }
        };
        let sfu = parse_sfu(&get, port)?;

        let recording_max_bytes = parse_number(
            "RECORDING_MAX_BYTES",
            get("RECORDING_MAX_BYTES"),
            2_000_000_000i64,
        )?;
        if recording_max_bytes < 1_000_000 {
            return Err(ConfigError::new(
                "RECORDING_MAX_BYTES",
                "must be at least 1000000",
            ));
        }
        let recording_quota_bytes = parse_number(
            "RECORDING_QUOTA_BYTES",
            get("RECORDING_QUOTA_BYTES"),
            10_000_000_000i64,
        )?;
        if recording_quota_bytes < recording_max_bytes.min(1_000_000_000) {
            return Err(ConfigError::new(
                "RECORDING_QUOTA_BYTES",
                "must be at least RECORDING_MAX_BYTES (or 1000000000)",
            ));
        }
        let recording_link_days =
            parse_number("RECORDING_LINK_DAYS", get("RECORDING_LINK_DAYS"), 7i64)?;
        if !(1..=365).contains(&recording_link_days) {
            return Err(ConfigError::new(
                "RECORDING_LINK_DAYS",
                "must be between 1 and 365",
            ));
        }

        let idle_minutes = parse_number(
            "MEETING_IDLE_END_MINUTES",
            get("MEETING_IDLE_END_MINUTES"),
            30u64,
        )?;
        if !(1..=7 * 24 * 60).contains(&idle_minutes) {
            return Err(ConfigError::new(
                "MEETING_IDLE_END_MINUTES",
                "must be between 1 and 10080 (a week)",
            ));
        }
        let meeting_idle_end = std::time::Duration::from_secs(idle_minutes * 60);
        let meetings_per_hour = parse_number(
            "MEETING_CREATE_RATE_LIMIT",
            get("MEETING_CREATE_RATE_LIMIT"),
            30u32,
        )?;
        if meetings_per_hour == 0 {
            return Err(ConfigError::new(
                "MEETING_CREATE_RATE_LIMIT",
                "must be at least 1",
            ));
        }

        let stream = match (
            either("STREAM_API_KEY", "NEXT_PUBLIC_STREAM_API_KEY"),
            get("STREAM_SECRET_KEY"),
        ) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "STREAM_SECRET_KEY",
                    "is required when STREAM_API_KEY is set",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "STREAM_API_KEY",
                    "is required when STREAM_SECRET_KEY is set",
                ));
            }
            (Some((_, api_key)), Some(secret)) => Some(StreamSettings {
                api_key,
                secret: SecretString::from(secret),
                base_url: parse_url(
                    "STREAM_BASE_URL",
                    &get("STREAM_BASE_URL")
                        .unwrap_or_else(|| "https://video.stream-io-api.com".into()),
                )?,
                token_requests_per_minute: match parse_number(
                    "STREAM_TOKEN_RATE_LIMIT",
                    get("STREAM_TOKEN_RATE_LIMIT"),
                    60u32,
                )? {
                    0 => {
                        return Err(ConfigError::new(
                            "STREAM_TOKEN_RATE_LIMIT",
                            "must be at least 1",
                        ));
                    }
                    n => n,
                },
                restrict_calls: match get("STREAM_RESTRICT_CALLS") {
                    Some(v) => parse_bool("STREAM_RESTRICT_CALLS", Some(v))?,
                    None => true,
                },
            }),
        };

        let clerk = match (
            either("CLERK_PUBLISHABLE_KEY", "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY"),
            get("CLERK_SECRET_KEY"),
        ) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "CLERK_SECRET_KEY",
                    "is required when CLERK_PUBLISHABLE_KEY is set",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "CLERK_PUBLISHABLE_KEY",
                    "is required when CLERK_SECRET_KEY is set",
                ));
            }
            (Some((var, publishable_key)), Some(secret)) => {
                // The key encodes the frontend API host; a key that does not stops start-up.
                crate::auth::clerk::keys::PublishableKey::parse(&publishable_key)
                    .map_err(|e| ConfigError::new(var, e.to_string()))?;
                let authorized_parties = match get("CLERK_AUTHORIZED_PARTIES") {
                    Some(raw) => raw
                        .split(',')
                        .map(|p| parse_origin("CLERK_AUTHORIZED_PARTIES", p.trim()))
                        .map(|r| r.map(|u| origin_of(&u)))
                        .collect::<Result<_, _>>()?,
                    None => vec![origin_of(&base_url)],
                };
                Some(ClerkSettings {
                    publishable_key,
                    secret_key: SecretString::from(secret),
                    jwt_key: get("CLERK_JWT_KEY"),
                    api_url: parse_url(
                        "CLERK_API_URL",
                        &get("CLERK_API_URL").unwrap_or_else(|| "https://api.clerk.com".into()),
                    )?,
                    authorized_parties,
                })
            }
        };

        Ok(Self {
            base_url,
            bind,
            port,
            data_dir,
            recordings_dir,
            database_url,
            database_pool,
            instance_url,
            shutdown_drain,
            session_key,
            trust_proxy,
            ice_servers,
            mesh_max_participants,
            builtin_media,
            sfu,
            recording_max_bytes,
            recording_quota_bytes,
            recording_link_days,
            meeting_idle_end,
            meetings_per_hour,
            stream,
            clerk,
        })
    }

    /// Name of the active identity mode, for the start-up log line.
    pub fn identity_mode(&self) -> &'static str {
        if self.clerk.is_some() {
            "clerk"
        } else {
            "built-in accounts"
        }
    }

    /// Name of the active media mode, for the start-up log line.
    pub fn media_mode(&self) -> &'static str {
        match (&self.stream, self.builtin_media) {
            (Some(_), _) => "stream",
            (None, BuiltinMedia::Sfu) => "built-in SFU",
            (None, BuiltinMedia::Mesh) => "built-in mesh",
        }
    }

    /// True when cookies must carry `Secure`.
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    /// `scheme://host[:port]` of `BASE_URL`, as browsers send it in `Origin`.
    pub fn origin(&self) -> String {
        origin_of(&self.base_url)
    }
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn parse_url(var: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw)
        .map_err(|e| ConfigError::new(var, format!("`{raw}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(
            var,
            format!("`{raw}` must be an http(s) URL"),
        ));
    }
    Ok(url)
}

fn parse_origin(var: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = parse_url(var, raw)?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            var,
            format!("`{raw}` must be an origin like https://meet.example.com, without a path"),
        ));
    }
    Ok(url)
}

fn parse_number<T: std::str::FromStr>(
    var: &'static str,
    raw: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|_| ConfigError::new(var, format!("`{raw}` is not a valid number"))),
    }
}

/// Most people one SFU room may hold (`ROOM_MAX_PARTICIPANTS`): the engine forwards every
/// packet of a room on one core.
pub const ROOM_MAX_PARTICIPANTS_LIMIT: usize = 200;

/// `MEDIA_UDP_PORT`, `MEDIA_TCP_PORT`, `MEDIA_PUBLIC_IP` and `ROOM_MAX_PARTICIPANTS`.
fn parse_sfu(
    get: &impl Fn(&str) -> Option<String>,
    http_port: u16,
) -> Result<SfuSettings, ConfigError> {
    let port = |var: &'static str, default: u16| -> Result<Option<u16>, ConfigError> {
        match get(var) {
            Some(v) if v.eq_ignore_ascii_case("off") => Ok(None),
            other => parse_number(var, other, default).map(Some),
        }
    };
    let udp_port = port("MEDIA_UDP_PORT", http_port)?;
    // The next port after HTTP's by default: TCP cannot share HTTP's port number.
    let tcp_default = if http_port == 0 {
        0
    } else {
        http_port.saturating_add(1)
    };
    let tcp_port = port("MEDIA_TCP_PORT", tcp_default)?;
    if udp_port.is_none() && tcp_port.is_none() {
        return Err(ConfigError::new(
            "MEDIA_TCP_PORT",
            "cannot be off while MEDIA_UDP_PORT is off too: browsers would have no way to send media",
        ));
    }
    if tcp_port == Some(http_port) && http_port != 0 {
        return Err(ConfigError::new(
            "MEDIA_TCP_PORT",
            format!("{http_port} is PORT, where the web server listens; pick another port"),
        ));
    }
    let public_ip = match get("MEDIA_PUBLIC_IP") {
        None => None,
        Some(raw) => {
            let ip: IpAddr = raw.parse().map_err(|_| {
                ConfigError::new("MEDIA_PUBLIC_IP", format!("`{raw}` is not an IP address"))
            })?;
            if ip.is_unspecified() || ip.is_multicast() {
                return Err(ConfigError::new(
                    "MEDIA_PUBLIC_IP",
                    format!("`{raw}` cannot be reached by browsers; give the server's own address"),
                ));
            }
            Some(ip)
        }
    };
    let max_participants = parse_number(
        "ROOM_MAX_PARTICIPANTS",
        get("ROOM_MAX_PARTICIPANTS"),
        50usize,
    )?;
    if !(2..=ROOM_MAX_PARTICIPANTS_LIMIT).contains(&max_participants) {
        return Err(ConfigError::new(
            "ROOM_MAX_PARTICIPANTS",
            format!("must be between 2 and {ROOM_MAX_PARTICIPANTS_LIMIT}"),
        ));
    }
    Ok(SfuSettings {
        udp_port,
        tcp_port,
        public_ip,
        max_participants,
    })
}

fn parse_bool(var: &'static str, raw: Option<String>) -> Result<bool, ConfigError> {
    match raw.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(other) => Err(ConfigError::new(
            var,
            format!("`{other}` is not true or false"),
        )),
    }
}

fn parse_ice_servers(raw: Option<String>) -> Result<serde_json::Value, ConfigError> {
    const VAR: &str = "ICE_SERVERS";
    let Some(raw) = raw else {
        return Ok(serde_json::Value::Array(Vec::new()));
    };
    let value: serde_json::Value = serde_json::from_str(&raw)
        .map_err(|e| ConfigError::new(VAR, format!("is not valid JSON ({e})")))?;
    let servers = value
        .as_array()
        .ok_or_else(|| ConfigError::new(VAR, "must be a JSON list"))?;
    for server in servers {
        let urls_ok = match server.get("urls") {
            Some(serde_json::Value::String(s)) => !s.is_empty(),
            Some(serde_json::Value::Array(list)) => {
                !list.is_empty()
                    && list
                        .iter()
                        .all(|u| u.as_str().is_some_and(|s| !s.is_empty()))
            }
            _ => false,
        };
        if !urls_ok {
            return Err(ConfigError::new(
                VAR,
                "every entry needs \"urls\": a string or a list of strings",
            ));
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_set_gives_the_embedded_default() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.identity_mode(), "built-in accounts");
        assert_eq!(s.media_mode(), "built-in SFU");
        assert_eq!(s.origin(), "http://localhost:8080");
        assert_eq!(s.database_url, "sqlite://./data/yoom.db");
        assert_eq!(s.recordings_dir, PathBuf::from("./data/recordings"));
        assert_eq!(s.mesh_max_participants, 8);
        assert_eq!(s.database_pool.max_connections, 8);
        assert_eq!(
            s.sfu,
            SfuSettings {
                udp_port: Some(8080),
                tcp_port: Some(8081),
                public_ip: None,
                max_participants: 50
            }
        );
    }

    #[test]
    fn a_postgres_url_selects_postgresql_with_its_own_pool_size() {
        let s = settings(&[("DATABASE_URL", "postgres://yoom:pw@db.internal/yoom")]).unwrap();
        assert_eq!(s.database_url, "postgres://yoom:pw@db.internal/yoom");
        assert_eq!(s.database_pool.max_connections, 10);
        let s = settings(&[
            ("DATABASE_URL", "postgresql://db/yoom"),
            ("DATABASE_MAX_CONNECTIONS", "40"),
            ("DATABASE_ACQUIRE_TIMEOUT_SECS", "9"),
        ])
        .unwrap();
        assert_eq!(s.database_pool.max_connections, 40);
        assert_eq!(s.database_pool.acquire_timeout.as_secs(), 9);
        // Listening on every address, the others cannot guess how to reach this instance.
        let err =
            settings(&[("DATABASE_URL", "postgres://db/yoom"), ("BIND", "0.0.0.0")]).unwrap_err();
        assert_eq!(err.variable, "INSTANCE_URL");
        let s = settings(&[
            ("DATABASE_URL", "postgres://db/yoom"),
            ("BIND", "0.0.0.0"),
            ("INSTANCE_URL", "http://10.0.0.5:8080"),
        ])
        .unwrap();
        assert_eq!(s.instance_url.unwrap().as_str(), "http://10.0.0.5:8080/");
        // Recordings in a directory every instance mounts.
        let s = settings(&[("RECORDINGS_DIR", "/srv/yoom-recordings")]).unwrap();
        assert_eq!(s.recordings_dir, PathBuf::from("/srv/yoom-recordings"));
    }

    #[test]
    fn media_ports_follow_port_and_can_be_turned_off_one_at_a_time() {
        let s = settings(&[("PORT", "9000"), ("BUILTIN_MEDIA", "MESH")]).unwrap();
        assert_eq!(s.media_mode(), "built-in mesh");
        assert_eq!((s.sfu.udp_port, s.sfu.tcp_port), (Some(9000), Some(9001)));
        let s = settings(&[("PORT", "0")]).unwrap();
        assert_eq!((s.sfu.udp_port, s.sfu.tcp_port), (Some(0), Some(0)));
        let s = settings(&[
            ("MEDIA_UDP_PORT", "off"),
            ("MEDIA_PUBLIC_IP", "203.0.113.7"),
        ])
        .unwrap();
        assert_eq!((s.sfu.udp_port, s.sfu.tcp_port), (None, Some(8081)));
        assert_eq!(s.sfu.public_ip, Some("203.0.113.7".parse().unwrap()));
        let err = settings(&[("MEDIA_UDP_PORT", "off"), ("MEDIA_TCP_PORT", "OFF")]).unwrap_err();
        assert_eq!(err.variable, "MEDIA_TCP_PORT");
    }

    #[test]
    fn a_stream_key_without_its_secret_names_the_missing_variable() {
        let err = settings(&[("STREAM_API_KEY", "abc")]).unwrap_err();
        assert_eq!(err.variable, "STREAM_SECRET_KEY");
        let err = settings(&[("NEXT_PUBLIC_STREAM_API_KEY", "abc")]).unwrap_err();
        assert_eq!(err.variable, "STREAM_SECRET_KEY");
        let err = settings(&[("STREAM_SECRET_KEY", "abc")]).unwrap_err();
        assert_eq!(err.variable, "STREAM_API_KEY");
    }

    #[test]
    fn next_public_aliases_are_accepted() {
        let s = settings(&[
            ("NEXT_PUBLIC_STREAM_API_KEY", "key"),
            ("STREAM_SECRET_KEY", "secret"),
            ("NEXT_PUBLIC_BASE_URL", "https://meet.example.com"),
            (
                "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY",
                "pk_test_Y2xlcmsuY2xlcmsuZGV2JA",
            ),
            ("CLERK_SECRET_KEY", "sk_test_x"),
        ])
        .unwrap();
        assert_eq!(s.media_mode(), "stream");
        assert_eq!(s.identity_mode(), "clerk");
        assert!(s.is_https());
        assert_eq!(
            s.clerk.unwrap().authorized_parties,
            vec!["https://meet.example.com".to_string()]
        );
    }

    #[test]
    fn a_clerk_secret_without_its_key_names_the_missing_variable() {
        let err = settings(&[("CLERK_SECRET_KEY", "sk")]).unwrap_err();
        assert_eq!(err.variable, "CLERK_PUBLISHABLE_KEY");
        let err = settings(&[("CLERK_PUBLISHABLE_KEY", "pk_test_x")]).unwrap_err();
        assert_eq!(err.variable, "CLERK_SECRET_KEY");
        let err = settings(&[
            ("CLERK_PUBLISHABLE_KEY", "nope"),
            ("CLERK_SECRET_KEY", "sk"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "CLERK_PUBLISHABLE_KEY");
    }

    #[test]
    fn a_publishable_key_that_does_not_encode_a_host_stops_start_up_with_a_message() {
        let err = settings(&[
            ("CLERK_PUBLISHABLE_KEY", "pk_test_aW52YWxpZGtleSQ="),
            ("CLERK_SECRET_KEY", "sk_test_x"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "CLERK_PUBLISHABLE_KEY");
        assert!(err.to_string().contains("frontend API host"), "{err}");
        let err = settings(&[
            ("NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY", "pk_live_%%%"),
            ("CLERK_SECRET_KEY", "sk_live_x"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY");
    }

    #[test]
    fn malformed_values_name_their_variable() {
        for (var, value) in [
            ("PORT", "eighty"),
            ("PORT", "70000"),
            ("BIND", "localhost:80"),
            ("BASE_URL", "not a url"),
            ("BASE_URL", "ftp://example.com"),
            ("BASE_URL", "https://example.com/app"),
            ("SESSION_KEY", "short"),
            ("TRUST_PROXY", "maybe"),
            ("ICE_SERVERS", "{"),
            ("ICE_SERVERS", "{\"urls\":\"stun:x\"}"),
            ("ICE_SERVERS", "[{\"username\":\"u\"}]"),
            ("MESH_MAX_PARTICIPANTS", "1"),
            ("DATABASE_URL", "mysql://localhost/yoom"),
            ("DATABASE_MAX_CONNECTIONS", "1"),
            ("INSTANCE_URL", "https://10.0.0.5:8080"),
            ("INSTANCE_URL", "not a url"),
            ("SHUTDOWN_DRAIN_SECS", "1000"),
            ("DATABASE_ACQUIRE_TIMEOUT_SECS", "0"),
            ("RECORDING_MAX_BYTES", "10"),
            ("RECORDING_QUOTA_BYTES", "100"),
            ("RECORDING_LINK_DAYS", "0"),
            ("MEETING_IDLE_END_MINUTES", "0"),
            ("MEETING_CREATE_RATE_LIMIT", "0"),
            ("BUILTIN_MEDIA", "p2p"),
            ("MEDIA_UDP_PORT", "udp"),
            ("MEDIA_TCP_PORT", "8080"),
            ("MEDIA_PUBLIC_IP", "0.0.0.0"),
            ("MEDIA_PUBLIC_IP", "example.com"),
            ("ROOM_MAX_PARTICIPANTS", "1"),
            ("ROOM_MAX_PARTICIPANTS", "1000"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value} gave {err}");
        }
    }

    #[test]
    fn the_token_rate_limit_defaults_to_sixty_and_must_be_a_positive_number() {
        let stream = [("STREAM_API_KEY", "k"), ("STREAM_SECRET_KEY", "s")];
        let s = settings(&stream).unwrap();
        assert_eq!(s.stream.unwrap().token_requests_per_minute, 60);
        for bad in ["0", "many", "-1"] {
            let mut vars = stream.to_vec();
            vars.push(("STREAM_TOKEN_RATE_LIMIT", bad));
            assert_eq!(
                settings(&vars).unwrap_err().variable,
                "STREAM_TOKEN_RATE_LIMIT",
                "{bad}"
            );
        }
    }

    #[test]
    fn ice_servers_accept_strings_and_lists() {
        let s = settings(&[(
            "ICE_SERVERS",
            r#"[{"urls":"stun:stun.example.org:3478"},{"urls":["turn:t.example.org"],"username":"u","credential":"c"}]"#,
        )])
        .unwrap();
        assert_eq!(s.ice_servers.as_array().unwrap().len(), 2);
    }
}

//! Builds the application from settings: database, session key, middleware, routes.

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::auth::local::{self, AuthLimits};
use crate::auth::{self, Identity};
use crate::cluster::Cluster;
use crate::config::{BuiltinMedia, Settings};
use crate::errors::{self, AppError};
use crate::rate_limit::ClientAddress;
use crate::routes::{self, paths};
use crate::security::{self, SecurityPolicy};
use crate::video::Media;
use crate::video::stream::StreamMedia;
use crate::{assets, db};

/// Name of the encrypted session cookie (built-in accounts).
pub const SESSION_COOKIE: &str = "yoom_session";
/// Largest form body accepted: a meeting description is 500 characters, this is plenty.
const FORM_LIMIT: usize = 16 * 1024;

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    stopper: Stopper,
    /// The media server's sockets, closed when the web server stops.
    sfu: Option<Arc<crate::video::sfu::Sfu>>,
}

/// Stops an instance the way a rolling restart needs it: with several instances, it first
/// leaves the others (its health check fails, its rooms are handed over and their people
/// reconnect elsewhere), keeps serving for `SHUTDOWN_DRAIN_SECS` while the proxy notices, then
/// stops taking connections and finishes the requests under way.
#[derive(Clone)]
pub struct Stopper {
    server: actix_web::dev::ServerHandle,
    cluster: Cluster,
    rooms: Arc<crate::video::mesh::Hub>,
    drain: std::time::Duration,
}

impl Stopper {
    pub async fn stop(self) {
        if self.cluster.is_shared() {
            tracing::info!(drain = ?self.drain, "stopping: handing the rooms over, then draining");
            crate::cluster::registry::leave(&self.cluster, self.rooms.as_ref()).await;
            tokio::time::sleep(self.drain).await;
        }
        self.server.stop(true).await;
    }
}

impl Application {
    /// Opens the database, binds the listener (port 0 picks a free one) and builds the server.
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "Failed to create the data directory {}",
                settings.data_dir.display()
            )
        })?;
        let identity = Identity::from_settings(&settings)?;
        let pool = db::connect_with(&settings.database_url, settings.database_pool).await?;
        let backend = db::Backend::of(&pool);
        crate::meetings::personal::rekey_guessable_rooms(&pool)
            .await
            .context("Failed to give personal rooms new IDs")?;
        let key = if backend.is_shared() {
            auth::session_key::load_shared(settings.session_key.as_ref(), &pool).await?
        } else {
            auth::session_key::load(settings.session_key.as_ref(), &settings.data_dir)?
        };
        let listener = TcpListener::bind((settings.bind, settings.port))
            .with_context(|| format!("Failed to listen on {}:{}", settings.bind, settings.port))?;
        let port = listener.local_addr()?.port();
        let cluster = if backend.is_shared() {
            let url = match &settings.instance_url {
                Some(url) => url.clone(),
                None => url::Url::parse(&format!(
                    "http://{}",
                    std::net::SocketAddr::from((settings.bind, port))
                ))
                .context("Failed to make this instance's URL from BIND and PORT")?,
            };
            Cluster::shared(pool.clone(), uuid::Uuid::new_v4().simple().to_string(), url)
        } else {
            Cluster::single()
        };
        crate::cluster::registry::join(&cluster)
            .await
            .context("Failed to register this instance")?;
        if settings.port == 0 && is_loopback(&settings.base_url) {
            // A free port was asked for (tests, local runs): links must name the one we got.
            let _ = settings.base_url.set_port(Some(port));
        }
        tracing::info!(
            identity = settings.identity_mode(),
            media = settings.media_mode(),
            database = backend.name(),
            instance = cluster.id().unwrap_or("single"),
            address = %format!("{}:{port}", settings.bind),
            base_url = %settings.base_url,
            "Yoom is running: identity {}, media {}, database {}",
            settings.identity_mode(),
            settings.media_mode(),
            backend.name(),
        );
        let mut sfu = None;
        let media = match (&settings.stream, settings.builtin_media) {
            (Some(stream), _) => {
                let stream = Arc::new(
                    StreamMedia::new(stream, &pool, cluster.clone())
                        .context("Failed to set up the Stream client")?,
                );
                let (decisions, pending) = tokio::sync::mpsc::unbounded_channel();
                crate::video::stream::moderation::spawn(stream.clone(), pending);
                if settings.stream.as_ref().is_some_and(|s| s.restrict_calls) {
                    crate::video::stream::call_type::spawn(stream.clone());
                }
                Media::Stream {
                    rooms: crate::video::mesh::Hub::for_provider(
                        pool.clone(),
                        crate::video::stream::ROOM_MAX_PARTICIPANTS,
                        decisions,
                        cluster.clone(),
                    ),
                    stream,
                }
            }
            (None, BuiltinMedia::Sfu) => {
                let server = crate::video::sfu::Sfu::start(&settings.sfu, settings.bind)?;
                sfu = Some(server.clone());
                Media::Sfu(crate::video::mesh::Hub::with_sfu(
                    pool.clone(),
                    server,
                    settings.ice_servers.clone(),
                    cluster.clone(),
                ))
            }
            (None, BuiltinMedia::Mesh) => Media::Mesh(crate::video::mesh::Hub::new(
                pool.clone(),
                settings.ice_servers.clone(),
                settings.mesh_max_participants,
                cluster.clone(),
            )),
        };
        crate::cluster::registry::spawn_heartbeat(&cluster, media.rooms().clone());
        if let Some(id) = cluster.id() {
            let events_media = media.clone();
            crate::cluster::events::listen(
                settings.database_url.clone(),
                id.to_owned(),
                move |event| {
                    let media = events_media.clone();
                    async move { media.apply(event).await }
                },
            );
        }
        let rooms = media.rooms().clone();
        let drain = settings.shutdown_drain;
        let server = run(
            listener,
            pool,
            key,
            identity,
            media,
            cluster.clone(),
            settings,
        )?;
        let stopper = Stopper {
            server: server.handle(),
            cluster,
            rooms,
            drain,
        };
        Ok(Self {
            port,
            server,
            stopper,
            sfu,
        })
    }

    /// What stops this instance gracefully (see [`Stopper`]).
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Serves until SIGTERM or SIGINT, then stops gracefully (see [`Stopper`]).
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let stopper = self.stopper.clone();
        actix_web::rt::spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot listen for SIGTERM");
                        return;
                    }
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            stopper.stop().await;
        });
        self.run_until_stopped().await
    }

    /// A handle that stops the server (tests restart it to prove clients reconnect).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped; then this instance leaves the others (see
    /// [`Stopper`]), so they take its rooms at once.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        let Stopper { cluster, rooms, .. } = self.stopper;
        crate::cluster::registry::leave(&cluster, rooms.as_ref()).await;
        if let Some(sfu) = &self.sfu {
            sfu.stop();
        }
        result
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn run(
    listener: TcpListener,
    pool: db::Pool,
    key: Key,
    identity: Identity,
    media: Media,
    cluster: Cluster,
    settings: Settings,
) -> anyhow::Result<Server> {
    let pool = web::Data::new(pool);
    let cluster = web::Data::new(cluster);
    // Each provider widens the CSP for its own hosts, and only when its mode is on.
    let mut sources = identity.csp_sources();
    sources.connect.extend(media.csp_connect_sources());
    sources.media.extend(media.csp_media_sources());
    let policy = web::Data::new(SecurityPolicy::widened(settings.origin(), &sources));
    let identity = web::Data::new(identity);
    let limits = web::Data::new(AuthLimits::new(&pool));
    let abuse_limits = web::Data::new(crate::limits::Limits::new(
        settings.meetings_per_hour,
        ClientAddress {
            trust_proxy: settings.trust_proxy,
        },
        &pool,
    ));
    let address = web::Data::new(ClientAddress {
        trust_proxy: settings.trust_proxy,
    });
    let secure = settings.is_https();
    let media = web::Data::new(media);
    let uploads = web::Data::new(crate::recordings::upload::Uploads::new(
        pool.get_ref().clone(),
        crate::recordings::files::RecordingFiles::new(&settings.recordings_dir)?,
        crate::recordings::upload::Quota {
            max_bytes: settings.recording_max_bytes,
            account_bytes: settings.recording_quota_bytes,
            open_per_account: crate::recordings::MAX_OPEN_PER_ACCOUNT,
        },
    ));
    let signer = web::Data::new(
        crate::recordings::share::ShareSigner::new(
            key.master(),
            settings.recording_link_days * 86_400,
        )
        .with_origin(settings.origin()),
    );
    crate::jobs::spawn_recording_sweeper(uploads.clone(), media.clone());
    crate::jobs::spawn_idle_meeting_sweeper(pool.clone(), media.clone(), settings.meeting_idle_end);
    crate::jobs::spawn_rate_limit_sweeper(pool.get_ref().clone());
    let settings = web::Data::new(settings);

    let server = HttpServer::new(move || {
        let session = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_name(SESSION_COOKIE.into())
            .cookie_secure(secure)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(
                PersistentSession::default()
                    .session_ttl(CookieDuration::seconds(local::SESSION_TTL.as_secs() as i64)),
            )
            .build();
        let public_auth = identity.clone();
        App::new()
            .app_data(pool.clone())
            .app_data(identity.clone())
            .app_data(policy.clone())
            .app_data(limits.clone())
            .app_data(abuse_limits.clone())
            .app_data(address.clone())
            .app_data(media.clone())
            .app_data(uploads.clone())
            .app_data(signer.clone())
            .app_data(settings.clone())
            .app_data(cluster.clone())
            .app_data(
                web::FormConfig::default()
                    .limit(FORM_LIMIT)
                    .error_handler(|e, _| {
                        AppError::BadRequest(format!("The form could not be read: {e}")).into()
                    }),
            )
            .app_data(web::QueryConfig::default().error_handler(|_, _| {
                AppError::BadRequest(
                    "The address has parameters this page does not understand.".into(),
                )
                .into()
            }))
            // Innermost first: origin check, then error rendering, session, headers, compression, logs.
            .wrap(from_fn(security::same_origin_check))
            .wrap(from_fn(errors::render_errors))
            .wrap(session)
            .wrap(from_fn(security::security_headers))
            .wrap(Compress::default())
            .wrap(TracingLogger::default())
            .route(paths::HEALTH, web::get().to(routes::health::healthz))
            .route("/static/{path:.*}", web::get().to(assets::serve))
            .configure(|cfg| routes::configure_public(&public_auth, cfg))
            // Server to server: authenticated by its signature, not by a session.
            .route(
                paths::STREAM_WEBHOOK,
                web::post().to(routes::webhooks::stream),
            )
            // Share links play without an account.
            .route("/r/{id}", web::get().to(routes::recordings::shared_page))
            .route(
                "/r/{id}/file",
                web::get().to(routes::recordings::shared_file),
            )
            .service(
                web::scope("")
                    .wrap(from_fn(auth::require_user))
                    .configure(routes::configure_private),
            )
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(AppError::page_not_found())
            }))
    })
    // Without this a compressed response written in pieces waits on a delayed ACK (Nagle).
    .tcp_nodelay(true)
    // Signals stop the server through `Stopper` (see `run_until_signalled`).
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

/// Allocations above this size get their own pages, returned to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: libc::c_int = 1 << 20;

/// Keeps big short-lived allocations from staying in the process after they are freed.
///
/// glibc raises its mmap threshold each time a large block is freed, after which blocks of
/// that size come from per-thread heaps that it keeps. Every password hash takes a 19 MiB
/// block on whichever blocking thread runs it, so a burst of sign-ins left hundreds of MB
/// resident. A fixed threshold turns that adjustment off: such blocks are mapped and
/// unmapped each time (a few µs against a 20 ms hash).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}

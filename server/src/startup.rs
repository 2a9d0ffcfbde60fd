//! Builds the running shop from settings: database (migrated, seeded), Stripe client, routes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use app::catalog::cache::{self, CatalogCache};
use app::limits::Limits;
use app::state::{AppState, PublicSettings, SESSION_DAYS, session_cookie};
use axum::Router;
use axum::http::{Extensions, HeaderMap, StatusCode, Version};
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use leptos::config::LeptosOptions;
use leptos::prelude::AnyView;
use leptos_axum::{AxumRouteListing, LeptosRoutes};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration as SessionDuration;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

use crate::settings::Settings;

/// The pages the server renders, handed in by whoever builds it (the `server` binary in
/// `server/bin`, and the tests) from the `pages` crate. This library does not depend on the
/// pages, so a page edit recompiles the pages and relinks the binary, not this crate.
#[derive(Clone, Copy)]
pub struct Pages {
    /// The whole app, from which every page route is listed (`pages::app`).
    pub app: fn() -> AnyView,
    /// The HTML document around a page, given the options and Stripe.js's URL (`pages::shell`).
    pub shell: fn(LeptosOptions, String) -> AnyView,
}

/// Where the server takes its connections from.
pub enum Listen {
    /// Bind this address (port 0 takes a free one).
    Bind(SocketAddr),
    /// A socket already listening, handed down by the process that started this one
    /// (systemd's socket activation; `scripts/dev.sh --watch` keeps the port open this way
    /// while cargo-leptos restarts the server).
    Inherited(std::net::TcpListener),
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    pub state: AppState,
    /// This server's background workers, when it runs them (`BACKGROUND_JOBS`).
    workers: Option<crate::jobs::Workers>,
}

impl Application {
    /// Connects, migrates, seeds, starts the background work and binds its address, or takes
    /// the socket it was given.
    pub async fn build(
        settings: Settings,
        leptos_options: LeptosOptions,
        listen: Listen,
        pages: Pages,
    ) -> anyhow::Result<Self> {
        let mut leptos_options = leptos_options;
        if let Some(name) = crate::assets::hashed_name(&leptos_options) {
            tracing::info!(assets = %name, "serving content-hashed assets");
            leptos_options.output_name = name.into();
        }
        let local = match &listen {
            Listen::Bind(addr) => *addr,
            Listen::Inherited(socket) => socket.local_addr()?,
        };
        let mut state = connect(&settings, leptos_options, !local.ip().is_loopback()).await?;
        // Bound once the shop can serve: until then a load balancer's check, or a proxy that
        // tries another server, is refused rather than left waiting on a start that may fail.
        let listener = match listen {
            Listen::Bind(addr) => TcpListener::bind(addr)
                .await
                .with_context(|| format!("Failed to bind {addr}"))?,
            Listen::Inherited(socket) => {
                socket.set_nonblocking(true)?;
                TcpListener::from_std(socket).context("Failed to use the socket handed down")?
            }
        };
        let addr = listener.local_addr()?;
        // Absolute links (mail, the sitemap, link previews) use PUBLIC_URL, or else the
        // address bound, with its port.
        if state.shop.public_url.is_none() {
            state.make_mut().shop.public_url = Some(format!("http://{addr}"));
        }
        app::inbox::Settler::start(&state);
        tokio::spawn(cache::follow_changes(
            state.catalog.clone(),
            state.pool.clone(),
        ));
        // In the background: start-up does not wait for the hash (a quarter of a second in a
        // debug build, paid at every restart under `cargo leptos watch`); a sign-in that comes
        // before it is made waits for it.
        tokio::spawn(app::accounts::warm_up());
        let limits = state.limits.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                limits.forget_idle();
            }
        });
        let mut workers = None;
        if settings.background_jobs {
            let public_url = state.shop.base_url().to_string();
            let mailer = settings
                .smtp_url
                .as_ref()
                .map(|url| crate::mail::Mailer::new(url, &settings.mail_from, &public_url))
                .transpose()?;
            let started = crate::jobs::start(
                crate::jobs::Chores {
                    state: state.clone(),
                    order_ttl: settings.order_ttl,
                    retention: settings.retention,
                },
                settings.database_url(),
                mailer,
            )
            .await
            .context("Failed to start the background jobs")?;
            workers = Some(started);
        } else {
            tracing::warn!(
                "BACKGROUND_JOBS is off: no event replay, order expiry or retention on this server"
            );
        }
        let sessions = sessions(&state.pool, state.secure_cookies).await?;
        let router = routes(state.clone(), sessions, pages);
        Ok(Self {
            listener,
            router,
            state,
            workers,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a listening socket has an address")
    }

    pub fn port(&self) -> u16 {
        self.address().port()
    }

    /// Serves until the task is dropped (the tests' shops).
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Serves until `stop` completes, then takes no new connections and finishes the requests
    /// under way (a webhook mid-settlement, a download) and the background runs under way (mail
    /// being sent), for at most `DRAIN`. Idle keep-alive connections are closed at once.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        use axum::serve::ListenerExt;
        // Responses go out as soon as they are written: with Nagle's algorithm on, a body sent
        // after its headers (a file from /pkg) waited for the client's delayed ACK, 40 ms on
        // Linux, and a keep-alive connection served 25 files a second.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY on a connection");
            }
        });
        let stopping = tokio_util::sync::CancellationToken::new();
        let told = stopping.clone();
        // The peer's address reaches server functions, for the rate limits.
        let serving = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stop.await;
            tracing::info!("stopping: no new connections; finishing the requests under way");
            told.cancel();
        });
        let workers = self.workers;
        let finished = async {
            let (served, ()) = tokio::join!(
                async {
                    let served = serving.await;
                    // Should serving fail, the workers stop too.
                    stopping.cancel();
                    served
                },
                async {
                    stopping.cancelled().await;
                    if let Some(workers) = workers {
                        workers.stop().await;
                    }
                }
            );
            served
        };
        tokio::select! {
            served = finished => served.context("server stopped"),
            () = async {
                stopping.cancelled().await;
                tokio::time::sleep(DRAIN).await;
            } => {
                tracing::warn!(after = ?DRAIN, "stopped with requests or background runs still under way");
                Ok(())
            }
        }
    }
}

/// How long a stopping server waits for the requests under way: less than the 30 s a
/// container platform commonly allows between its SIGTERM and its SIGKILL.
pub const DRAIN: Duration = Duration::from_secs(25);

/// Listens, from the moment it is called, for being told to stop: SIGTERM (a service manager,
/// a deploy) or SIGINT (Ctrl-C; cargo-leptos restarting it under `dev.sh --watch`). The future
/// completes once told; a stop told while the server is still starting takes effect as soon as
/// it serves, instead of the signal's default (ending the process at once, background work
/// under way and all). Told a second time, the process ends at once.
pub fn stop_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::SignalKind;
    let mut terminate = listen(SignalKind::terminate(), "SIGTERM");
    let mut interrupt = listen(SignalKind::interrupt(), "SIGINT");
    let told = tokio_util::sync::CancellationToken::new();
    let stop = told.clone().cancelled_owned();
    tokio::spawn(async move {
        either(&mut terminate, &mut interrupt).await;
        told.cancel();
        either(&mut terminate, &mut interrupt).await;
        tracing::warn!("told to stop again: stopping now");
        std::process::exit(130);
    });
    stop
}

fn listen(
    kind: tokio::signal::unix::SignalKind,
    name: &str,
) -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind)
        .inspect_err(|error| tracing::warn!(%error, "cannot listen for {name}"))
        .ok()
}

/// Completes when either signal comes (one that could not be listened for never does).
async fn either(
    a: &mut Option<tokio::signal::unix::Signal>,
    b: &mut Option<tokio::signal::unix::Signal>,
) {
    async fn one(signal: &mut Option<tokio::signal::unix::Signal>) {
        match signal {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    tokio::select! {
        () = one(a) => {}
        () = one(b) => {}
    }
}

/// The app's routes, listed once per process. To list them, leptos renders the app with
/// resource loading switched off by a process-wide flag (`SuppressResourceLoad`), so listing
/// them again while a server in this process renders a page would leave that page waiting
/// forever for data that never loads. Every server in a process is built after the first
/// listing has finished, so no page is ever rendered while the flag is on.
fn route_list(app: fn() -> AnyView) -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES
        .get_or_init(|| leptos_axum::generate_route_list(app))
        .clone()
}

/// The shop's migrations, built into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects to Postgres and brings its schema up to this build's migrations (`server
/// migrate`); returns how many this build knows.
pub async fn migrate(settings: &Settings) -> anyhow::Result<usize> {
    migrated_pool(settings, PgPoolOptions::new().max_connections(1)).await?;
    Ok(MIGRATOR.iter().count())
}

/// A pool on `DATABASE_URL` with `options`, its database brought up to this build's
/// migrations.
async fn migrated_pool(settings: &Settings, options: PgPoolOptions) -> anyhow::Result<PgPool> {
    let pool = options
        .connect(settings.database_url())
        .await
        .context("Failed to connect to Postgres (DATABASE_URL)")?;
    MIGRATOR
        .run(&pool)
        .await
        .context("Failed to run database migrations")?;
    Ok(pool)
}

/// `GET /readyz`, for a load balancer: 200 while the database answers (within two seconds)
/// and holds every migration this build knows; 503 otherwise, so shoppers are sent to a
/// server that can serve them. (`/healthz` says only that the process is up.)
async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (StatusCode, &'static str) {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query_scalar::<_, Option<i64>>(
            "select max(version) from _sqlx_migrations where success",
        )
        .fetch_one(&state.pool),
    )
    .await;
    match applied {
        Ok(Ok(Some(version))) if version >= latest => (StatusCode::OK, "ready"),
        Ok(Ok(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database migrations pending",
        ),
        Ok(Err(_)) | Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable"),
    }
}

/// The shop's state from its settings: Postgres connected and migrated (the demo catalog
/// seeded if asked), the Stripe client built. What the server and the command-line tasks
/// share; nothing is served or started in the background here. `secure_by_default` is
/// whether cookies are `Secure` when `COOKIE_SECURE` does not say.
pub async fn connect(
    settings: &Settings,
    leptos_options: LeptosOptions,
    secure_by_default: bool,
) -> anyhow::Result<AppState> {
    let options = PgPoolOptions::new()
        .max_connections(settings.pool_size.get())
        .acquire_timeout(Duration::from_secs(5));
    let pool = migrated_pool(settings, options).await?;
    if settings.seed_demo_catalog {
        crate::seed::demo_catalog(&pool)
            .await
            .context("Failed to seed the demo catalog")?;
    }
    // No Stripe call may hang on: a refund request's claim lasts two minutes (`refunds`), and
    // a page answers within its deadline anyway.
    let mut stripe = stripe::ClientBuilder::new(settings.stripe_secret_key.expose_secret())
        .timeout(Duration::from_secs(30));
    if let Some(base) = &settings.stripe_api_base {
        let base = if base.ends_with('/') {
            base.clone()
        } else {
            format!("{base}/")
        };
        stripe = stripe.url(base);
    }
    let stripe = stripe
        .build()
        .context("Failed to build the Stripe client")?;
    if settings.webhook_secrets.is_empty() {
        tracing::warn!(
            "STRIPE_WEBHOOK_SECRET is not set: the webhook route answers 503 and orders settle only from the order page"
        );
    }
    let store = storage(settings)?;
    let signing_key = settings.download_signing_key.clone().unwrap_or_else(|| {
        tracing::warn!("DOWNLOAD_SIGNING_KEY is not set: download links end at a restart");
        let bytes: [u8; 32] = rand::random();
        secrecy::SecretString::from(hex::encode(bytes))
    });
    let files = app::files::Files::new(store, signing_key);
    if settings.seed_demo_catalog {
        crate::seed::demo_files(&pool, &files)
            .await
            .context("Failed to store the demo catalog's files")?;
    }
    Ok(AppState::new(app::state::Shared {
        leptos_options: leptos_options.clone(),
        pool,
        catalog: CatalogCache::default(),
        stripe,
        public: PublicSettings {
            publishable_key: settings.stripe_publishable_key.clone(),
            stripe_js_url: settings.stripe_js_url.clone(),
        },
        webhook_secrets: Arc::new(settings.webhook_secrets.clone()),
        live_mode: settings.live_mode,
        secure_cookies: settings.secure_cookies.unwrap_or(secure_by_default),
        limits: Arc::new(Limits::new(settings.limits)),
        trust_forwarded_for: settings.trust_forwarded_for,
        order_ttl: settings.order_ttl,
        files,
        refund_window: settings.refund_window,
        upload_limit: settings.upload_limit,
        background_jobs: settings.background_jobs,
        shop: app::state::ShopInfo {
            name: settings.shop_name.clone(),
            contact_email: settings.contact_email.clone(),
            content_dir: settings.content_dir.clone(),
            public_url: settings.public_url.clone(),
            stylesheet: format!(
                "/{}/{}.css",
                leptos_options.site_pkg_dir, leptos_options.output_name
            ),
        },
        new_mail: Default::default(),
        settler: Default::default(),
    }))
}

/// Where bought files are kept: the configured S3-compatible bucket, or a local directory.
fn storage(settings: &Settings) -> anyhow::Result<Arc<dyn object_store::ObjectStore>> {
    if let Some(s3) = &settings.s3 {
        // The bucket's client takes its TLS from the process's provider: ring, as every other
        // client here. (Installed already by an earlier start in this process: fine.)
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Without keys of its own, the machine's: the environment's AWS_* variables, a web
        // identity token, a container's or an instance's role.
        let builder = match s3.credentials {
            Some(_) => object_store::aws::AmazonS3Builder::new(),
            None => object_store::aws::AmazonS3Builder::from_env(),
        };
        let mut bucket = builder.with_bucket_name(&s3.bucket).with_region(&s3.region);
        if let Some(endpoint) = &s3.endpoint {
            // A service of its own (MinIO and the like) names buckets in the path.
            bucket = bucket
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some((id, secret)) = &s3.credentials {
            bucket = bucket
                .with_access_key_id(id)
                .with_secret_access_key(secret.expose_secret());
        }
        let store = bucket
            .build()
            .context("Failed to set up the STORAGE_S3_BUCKET storage")?;
        tracing::info!(bucket = %s3.bucket, "files are kept in an S3 bucket");
        return Ok(Arc::new(store));
    }
    std::fs::create_dir_all(&settings.storage_dir).with_context(|| {
        format!(
            "Failed to make STORAGE_DIR {}",
            settings.storage_dir.display()
        )
    })?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(&settings.storage_dir)
        .context("Failed to open STORAGE_DIR")?;
    Ok(Arc::new(store))
}

/// Sessions kept in Postgres (`tower_sessions.session`, created by the migrations), so every
/// server sees the same ones. The cookie holds only a random id: HttpOnly, SameSite=Lax, and
/// Secure unless the shop listens on loopback (development and tests over plain http).
async fn sessions(
    pool: &sqlx::PgPool,
    secure: bool,
) -> anyhow::Result<SessionManagerLayer<PostgresStore>> {
    let store = PostgresStore::new(pool.clone());
    // Deleting expired sessions is idempotent, so every server may do it.
    tokio::spawn(
        store
            .clone()
            .continuously_delete_expired(Duration::from_secs(60 * 60)),
    );
    Ok(SessionManagerLayer::new(store)
        .with_name(session_cookie(secure))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(SessionDuration::days(SESSION_DAYS))))
}

fn routes(state: AppState, sessions: SessionManagerLayer<PostgresStore>, pages: Pages) -> Router {
    let leptos_routes = route_list(pages.app);
    // Where cookies are Secure the shop is served over https: browsers are told to use https
    // only, for two years. (A browser ignores this header on a plain http answer.) Not for
    // subdomains: the seller may have others that are not served over https.
    let hsts = state
        .secure_cookies
        .then(|| HeaderValue::from_static("max-age=63072000"));
    let stripe_js = state.public.stripe_js_url.clone();
    let shell_js = stripe_js.clone();
    let upload_limit = state.upload_limit;
    let options = state.leptos_options.clone();
    Router::new()
        .route("/webhooks/stripe", post(crate::webhook::receive))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/robots.txt", get(crate::seo::robots))
        .route("/sitemap.xml", get(crate::seo::sitemap))
        .route(
            "/library/{order}/download",
            get(crate::downloads::from_library),
        )
        .route("/files/{link}", get(crate::downloads::signed))
        .route(
            "/orders/{order}/download",
            get(crate::downloads::from_order),
        )
        .route(
            "/admin/products/{slug}/file",
            post(crate::uploads::product_file).layer(axum::extract::DefaultBodyLimit::max(
                usize::try_from(upload_limit)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1 << 20),
            )),
        )
        .route(
            "/admin/products/{slug}/preview",
            post(crate::uploads::product_preview).layer(axum::extract::DefaultBodyLimit::max(
                crate::uploads::PREVIEW_LIMIT as usize + (1 << 20),
            )),
        )
        .route("/media/{name}", get(crate::uploads::media))
        .merge(crate::assets::routes(&state.leptos_options))
        .leptos_routes_with_context(
            &state,
            leptos_routes,
            || leptos::prelude::provide_context(app::api::RequestCache::default()),
            move || (pages.shell)(options.clone(), shell_js.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            move |options| (pages.shell)(options, stripe_js.clone()),
        ))
        .layer(axum::middleware::from_fn_with_state(
            crate::page_cache::PageCache::new(state.catalog.clone()),
            crate::page_cache::serve,
        ))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(
            state.shop.clone(),
            crate::deadline::answer_in_time,
        ))
        .layer(
            CompressionLayer::new().compress_when(DefaultPredicate::new().and(
                |_: StatusCode, _: Version, _: &HeaderMap, extensions: &Extensions| {
                    extensions.get::<crate::downloads::SentAsStored>().is_none()
                },
            )),
        )
        // Pages are made for each request (and some for each visitor): a cache asks again.
        // Assets, media and downloads say otherwise themselves.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        // The payment form must never sit inside another site's frame (clickjacking), and
        // nothing is to be sniffed into a type it was not sent as.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            move |_: &axum::response::Response| hsts.clone(),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(axum::middleware::from_fn(
            crate::cross_origin::refuse_cross_origin,
        ))
        .layer(
            // Borrowed, not copied: with the span off (RUST_LOG above info), a request costs
            // nothing here.
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let path = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or_else(|| req.uri().path(), |p| p.as_str());
                let request_id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %req.method(), path, request_id)
            }),
        )
        // Outermost: every request gets an id, logged in its span and echoed to the client.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

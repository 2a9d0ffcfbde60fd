//! The shop for one test: a database of its own, a Stripe stand-in of its own, the real app
//! on a free port.

use std::time::Duration;

use leptos::config::get_configuration;
use rand::Rng;
use reqwest::StatusCode;
use server::settings::Settings;
use server::startup::{Application, Listen, Pages};
use sqlx::PgPool;
use stripe_standin::Running;

pub const WEBHOOK_SECRET: &str = "whsec_shop_tests";
pub const SECRET_KEY: &str = "sk_test_shop_tests";
/// What the test shops sign download links with, so a test can make an expired one.
pub const DOWNLOAD_KEY: &str = "download-links-key-for-the-tests-0123456789";

pub struct TestApp {
    pub base: String,
    pub pool: PgPool,
    pub standin: Running,
    pub stripe: stripe::Client,
    /// A browser: keeps cookies, does not follow redirects.
    pub http: reqwest::Client,
    /// What the shop was built from, to build another on the same database and stand-in.
    pub settings: Settings,
    /// The running shop's state, for calling its background work directly.
    pub state: app::state::AppState,
}

pub async fn spawn() -> TestApp {
    spawn_with(Some(WEBHOOK_SECRET)).await
}

/// Checkout starts a test may make: tests open many orders from one address quickly, which is
/// not what the rate limits are about (`limits.rs` tests those with the shop's defaults).
const TEST_CHECKOUT_LIMIT: &str = "10000";

pub async fn spawn_with(webhook_secret: Option<&str>) -> TestApp {
    spawn_with_env(
        webhook_secret,
        &[("CHECKOUT_STARTS_PER_MINUTE", TEST_CHECKOUT_LIMIT)],
    )
    .await
}

/// A shop with settings `extra` on top of the shop's defaults. Every test shop runs without
/// background jobs (`BACKGROUND_JOBS=false`), so a scheduled run never takes the work a test
/// does by calling a chore itself; the job queue's own test turns them on.
pub async fn spawn_with_env(webhook_secret: Option<&str>, extra: &[(&str, &str)]) -> TestApp {
    spawn_with_site(webhook_secret, extra, None).await
}

/// `spawn_with_env`, serving the site (`/pkg`) from `site` instead of the repository's build.
pub async fn spawn_with_site(
    webhook_secret: Option<&str>,
    extra: &[(&str, &str)],
    site: Option<&std::path::Path>,
) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        server::telemetry::init();
    }
    let admin_url = std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    // A prefix of its own lets a repeated run (scripts/repeat-tests.sh) clean up after itself
    // without touching the databases of tests running beside it.
    let prefix = std::env::var("TEST_DATABASE_PREFIX").unwrap_or_else(|_| "sf_test_".into());
    let db = format!("{prefix}{}", rand::rng().random_range(0..u64::MAX));
    let admin = PgPool::connect(&admin_url)
        .await
        .expect("Postgres is reachable");
    sqlx::query(&format!("create database \"{db}\""))
        .execute(&admin)
        .await
        .unwrap();
    let db_url = format!("{}/{db}", admin_url.rsplit_once('/').unwrap().0);

    let standin = stripe_standin::spawn(Default::default()).await.unwrap();
    let mut vars = vec![
        ("DATABASE_URL", db_url.clone()),
        ("STRIPE_SECRET_KEY", SECRET_KEY.to_string()),
        ("STRIPE_PUBLISHABLE_KEY", "pk_test_shop_tests".to_string()),
        (
            "STRIPE_WEBHOOK_SECRET",
            webhook_secret.unwrap_or_default().to_string(),
        ),
        ("STRIPE_API_BASE", format!("{}/", standin.base_url)),
        ("STRIPE_JS_URL", format!("{}/v3/", standin.base_url)),
        ("BACKGROUND_JOBS", "false".to_string()),
        (
            "STORAGE_DIR",
            std::env::temp_dir()
                .join("sf-test-files")
                .join(&db)
                .display()
                .to_string(),
        ),
        ("DOWNLOAD_SIGNING_KEY", DOWNLOAD_KEY.to_string()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let settings = Settings::from_lookup(|k| {
        vars.iter()
            .rev()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let app = build_app_with_site(settings.clone(), site).await;
    let base = format!("http://127.0.0.1:{}", app.port());
    let pool = app.state.pool.clone();
    let state = app.state.clone();
    tokio::spawn(app.run());
    let stripe = stripe::ClientBuilder::new(SECRET_KEY)
        .url(format!("{}/", standin.base_url))
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp {
        base,
        pool,
        standin,
        stripe,
        http,
        settings,
        state,
    }
}

/// Asks `check` every 20 ms until it answers `Some`, for at most ten seconds; the panic names
/// `what` was awaited.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: impl std::fmt::Display,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited 10 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Builds (migrates, seeds, binds a free port) but does not serve a shop.
pub async fn build_app(settings: Settings) -> Application {
    build_app_with_site(settings, None).await
}

pub async fn build_app_with_site(
    settings: Settings,
    site: Option<&std::path::Path>,
) -> Application {
    let mut conf = get_configuration(Some(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../Leptos.toml"
    )))
    .unwrap();
    if let Some(site) = site {
        conf.leptos_options.site_root = site.display().to_string().into();
    }
    let pages = Pages {
        app: pages::app,
        shell: pages::shell,
    };
    Application::build(
        settings,
        conf.leptos_options,
        Listen::Bind("127.0.0.1:0".parse().unwrap()),
        pages,
    )
    .await
    .unwrap()
}

/// A `Stripe-Signature` header for `payload`, as Stripe (and the stand-in) would send it.
pub fn sign(payload: &str, secret: &str, timestamp: i64) -> String {
    stripe_standin::webhooks::signature_header(payload, &[secret], timestamp)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[derive(Debug, serde::Deserialize)]
pub struct Session {
    pub order_id: String,
    pub client_secret: String,
}

impl TestApp {
    /// Calls the checkout server function as the browser does (form-encoded POST).
    pub async fn start_checkout(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}/api/start_checkout", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn checkout(&self, slug: &str) -> Session {
        let resp = self.start_checkout(&[("slug", slug)]).await;
        assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
        resp.json().await.unwrap()
    }

    pub fn intent_id(session: &Session) -> String {
        session
            .client_secret
            .split("_secret_")
            .next()
            .unwrap()
            .to_string()
    }

    /// Types `email` into this browser's checkout for `session`'s order, as the form does.
    pub async fn set_email(&self, session: &Session, email: &str) {
        let resp = self
            .http
            .post(format!("{}/api/set_checkout_email", self.base))
            .form(&[("order_id", session.order_id.as_str()), ("email", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{:?}", resp.text().await);
    }

    /// Makes the stand-in answer the next PaymentIntent creation with a 500.
    pub async fn fail_next_intent_create(&self) {
        self.standin_post(
            "faults",
            serde_json::json!({ "method": "POST", "path": "/v1/payment_intents", "times": 1 }),
        )
        .await;
    }

    /// Pays an order's intent at the stand-in with a ready-made test card.
    pub async fn pay(&self, session: &Session, card: &str) {
        stripe_core::payment_intent::ConfirmPaymentIntent::new(Self::intent_id(session))
            .payment_method(card)
            .send(&self.stripe)
            .await
            .unwrap();
    }

    /// Every event of `type_` at the stand-in, newest first, as the raw JSON Stripe would
    /// deliver.
    pub async fn event_payloads(&self, type_: &str) -> Vec<String> {
        let list: serde_json::Value = self
            .http
            .get(format!("{}/v1/events", self.standin.base_url))
            .bearer_auth(SECRET_KEY)
            .query(&[("type", type_), ("limit", "100")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| serde_json::to_string(event).unwrap())
            .collect()
    }

    /// An order paid with 4242 and settled by its `payment_intent.succeeded` webhook.
    pub async fn paid_order(&self, slug: &str) -> Session {
        let session = self.checkout(slug).await;
        self.pay(&session, "pm_card_visa").await;
        let payload = self.event_payload("payment_intent.succeeded").await;
        assert_eq!(self.deliver_signed(&payload).await, StatusCode::OK);
        assert_eq!(self.order_status(&session.order_id).await, "paid");
        session
    }

    /// Refunds `amount` (or all that is left) of an order's payment at the stand-in.
    pub async fn refund(&self, session: &Session, amount: Option<i64>) {
        let mut refund =
            stripe_core::refund::CreateRefund::new().payment_intent(Self::intent_id(session));
        if let Some(amount) = amount {
            refund = refund.amount(amount);
        }
        refund.send(&self.stripe).await.unwrap();
    }

    /// Waits until the stand-in has an event of `type_` (it makes some after a delay, as
    /// Stripe does) and returns the newest.
    pub async fn await_event(&self, type_: &str) -> String {
        eventually(format!("a {type_} event at the stand-in"), || async {
            self.event_payloads(type_).await.into_iter().next()
        })
        .await
    }

    /// Waits until the order's status in the database is `wanted`.
    pub async fn await_order_status(&self, order_id: &str, wanted: &str) {
        eventually(format!("order {order_id} {wanted}"), || async {
            (self.order_status(order_id).await == wanted).then_some(())
        })
        .await
    }

    /// Every API call the stand-in has answered, oldest first, as it records them (method,
    /// path, status, idempotency key, …).
    pub async fn stripe_calls(&self) -> Vec<serde_json::Value> {
        self.standin_get("requests").await
    }

    /// What a stand-in control route (`/_standin/<path>`) answers to a GET.
    pub async fn standin_get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.http
            .get(format!("{}/_standin/{path}", self.standin.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Changes the stand-in's behaviour through a control route, e.g. `config` with
    /// `processing_ms`, or `faults`.
    pub async fn standin_post(&self, path: &str, body: serde_json::Value) {
        let resp = self
            .http
            .post(format!("{}/_standin/{path}", self.standin.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{:?}", resp.text().await);
    }

    /// Sends the stand-in's own webhook deliveries to this shop, signed with `secret` only.
    pub async fn connect_webhooks(&self, secret: &str) {
        let endpoints = format!("{}/_standin/webhook_endpoints", self.standin.base_url);
        let cleared = self.http.delete(&endpoints).send().await.unwrap();
        assert!(cleared.status().is_success());
        let url = format!("{}/webhooks/stripe", self.base);
        self.standin_post(
            "webhook_endpoints",
            serde_json::json!({ "url": url, "secret": secret }),
        )
        .await;
    }

    /// The newest event of `type_` at the stand-in, as the raw JSON Stripe would deliver.
    pub async fn event_payload(&self, type_: &str) -> String {
        let newest = self.event_payloads(type_).await.into_iter().next();
        newest.unwrap_or_else(|| panic!("no {type_} event at the stand-in"))
    }

    pub async fn deliver(&self, payload: &str, signature: &str) -> reqwest::StatusCode {
        self.http
            .post(format!("{}/webhooks/stripe", self.base))
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(payload.to_string())
            .send()
            .await
            .unwrap()
            .status()
    }

    pub async fn deliver_signed(&self, payload: &str) -> reqwest::StatusCode {
        self.deliver(payload, &sign(payload, WEBHOOK_SECRET, now()))
            .await
    }

    pub async fn order_status(&self, order_id: &str) -> String {
        sqlx::query_scalar::<_, String>(
            "select status::text from customer_order where public_id = $1",
        )
        .bind(order_id)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

impl TestApp {
    /// A page's status and HTML.
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    /// The HTML of `path` as the browser `who` (with its own cookies) sees it.
    pub async fn page_as(&self, who: &reqwest::Client, path: &str) -> String {
        who.get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Loads `path` until `check` accepts its HTML, for at most five seconds; returns the last
    /// HTML either way so the caller's assertion says what was seen.
    pub async fn page_until(&self, path: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (_, html) = self.page(path).await;
            if check(&html) || std::time::Instant::now() > deadline {
                return html;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The local SMTP catcher the test command runs (`scripts/mail-catcher.sh`): where the tests'
/// mail goes and how to read its inbox.
pub struct MailCatcher {
    pub smtp: String,
    api: String,
}

pub fn mail_catcher() -> MailCatcher {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: scripts/test.sh runs the mail catcher and sets it; by hand, \
                 run `bash scripts/mail-catcher.sh 2525 2580` and export \
                 MAIL_CATCHER_SMTP=smtp://127.0.0.1:2525 MAIL_CATCHER_API=http://127.0.0.1:2580/api"
            )
        })
    };
    MailCatcher {
        smtp: var("MAIL_CATCHER_SMTP"),
        api: var("MAIL_CATCHER_API"),
    }
}

impl MailCatcher {
    /// A mailer that sends to the catcher, with links to `public_url`.
    pub fn mailer(&self, public_url: &str) -> server::mail::Mailer {
        server::mail::Mailer::new(
            &secrecy::SecretString::from(self.smtp.clone()),
            "storefront tests <shop@storefront.test>",
            public_url,
        )
        .unwrap()
    }

    /// Every message the catcher holds for `address` (each test mails addresses of its own).
    pub async fn inbox(&self, address: &str) -> Vec<serde_json::Value> {
        let all: Vec<serde_json::Value> = reqwest::get(format!("{}/email", self.api))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.into_iter()
            .filter(|m| {
                m["to"]
                    .as_array()
                    .is_some_and(|to| to.iter().any(|t| t["address"] == address))
            })
            .collect()
    }
}

/// An address no other test uses.
pub fn unique_address(who: &str) -> String {
    format!("{who}-{:016x}@buyers.test", rand::rng().random::<u64>())
}

pub const PASSWORD: &str = "correct horse battery";

/// A browser of its own: cookies kept, redirects not followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn call(
    app: &TestApp,
    browser: &reqwest::Client,
    function: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    browser
        .post(format!("{}/api/{function}", app.base))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A new admin, made as `server admin create-user` makes one, signed in in the returned
/// browser; and their email.
pub async fn signed_in_admin(app: &TestApp, who: &str) -> (reqwest::Client, String) {
    let email = unique_address(who);
    app::accounts::make_admin(
        &app.pool,
        &app::domain::Email::parse(&email).unwrap(),
        Some(app::accounts::NewPassword::parse(PASSWORD).unwrap()),
    )
    .await
    .unwrap();
    let staff = browser();
    let resp = call(
        app,
        &staff,
        "sign_in",
        &[("email", &email), ("password", PASSWORD)],
    )
    .await;
    assert!(resp.status().is_success(), "{:?}", resp.text().await);
    (staff, email)
}

/// Posts `form` to a server function as a browser without JavaScript does (`Accept:
/// text/html`): on success the function answers with a redirect to the page it names.
pub async fn post_form(
    app: &TestApp,
    browser: &reqwest::Client,
    function: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    browser
        .post(format!("{}/api/{function}", app.base))
        .header(reqwest::header::ACCEPT, "text/html")
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Sends what the outbox holds and returns the token of the newest link mailed to `to`.
pub async fn link_token(app: &TestApp, catcher: &MailCatcher, to: &str, subject: &str) -> String {
    server::mail::send_due(&app.pool, &catcher.mailer(&app.base))
        .await
        .unwrap();
    let inbox = catcher.inbox(to).await;
    let message = inbox
        .iter()
        .rev()
        .find(|m| m["subject"] == subject)
        .unwrap_or_else(|| panic!("no {subject:?} for {to} in {inbox:#?}"));
    let text = message["text"].as_str().unwrap();
    let token = text
        .split("?token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no link in {text}"));
    token.to_string()
}

/// A verified account, signed in in the returned browser.
pub async fn verified_account(
    app: &TestApp,
    catcher: &MailCatcher,
    email: &str,
) -> reqwest::Client {
    let shopper = browser();
    let resp = call(
        app,
        &shopper,
        "sign_up",
        &[("email", email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "{:?}", resp.text().await);
    let token = link_token(app, catcher, email, "Verify your email").await;
    let resp = call(
        app,
        &shopper,
        "verify_email",
        &[("token", &token), ("password", PASSWORD)],
    )
    .await;
    assert!(resp.status().is_redirection() || resp.status().is_success());
    shopper
}

/// `slug` bought by the signed-in `shopper` with 4242 and settled by its webhook.
pub async fn buy_as(app: &TestApp, shopper: &reqwest::Client, slug: &str) -> Session {
    let resp = call(app, shopper, "start_checkout", &[("slug", slug)]).await;
    assert_eq!(resp.status(), StatusCode::OK, "{:?}", resp.text().await);
    let session: Session = resp.json().await.unwrap();
    app.pay(&session, "pm_card_visa").await;
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);
    assert_eq!(app.order_status(&session.order_id).await, "paid");
    session
}

/// The credit balance the server reports to `shopper`.
pub async fn credit_balance(app: &TestApp, shopper: &reqwest::Client) -> i64 {
    let resp = call(app, shopper, "current_account", &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let account: serde_json::Value = resp.json().await.unwrap();
    account["credits"].as_i64().unwrap()
}

/// Sends `slug`'s unlock form as `shopper`, for the `credits` its page showed, with the form's
/// one-time `key`.
pub async fn unlock_with_credits(
    app: &TestApp,
    shopper: &reqwest::Client,
    slug: &str,
    credits: i64,
    key: &str,
) -> reqwest::Response {
    let credits = credits.to_string();
    call(
        app,
        shopper,
        "unlock_with_credits",
        &[("slug", slug), ("credits", &credits), ("key", key)],
    )
    .await
}

/// How many connections to this test's database wait for a lock (a row another transaction
/// holds), to know that a request is parked where a test wants it.
pub async fn lock_waiters(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity
         where wait_event_type = 'Lock' and datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The `server` binary with `args`, run as an operator would against `database_url`: from
/// the repository root, with only the settings it needs. Its Stripe is an address nothing
/// answers at unless the test gives the stand-in's (`STRIPE_API_BASE`): no test reaches the
/// real Stripe.
pub fn server_command(args: &[&str], database_url: &str) -> tokio::process::Command {
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"));
    server
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("STRIPE_SECRET_KEY", SECRET_KEY)
        .env("STRIPE_PUBLISHABLE_KEY", "pk_test_shop_tests")
        .env("STRIPE_API_BASE", "http://127.0.0.1:9/")
        .env("RUST_LOG", "warn");
    server
}

impl TestApp {
    /// The `server` binary with `args` against this shop's database and stand-in.
    pub fn server_command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = server_command(args, self.settings.database_url());
        command
            .env(
                "STRIPE_API_BASE",
                self.settings.stripe_api_base.clone().unwrap(),
            )
            .env("SEED_DEMO_CATALOG", "false");
        command
    }
}

/// What a finished `server` command printed, once it is known to have succeeded (its output
/// otherwise goes into the failure).
pub fn succeeded(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

//! When the database cannot keep up, pages and server functions say so quickly and plainly
//! (503, "busy"), and the shop recovers as soon as connections free up.

use std::time::Duration;

use crate::helpers::{TestApp, WEBHOOK_SECRET, eventually, lock_waiters, now, sign, spawn};
use reqwest::StatusCode;

const BUSY: &str = "The shop is busy right now. Please try again in a moment.";

#[tokio::test]
async fn a_page_waiting_for_a_starved_database_answers_503_with_a_readable_page() {
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;
    // Take every connection the shop's pool can give, so its requests wait for one.
    let mut held = Vec::new();
    while let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_secs(1), app.pool.acquire()).await
    {
        held.push(conn);
    }
    assert!(!held.is_empty());

    let (order_status, order_page) = app.page(&format!("/orders/{}", session.order_id)).await;
    let (home_status, home_page) = app.page("/").await;
    let checkout = app
        .start_checkout(&[("slug", "field-recordings-vol-1")])
        .await;
    let checkout_status = checkout.status();
    let checkout_error: serde_json::Value = checkout.json().await.unwrap();

    assert_eq!(order_status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(order_page.contains(BUSY), "{order_page}");
    assert!(
        order_page.contains("href=\"/\""),
        "a way back: {order_page}"
    );
    assert_eq!(home_status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(home_page.contains(BUSY), "{home_page}");
    assert_eq!(checkout_status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(checkout_error, serde_json::json!("Busy"));

    drop(held);
    let (status, page) = app.page(&format!("/orders/{}", session.order_id)).await;
    assert_eq!(status, StatusCode::OK, "recovers once connections free up");
    assert!(!page.contains(BUSY), "{page}");
}

#[tokio::test]
async fn readyz_is_200_with_every_migration_in_place_and_503_when_one_is_missing() {
    let app = spawn().await;
    let ready = |app: &crate::helpers::TestApp| {
        let url = format!("{}/readyz", app.base);
        async move {
            let resp = reqwest::get(url).await.unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    };
    assert_eq!(ready(&app).await, (StatusCode::OK, "ready".to_string()));

    // The database is put back to a schema this build is ahead of (a restore of an old backup,
    // say): the server stays up but takes no shoppers.
    sqlx::query(
        "delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    assert_eq!(
        ready(&app).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "database migrations pending".to_string()
        )
    );
    let (health, _) = app.page("/healthz").await;
    assert_eq!(health, StatusCode::OK, "the process itself is up");
}

#[tokio::test]
async fn the_migrate_command_brings_an_empty_database_up_to_this_build() {
    let admin_url = std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    let prefix = std::env::var("TEST_DATABASE_PREFIX").unwrap_or_else(|_| "sf_test_".into());
    let db = format!("{prefix}migrate_{:016x}", rand::random::<u64>());
    sqlx::query(&format!("create database \"{db}\""))
        .execute(&admin)
        .await
        .unwrap();
    let db_url = format!("{}/{db}", admin_url.rsplit_once('/').unwrap().0);

    let out = crate::helpers::server_command(&["migrate"], &db_url)
        .output()
        .await
        .unwrap();

    let stdout = crate::helpers::succeeded(&out);
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .count() as i64;
    assert!(
        stdout.contains(&format!("{migrations} migrations")),
        "{stdout}"
    );
    let migrated = sqlx::PgPool::connect(&db_url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
        .fetch_one(&migrated)
        .await
        .unwrap();
    migrated.close().await;
    sqlx::query(&format!("drop database \"{db}\" with (force)"))
        .execute(&admin)
        .await
        .unwrap();
    assert_eq!(applied, migrations);
}

/// `server serve` against `app`'s database and stand-in, on a socket `scripts/hold-port.py`
/// opens and hands down (LISTEN_FDS), as systemd's socket activation and `dev.sh --watch` do.
/// Its own address is set elsewhere, so a server that bound that instead would never answer
/// here. Returns the process and the address it serves.
async fn serve_handed_down(app: &TestApp) -> (tokio::process::Child, String) {
    serve_handed_down_with(app, &[]).await
}

/// [`serve_handed_down`] with settings `extra` on top.
async fn serve_handed_down_with(
    app: &TestApp,
    extra: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    let server = app.server_command(&["serve"]);
    let server = server.as_std();
    let mut held = tokio::process::Command::new("python3");
    held.arg("scripts/hold-port.py")
        .arg("127.0.0.1:0")
        .arg(server.get_program())
        .args(server.get_args())
        .current_dir(server.get_current_dir().unwrap())
        .env_clear()
        .envs(server.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("BACKGROUND_JOBS", "false")
        .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .envs(extra.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut held = held.spawn().unwrap();

    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(held.stderr.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap_or_default();
    let address = first
        .strip_prefix("hold-port: ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("hold-port.py said {first:?}"))
        .to_string();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (held, address)
}

/// Sends SIGTERM to `server` and waits until its port at `address` refuses new connections,
/// which it closes as its stop begins.
async fn tell_to_stop(server: &tokio::process::Child, address: &str) {
    let pid = server.id().unwrap().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    eventually("the server refusing new connections", || async {
        tokio::net::TcpStream::connect(address)
            .await
            .err()
            .map(drop)
    })
    .await;
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_server_serves_on_a_listening_socket_handed_down_by_its_parent() {
    let app = spawn().await;
    let (mut held, address) = serve_handed_down(&app).await;

    // Connections wait in the socket's queue until the server takes them, so the first
    // request is answered once the server is up, without retrying.
    let health = client()
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.unwrap(), "ok");
    let catalog = client()
        .get(format!("http://{address}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(catalog.status(), StatusCode::OK);
    assert!(catalog.text().await.unwrap().contains("<h1>"));
    held.kill().await.unwrap();
}

#[tokio::test]
async fn a_server_told_to_stop_finishes_the_webhook_under_way_and_takes_no_new_connections() {
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;
    app.pay(&session, "pm_card_visa").await;
    let payload = app.event_payload("payment_intent.succeeded").await;
    let (mut server, address) = serve_handed_down(&app).await;
    let health = client()
        .get(format!("http://{address}/healthz"))
        .send()
        .await;
    assert_eq!(health.unwrap().status(), StatusCode::OK);

    // The order is held, so the delivery waits inside its settlement.
    let mut hold = app.pool.begin().await.unwrap();
    sqlx::query("select 1 from customer_order where public_id = $1 for update")
        .bind(&session.order_id)
        .execute(&mut *hold)
        .await
        .unwrap();
    let signature = sign(&payload, WEBHOOK_SECRET, now());
    let delivery = tokio::spawn({
        let url = format!("http://{address}/webhooks/stripe");
        async move {
            client()
                .post(url)
                .header("stripe-signature", signature)
                .header("content-type", "application/json")
                .body(payload)
                .send()
                .await
        }
    });
    let pool = app.pool.clone();
    eventually("the delivery waiting for the order's lock", || async {
        (lock_waiters(&pool).await > 0).then_some(())
    })
    .await;

    // It stops listening at once: a new connection is refused.
    tell_to_stop(&server, &address).await;

    hold.rollback().await.unwrap();
    let answered = delivery
        .await
        .unwrap()
        .expect("the delivery under way is answered");
    assert_eq!(answered.status(), StatusCode::OK);
    let exit = tokio::time::timeout(Duration::from_secs(20), server.wait())
        .await
        .expect("the server exits once its requests are done")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(app.order_status(&session.order_id).await, "paid");
}

/// The first message and what to do with it: say it has come, then wait to be told to answer.
type Held = std::sync::Arc<
    tokio::sync::Mutex<
        Option<(
            tokio::sync::oneshot::Sender<()>,
            tokio::sync::oneshot::Receiver<()>,
        )>,
    >,
>;

/// An SMTP server that holds its answer to the first message it is given: it says when that
/// message has come (`arrived`) and answers it only once told (`answer`). Every other message,
/// on any connection, is answered at once.
async fn smtp_holding_its_answer(
    listener: tokio::net::TcpListener,
    arrived: tokio::sync::oneshot::Sender<()>,
    answer: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let held: Held = std::sync::Arc::new(tokio::sync::Mutex::new(Some((arrived, answer))));
    loop {
        let (socket, _) = listener.accept().await?;
        tokio::spawn(smtp_session(socket, held.clone()));
    }
}

async fn smtp_session(socket: tokio::net::TcpStream, held: Held) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let (read, mut write) = socket.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    write.write_all(b"220 test ESMTP\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 test\r\n",
            "DATA" => {
                write.write_all(b"354 go on\r\n").await?;
                while lines.next_line().await?.is_some_and(|line| line != ".") {}
                let first = held.lock().await.take();
                if let Some((arrived, answer)) = first {
                    let _ = arrived.send(());
                    let _ = answer.await;
                }
                b"250 queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 OK\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_server_told_to_stop_marks_the_mail_it_is_sending_sent_and_leaves_the_rest_for_later() {
    let app = spawn().await;
    // Two paid orders' receipts wait in the outbox (the test's shop sends no mail).
    for buyer in ["first@example.com", "second@example.com"] {
        let session = app.checkout("field-recordings-vol-1").await;
        app.set_email(&session, buyer).await;
        app.pay(&session, "pm_card_visa").await;
        let payload = app.event_payload("payment_intent.succeeded").await;
        assert_eq!(app.deliver_signed(&payload).await, StatusCode::OK);
    }
    let unsent = "select count(*) from outbound_email where kind = 'receipt' and sent_at is null";
    assert_eq!(app.count(unsent).await, 2);

    let smtp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp_url = format!("smtp://{}", smtp.local_addr().unwrap());
    let (arrived_tx, arrived) = tokio::sync::oneshot::channel();
    let (answer, answer_rx) = tokio::sync::oneshot::channel();
    let mail_server = tokio::spawn(smtp_holding_its_answer(smtp, arrived_tx, answer_rx));
    let (mut server, address) = serve_handed_down_with(
        &app,
        &[("BACKGROUND_JOBS", "true"), ("SMTP_URL", smtp_url.as_str())],
    )
    .await;
    // The mail job's run at start is sending the first receipt; its answer is held.
    tokio::time::timeout(Duration::from_secs(30), arrived)
        .await
        .expect("the receipt reaches the SMTP server")
        .unwrap();

    tell_to_stop(&server, &address).await;
    // A server that did not wait for its workers would be gone within milliseconds of closing
    // its port; this one waits for the mail's answer (up to its drain of 25 s).
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        server.try_wait().unwrap().is_none(),
        "the server waits for the mail under way"
    );

    answer.send(()).unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(20), server.wait())
        .await
        .expect("the server exits once its mail is sent")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        app.count(unsent).await,
        1,
        "the receipt that was being sent is marked sent; the other waits for the next run"
    );
    mail_server.abort();
}

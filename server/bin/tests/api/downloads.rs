//! Downloads: the owner gets the same bytes the shop stored, a resumed download gets the rest,
//! and everyone else (another account, a stranger, an edited, expired or refunded link) gets
//! one refusal that does not say whether a file exists.

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{
    DOWNLOAD_KEY, Session, TestApp, buy_as, mail_catcher, spawn, unique_address, verified_account,
};

const REFUSED: &str = "This download link has expired or is not valid. Open your order page or your library for a new one.";

/// A verified, signed-in account (its own browser) that bought Field Recordings, paid and
/// settled.
async fn owner_with_purchase(app: &TestApp) -> (reqwest::Client, Session) {
    let owner = verified_account(app, &mail_catcher(), &unique_address("files")).await;
    let session = buy_as(app, &owner, "field-recordings-vol-1").await;
    (owner, session)
}

/// The signed link the library's permanent link redirects `who` to.
async fn signed_link(app: &TestApp, who: &reqwest::Client, order: &str) -> String {
    let resp = who
        .get(format!("{}/library/{order}/download", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        resp.text().await
    );
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/files/"), "{location}");
    format!("{}{location}", app.base)
}

/// What the shop stored for the product: its key is the SHA-256 of its bytes.
async fn stored(app: &TestApp) -> (String, i64) {
    sqlx::query_as(
        "select f.object_key, f.size_bytes from product_file f
         join product p on p.id = f.product_id where p.slug = 'field-recordings-vol-1'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn refusal(resp: reqwest::Response) -> (StatusCode, String) {
    (resp.status(), resp.text().await.unwrap())
}

#[tokio::test]
async fn the_owner_downloads_the_bytes_the_shop_stored_and_can_resume() {
    let app = spawn().await;
    let (owner, session) = owner_with_purchase(&app).await;
    let link = signed_link(&app, &owner, &session.order_id).await;
    let (key, size) = stored(&app).await;

    let whole = reqwest::get(&link).await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    let headers = whole.headers().clone();
    let bytes = whole.bytes().await.unwrap();

    assert_eq!(bytes.len() as i64, size);
    assert_eq!(
        format!("sha256/{}", hex::encode(Sha256::digest(&bytes))),
        key
    );
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(headers["content-length"], size.to_string().as_str());
    assert_eq!(headers["content-type"], "audio/wav");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"field-recordings-vol-1.wav\""),
        "{:?}",
        headers["content-disposition"]
    );

    // A browser says it takes compressed answers: the file still comes as stored, with its
    // length and ranges (compressing on the fly would drop both).
    let browserlike = reqwest::Client::new()
        .get(&link)
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(browserlike.headers().get("content-encoding"), None);
    assert_eq!(
        browserlike.headers()["content-length"],
        size.to_string().as_str()
    );
    assert_eq!(browserlike.headers()["accept-ranges"], "bytes");

    // The connection broke after 100,000 bytes: the browser asks for the rest.
    let rest = reqwest::Client::new()
        .get(&link)
        .header("range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        rest.headers()["content-range"],
        format!("bytes 100000-{}/{size}", size - 1).as_str()
    );
    assert_eq!(rest.bytes().await.unwrap(), bytes.slice(100_000..));

    // Resuming names the file it started: the same one gets the rest, another one the whole.
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", key.trim_start_matches("sha256/")));
    let resume = |validator: String| {
        reqwest::Client::new()
            .get(&link)
            .header("range", "bytes=100000-")
            .header("if-range", validator)
            .send()
    };
    assert_eq!(
        resume(etag).await.unwrap().status(),
        StatusCode::PARTIAL_CONTENT
    );
    let changed = resume("\"another file\"".into()).await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(changed.bytes().await.unwrap().len() as i64, size);
}

#[tokio::test]
async fn another_account_or_a_stranger_is_refused_at_the_permanent_link() {
    let app = spawn().await;
    let (_, session) = owner_with_purchase(&app).await;
    let (other, _) = owner_with_purchase(&app).await;
    let permanent = format!("{}/library/{}/download", app.base, session.order_id);

    let theirs = other.get(&permanent).send().await.unwrap();
    assert_eq!(
        refusal(theirs).await,
        (StatusCode::NOT_FOUND, REFUSED.into())
    );
    let made_up = other
        .get(format!(
            "{}/library/ord_{}/download",
            app.base,
            "x".repeat(26)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(made_up).await,
        (StatusCode::NOT_FOUND, REFUSED.into())
    );
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&permanent)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::SEE_OTHER);
    assert_eq!(stranger.headers()["location"], "/sign-in");
}

/// A link for `order` expiring at `expires` (unix seconds), signed as the shop signs.
fn link_for(app: &TestApp, order: &str, expires: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(DOWNLOAD_KEY.as_bytes()).unwrap();
    mac.update(format!("{order}.{expires}").as_bytes());
    let mac = hex::encode(mac.finalize().into_bytes());
    format!("{}/files/{order}.{expires}.{mac}", app.base)
}

#[tokio::test]
async fn an_edited_expired_or_made_up_link_gets_one_refusal() {
    let app = spawn().await;
    let (owner, session) = owner_with_purchase(&app).await;
    let good = signed_link(&app, &owner, &session.order_id).await;
    assert_eq!(reqwest::get(&good).await.unwrap().status(), StatusCode::OK);

    let mut edited = good.clone();
    let last = edited.pop().unwrap();
    edited.push(if last == '0' { '1' } else { '0' });
    let now = helpers_now();
    let expired = link_for(&app, &session.order_id, now - 1);
    let other_order = link_for(&app, &format!("ord_{}", "a".repeat(26)), now + 60);
    for link in [
        edited,
        expired,
        other_order,
        format!("{}/files/nonsense", app.base),
    ] {
        let answer = refusal(reqwest::get(&link).await.unwrap()).await;
        assert_eq!(answer, (StatusCode::NOT_FOUND, REFUSED.into()), "{link}");
    }
    // The same link, still in its time, works.
    let fresh = link_for(&app, &session.order_id, now + 60);
    assert_eq!(reqwest::get(&fresh).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_refund_stops_a_link_already_handed_out() {
    let app = spawn().await;
    let (owner, session) = owner_with_purchase(&app).await;
    let link = signed_link(&app, &owner, &session.order_id).await;

    app.refund(&session, None).await;
    let refunded = app.event_payload("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);

    let answer = refusal(reqwest::get(&link).await.unwrap()).await;
    assert_eq!(answer, (StatusCode::NOT_FOUND, REFUSED.into()));
    let permanent = owner
        .get(format!(
            "{}/library/{}/download",
            app.base, session.order_id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(permanent).await,
        (StatusCode::NOT_FOUND, REFUSED.into())
    );
}

fn helpers_now() -> u64 {
    crate::helpers::now() as u64
}

#[tokio::test]
async fn the_product_page_offers_the_download_instead_of_the_pay_form_to_its_owner() {
    let app = spawn().await;
    let (owner, session) = owner_with_purchase(&app).await;
    let product = "/products/field-recordings-vol-1";

    let theirs = app.page_as(&owner, product).await;
    assert!(theirs.contains("In your library."), "{theirs}");
    assert!(
        theirs.contains(&format!("/library/{}/download", session.order_id)),
        "{theirs}"
    );
    assert!(!theirs.contains("aria-label=\"Checkout\""), "{theirs}");
    let anyone = app.page_as(&reqwest::Client::new(), product).await;
    assert!(anyone.contains("aria-label=\"Checkout\""), "{anyone}");
    assert!(!anyone.contains("In your library."));
    // A credit pack is never "owned": the form stays.
    let credits = app.page_as(&owner, "/products/api-credits-1000").await;
    assert!(credits.contains("aria-label=\"Checkout\""));
}

/// Where `/orders/{order}/download` sends `who`: its status and `Location`.
async fn from_order_page(
    app: &TestApp,
    who: &reqwest::Client,
    order: &str,
) -> (StatusCode, String) {
    let resp = who
        .get(format!("{}/orders/{order}/download", app.base))
        .send()
        .await
        .unwrap();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (resp.status(), location)
}

#[tokio::test]
async fn a_guest_downloads_from_the_order_page_at_once_and_an_accounts_order_only_its_owner() {
    let app = spawn().await;
    // A guest: no account, only the order's link (the page, and the receipt mail).
    let guest = crate::helpers::browser();
    let session = buy_as(&app, &guest, "field-recordings-vol-1").await;
    let (_, page) = app.page(&format!("/orders/{}", session.order_id)).await;
    assert!(
        page.contains(&format!(r#"href="/orders/{}/download""#, session.order_id)),
        "{page}"
    );
    let (status, location) =
        from_order_page(&app, &crate::helpers::browser(), &session.order_id).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/files/"), "{location}");
    let file = reqwest::get(format!("{}{location}", app.base))
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    let (_, size) = stored(&app).await;
    assert_eq!(file.bytes().await.unwrap().len() as i64, size);

    // An account's order: a stranger with its link is refused, signed out is sent to sign in.
    let (owner, owned) = owner_with_purchase(&app).await;
    let (status, location) = from_order_page(&app, &owner, &owned.order_id).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/files/"), "{location}");
    let (status, location) =
        from_order_page(&app, &crate::helpers::browser(), &owned.order_id).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/sign-in")
    );
    let (someone, _) = owner_with_purchase(&app).await;
    let refused = someone
        .get(format!("{}/orders/{}/download", app.base, owned.order_id))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(refused).await,
        (StatusCode::NOT_FOUND, REFUSED.into())
    );

    // A made-up order, and an order not paid, give the same refusal; the page offers nothing.
    for order in ["ord_aaaaaaaaaaaaaaaaaaaaaaaaaa", "not-an-order"] {
        let resp = guest
            .get(format!("{}/orders/{order}/download", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            refusal(resp).await,
            (StatusCode::NOT_FOUND, REFUSED.into()),
            "{order}"
        );
    }
    let open = app.checkout("field-recordings-vol-1").await;
    let (status, _) = from_order_page(&app, &app.http, &open.order_id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = app.page(&format!("/orders/{}", open.order_id)).await;
    assert!(!page.contains("/download"), "{page}");
}

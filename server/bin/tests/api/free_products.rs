//! Free products: a signed-in shopper adds one to their library without paying and downloads
//! it; a guest is asked to sign in; a priced product cannot be taken for free; checkout refuses
//! a free product.

use reqwest::StatusCode;

use crate::helpers::{browser, call, mail_catcher, spawn, unique_address, verified_account};

const SAMPLER: &str = "harbour-sampler";

#[tokio::test]
async fn a_signed_in_shopper_adds_a_free_product_once_and_downloads_it() {
    let app = spawn().await;
    let shopper = verified_account(&app, &mail_catcher(), &unique_address("free")).await;
    let page = app.page_as(&shopper, &format!("/products/{SAMPLER}")).await;
    assert!(page.contains("Add to library"), "{page}");
    assert!(
        page.contains(r#"<p id="product-price" class="price">Free</p>"#),
        "{page}"
    );

    let (a, b) = tokio::join!(
        call(&app, &shopper, "add_to_library", &[("slug", SAMPLER)]),
        call(&app, &shopper, "add_to_library", &[("slug", SAMPLER)])
    );

    for resp in [a, b] {
        assert!(resp.status().is_success() || resp.status().is_redirection());
    }
    assert_eq!(
        app.count("select count(*) from customer_order where amount_minor = 0")
            .await,
        1
    );
    assert_eq!(app.count("select count(*) from entitlement").await, 1);
    let order: String = sqlx::query_scalar("select public_id from customer_order")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let library = app.page_as(&shopper, "/library").await;
    assert!(library.contains("Harbour Sampler"), "{library}");
    let link = shopper
        .get(format!("{}/library/{order}/download", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(link.status(), StatusCode::SEE_OTHER);
    let location = link.headers()["location"].to_str().unwrap();
    let file = reqwest::get(format!("{}{location}", app.base))
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert!(file.bytes().await.unwrap().starts_with(b"RIFF"));
    // Nothing went to Stripe.
    assert!(
        !app.stripe_calls()
            .await
            .iter()
            .any(|c| c["method"] == "POST"),
        "a free product made a Stripe call"
    );
}

#[tokio::test]
async fn a_guest_is_asked_to_sign_in_and_cannot_add_a_free_product() {
    let app = spawn().await;
    let guest = browser();

    let page = app.page_as(&guest, &format!("/products/{SAMPLER}")).await;
    let resp = call(&app, &guest, "add_to_library", &[("slug", SAMPLER)]).await;

    assert!(
        page.contains("to add this to your library for free"),
        "{page}"
    );
    assert!(!page.contains("Add to library</button>"), "{page}");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("select count(*) from customer_order").await, 0);
}

#[tokio::test]
async fn a_priced_product_cannot_be_added_for_free_and_a_free_one_cannot_be_checked_out() {
    let app = spawn().await;
    let shopper = verified_account(&app, &mail_catcher(), &unique_address("notfree")).await;

    let taken = call(
        &app,
        &shopper,
        "add_to_library",
        &[("slug", "field-recordings-vol-1")],
    )
    .await;
    let checkout = app.start_checkout(&[("slug", SAMPLER)]).await;

    assert_eq!(taken.status(), StatusCode::BAD_REQUEST);
    assert!(
        taken
            .text()
            .await
            .unwrap()
            .contains("This product isn't free.")
    );
    assert_eq!(checkout.status(), StatusCode::BAD_REQUEST);
    assert!(
        checkout
            .text()
            .await
            .unwrap()
            .contains("This product is free: add it to your library instead.")
    );
    assert_eq!(app.count("select count(*) from customer_order").await, 0);
    assert_eq!(app.count("select count(*) from entitlement").await, 0);
}

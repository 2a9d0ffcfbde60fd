//! Products and Prices as async-stripe reads them, following Stripe's documented rules: our
//! own Product id is taken once; a Price's lookup key finds it; a default Price cannot be
//! archived; lists show active Prices unless asked for archived ones; an update's event names
//! what changed.

mod common;

use std::collections::HashMap;

use common::{client, events_of_type, standin};
use stripe::StripeError;
use stripe_product::price::{CreatePrice, ListPrice, RetrievePrice, UpdatePrice};
use stripe_product::product::{CreateProduct, RetrieveProduct, UpdateProduct};
use stripe_types::Currency;

fn code_of(err: StripeError) -> (u16, String) {
    match err {
        StripeError::Stripe(e, status) => (
            status,
            e.code.map(|c| c.as_str().to_string()).unwrap_or_default(),
        ),
        other => panic!("expected a Stripe error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_product_is_made_with_our_own_id_once_and_read_back() {
    let standin = standin().await;
    let stripe = client(&standin);
    let made = CreateProduct::new("Field guide")
        .id("sf_test_1")
        .description("A guide.")
        .metadata(HashMap::from([(
            "storefront_id".to_string(),
            "1".to_string(),
        )]))
        .send(&stripe)
        .await
        .unwrap();
    assert_eq!(made.id.as_str(), "sf_test_1");
    assert!(made.active);

    let again = CreateProduct::new("Field guide")
        .id("sf_test_1")
        .send(&stripe)
        .await;

    assert_eq!(
        code_of(again.unwrap_err()),
        (400, "resource_already_exists".to_string())
    );
    let read = RetrieveProduct::new("sf_test_1")
        .send(&stripe)
        .await
        .unwrap();
    assert_eq!(read.name, "Field guide");
    assert_eq!(read.metadata["storefront_id"], "1");
}

#[tokio::test]
async fn a_new_price_becomes_the_default_and_only_then_may_the_old_one_be_archived() {
    let standin = standin().await;
    let stripe = client(&standin);
    CreateProduct::new("Presets")
        .id("sf_test_2")
        .send(&stripe)
        .await
        .unwrap();
    let first = CreatePrice::new(Currency::JPY)
        .product("sf_test_2")
        .unit_amount(1500)
        .lookup_key("sf_test_2_v1")
        .send(&stripe)
        .await
        .unwrap();
    assert_eq!(first.unit_amount, Some(1500));
    UpdateProduct::new("sf_test_2")
        .default_price(first.id.as_str())
        .send(&stripe)
        .await
        .unwrap();

    let refused = UpdatePrice::new(first.id.as_str())
        .active(false)
        .send(&stripe)
        .await;
    assert_eq!(
        code_of(refused.unwrap_err()).0,
        400,
        "the default price stays active"
    );

    let second = CreatePrice::new(Currency::JPY)
        .product("sf_test_2")
        .unit_amount(1800)
        .lookup_key("sf_test_2_v2")
        .send(&stripe)
        .await
        .unwrap();
    UpdateProduct::new("sf_test_2")
        .default_price(second.id.as_str())
        .send(&stripe)
        .await
        .unwrap();
    let archived = UpdatePrice::new(first.id.as_str())
        .active(false)
        .send(&stripe)
        .await
        .unwrap();
    assert!(!archived.active);
    assert_eq!(
        archived.unit_amount,
        Some(1500),
        "an archived price keeps its amount"
    );

    // Lists show active prices unless asked for archived ones; a lookup key finds its price.
    let listed = ListPrice::new()
        .product("sf_test_2")
        .send(&stripe)
        .await
        .unwrap();
    let ids: Vec<&str> = listed.data.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, vec![second.id.as_str()]);
    let old = ListPrice::new().active(false).send(&stripe).await.unwrap();
    assert_eq!(old.data.len(), 1);
    let found = ListPrice::new()
        .lookup_keys(vec!["sf_test_2_v2".to_string()])
        .send(&stripe)
        .await
        .unwrap();
    assert_eq!(found.data[0].id, second.id);
    let taken = CreatePrice::new(Currency::JPY)
        .product("sf_test_2")
        .unit_amount(2000)
        .lookup_key("sf_test_2_v2")
        .send(&stripe)
        .await;
    assert_eq!(
        code_of(taken.unwrap_err()).0,
        400,
        "a lookup key names one price"
    );
    let read = RetrievePrice::new(second.id.as_str())
        .send(&stripe)
        .await
        .unwrap();
    assert_eq!(read.currency, Currency::JPY);
}

#[tokio::test]
async fn an_update_event_carries_what_the_fields_were_before() {
    let standin = standin().await;
    let stripe = client(&standin);
    CreateProduct::new("Old name")
        .id("sf_test_3")
        .send(&stripe)
        .await
        .unwrap();

    UpdateProduct::new("sf_test_3")
        .name("New name")
        .send(&stripe)
        .await
        .unwrap();

    let updated = events_of_type(&standin, "product.updated").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["data"]["object"]["name"], "New name");
    assert_eq!(
        updated[0]["data"]["previous_attributes"]["name"],
        "Old name"
    );
    assert_eq!(events_of_type(&standin, "product.created").await.len(), 1);
}

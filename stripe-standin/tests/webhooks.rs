//! Events and webhook deliveries as the shop will meet them: each type parses with
//! async-stripe and verifies with `Webhook::construct_event`; failed deliveries are retried
//! until a 2xx; the control API really duplicates, reorders, delays and drops.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{WEBHOOK_SECRET, client, connect, control, deliveries, receiver, settled, standin};
use stripe_core::event::{ListEvent, RetrieveEvent};
use stripe_core::payment_intent::{CancelPaymentIntent, ConfirmPaymentIntent, CreatePaymentIntent};
use stripe_core::refund::CreateRefund;
use stripe_types::Currency;
use stripe_webhook::{EventObject, Webhook};

/// A stand-in whose deliveries go to an endpoint answering 200, shaped by one control rule.
async fn with_rule(rule: serde_json::Value) -> (stripe_standin::Running, common::Receiver) {
    let s = standin().await;
    let hook = receiver(|_| StatusCode::OK).await;
    connect(&s, &hook).await;
    control(&s, "delivery_rules", rule).await;
    (s, hook)
}

/// Makes the stand-in emit one event (`payment_intent.created`).
async fn an_event(c: &stripe::Client) {
    CreatePaymentIntent::new(1000, Currency::USD)
        .send(c)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_event_the_shop_handles_parses_with_async_stripe_and_its_signature_verifies() {
    let s = standin().await;
    let hook = receiver(|_| StatusCode::OK).await;
    connect(&s, &hook).await;
    let c = client(&s);
    let http = reqwest::Client::new();

    // succeeded after 3D Secure
    let a = CreatePaymentIntent::new(1000, Currency::USD)
        .send(&c)
        .await
        .unwrap();
    ConfirmPaymentIntent::new(a.id.clone())
        .payment_method("pm_card_authenticationRequired")
        .send(&c)
        .await
        .unwrap();
    let done = http
        .post(format!(
            "{}/_standin/payment_intents/{}/authenticate",
            s.base_url, a.id
        ))
        .form(&[
            ("key", "pk_test_x"),
            ("client_secret", a.client_secret.as_deref().unwrap()),
            ("outcome", "complete"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    // declined, then canceled
    let b = CreatePaymentIntent::new(1000, Currency::USD)
        .send(&c)
        .await
        .unwrap();
    ConfirmPaymentIntent::new(b.id.clone())
        .payment_method("pm_card_chargeDeclined")
        .send(&c)
        .await
        .unwrap_err();
    CancelPaymentIntent::new(b.id.clone())
        .send(&c)
        .await
        .unwrap();
    // processing on the way to succeeded, then refunded
    control(&s, "config", serde_json::json!({ "processing_ms": 100 })).await;
    let d = CreatePaymentIntent::new(1000, Currency::JPY)
        .send(&c)
        .await
        .unwrap();
    ConfirmPaymentIntent::new(d.id.clone())
        .payment_method("pm_card_visa")
        .send(&c)
        .await
        .unwrap();
    settled(&s).await; // the payment leaves `processing`
    CreateRefund::new()
        .payment_intent(d.id.as_str())
        .amount(400)
        .send(&c)
        .await
        .unwrap();
    // paid with the card that is disputed afterwards; the dispute is lost
    let e = CreatePaymentIntent::new(1000, Currency::USD)
        .send(&c)
        .await
        .unwrap();
    ConfirmPaymentIntent::new(e.id.clone())
        .payment_method("pm_card_createDispute")
        .send(&c)
        .await
        .unwrap();
    settled(&s).await; // still passing through `processing`
    let created = common::events_of_type(&s, "charge.dispute.created").await;
    let dispute = created[0]["data"]["object"]["id"]
        .as_str()
        .expect("a charge.dispute.created event")
        .to_string();
    http.post(format!("{}/v1/disputes/{}", s.base_url, dispute))
        .bearer_auth(common::SECRET_KEY)
        .form(&[("evidence[uncategorized_text]", "losing_evidence")])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();

    let wanted: BTreeSet<&str> = [
        "payment_intent.created",
        "payment_intent.requires_action",
        "payment_intent.processing",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
        "refund.created",
        "charge.dispute.created",
        "charge.dispute.closed",
    ]
    .into();
    let listed = ListEvent::new().limit(100).send(&c).await.unwrap();
    let received = hook.wait_for(listed.data.len()).await;

    let mut seen = BTreeSet::new();
    for delivery in &received {
        let event = Webhook::construct_event(&delivery.body, &delivery.signature, WEBHOOK_SECRET)
            .unwrap_or_else(|e| panic!("delivery rejected: {e:?}\n{}", delivery.body));
        assert!(
            !matches!(event.data.object, EventObject::Unknown(_)),
            "{}",
            event.type_.as_str()
        );
        assert_eq!(event.api_version, Some(stripe_shared::version::VERSION));
        seen.insert(event.type_.as_str().to_string());
        let again = RetrieveEvent::new(event.id.clone()).send(&c).await.unwrap();
        assert_eq!(again.id, event.id);
    }
    for t in &wanted {
        assert!(seen.contains(*t), "no {t} among {seen:?}");
    }
    let refunded = listed
        .data
        .iter()
        .find(|e| e.type_.as_str() == "charge.refunded")
        .unwrap();
    assert!(
        refunded
            .request
            .as_ref()
            .and_then(|r| r.id.as_ref())
            .is_some(),
        "events carry their request"
    );
}

#[tokio::test]
async fn a_signature_made_with_another_secret_is_rejected_by_async_stripe() {
    let s = standin().await;
    let hook = receiver(|_| StatusCode::OK).await;
    connect(&s, &hook).await;
    an_event(&client(&s)).await;
    let got = hook.wait_for(1).await;
    assert!(Webhook::construct_event(&got[0].body, &got[0].signature, WEBHOOK_SECRET).is_ok());
    assert!(Webhook::construct_event(&got[0].body, &got[0].signature, "whsec_other").is_err());
}

#[tokio::test]
async fn events_are_paged_newest_first_with_limit_starting_after_and_created_filters() {
    let s = standin().await;
    let c = client(&s);
    for _ in 0..5 {
        an_event(&c).await;
    }
    let first = ListEvent::new().limit(2).send(&c).await.unwrap();
    assert_eq!(first.data.len(), 2);
    assert!(first.has_more);
    let second = ListEvent::new()
        .limit(2)
        .starting_after(first.data[1].id.as_str())
        .send(&c)
        .await
        .unwrap();
    let third = ListEvent::new()
        .limit(2)
        .starting_after(second.data[1].id.as_str())
        .send(&c)
        .await
        .unwrap();
    assert_eq!(third.data.len(), 1);
    assert!(!third.has_more);
    let ids: BTreeSet<String> = first
        .data
        .iter()
        .chain(&second.data)
        .chain(&third.data)
        .map(|e| e.id.to_string())
        .collect();
    assert_eq!(ids.len(), 5, "no event is skipped or repeated across pages");

    let future = stripe_types::RangeQueryTs::gt(first.data[0].created + 3600);
    let none = ListEvent::new().created(future).send(&c).await.unwrap();
    assert!(none.data.is_empty());
    let paged: Vec<_> = {
        use futures::TryStreamExt;
        ListEvent::new()
            .limit(2)
            .paginate()
            .stream(&c)
            .try_collect()
            .await
            .unwrap()
    };
    assert_eq!(
        paged.len(),
        5,
        "async-stripe's own paginator walks every page"
    );
}

#[tokio::test]
async fn a_failed_delivery_is_retried_until_the_endpoint_answers_2xx_and_then_stops() {
    let s = standin().await;
    let hook = receiver(|n| {
        if n < 2 {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    })
    .await;
    connect(&s, &hook).await;

    an_event(&client(&s)).await;

    let got = hook.wait_for(3).await;
    settled(&s).await;
    assert_eq!(hook.all().len(), 3, "no attempt after the 2xx");
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "every attempt carries the same event"
    );
    let log = deliveries(&s).await;
    let outcomes: Vec<&str> = log.iter().map(|d| d["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["failed", "failed", "delivered"]);
    let event = hook.event_ids()[0].clone();
    let read = RetrieveEvent::new(event).send(&client(&s)).await.unwrap();
    assert_eq!(read.pending_webhooks, 0);
}

#[tokio::test]
async fn an_endpoint_that_never_answers_2xx_is_given_up_after_the_last_attempt() {
    let s = standin().await;
    let hook = receiver(|_| StatusCode::SERVICE_UNAVAILABLE).await;
    connect(&s, &hook).await;
    control(&s, "config", serde_json::json!({ "max_attempts": 3 })).await;

    an_event(&client(&s)).await;

    settled(&s).await;
    assert_eq!(hook.all().len(), 3, "exactly max_attempts attempts");
    let log = deliveries(&s).await;
    assert_eq!(log.last().unwrap()["outcome"], "gave_up");
}

#[tokio::test]
async fn a_duplicate_rule_delivers_the_same_event_twice() {
    let (s, hook) = with_rule(serde_json::json!({ "action": "duplicate", "copies": 1 })).await;

    an_event(&client(&s)).await;

    hook.wait_for(2).await;
    let ids = hook.event_ids();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1]);
}

#[tokio::test]
async fn held_deliveries_are_released_in_reverse_order() {
    let (s, hook) = with_rule(serde_json::json!({ "action": "hold" })).await;
    let c = client(&s);
    for _ in 0..3 {
        an_event(&c).await;
    }
    assert_eq!(settled(&s).await, 3, "three deliveries are held");
    assert!(
        hook.all().is_empty(),
        "held deliveries wait for the release"
    );
    let created: Vec<String> = {
        let mut v: Vec<_> = ListEvent::new()
            .send(&c)
            .await
            .unwrap()
            .data
            .into_iter()
            .map(|e| e.id.to_string())
            .collect();
        v.reverse(); // oldest first
        v
    };

    let released = control(
        &s,
        "deliveries/release",
        serde_json::json!({ "order": "reverse" }),
    )
    .await;

    assert_eq!(released["released"], 3);
    hook.wait_for(3).await;
    let mut expected = created;
    expected.reverse();
    assert_eq!(hook.event_ids(), expected);
}

#[tokio::test]
async fn a_dropped_delivery_never_arrives_but_its_event_can_be_listed() {
    let (s, hook) = with_rule(serde_json::json!({ "action": "drop", "times": 1 })).await;
    let c = client(&s);

    an_event(&c).await;
    an_event(&c).await;

    settled(&s).await;
    assert_eq!(hook.all().len(), 1, "only the second event arrives");
    let listed = ListEvent::new().send(&c).await.unwrap();
    assert_eq!(listed.data.len(), 2);
    let dropped = listed
        .data
        .iter()
        .find(|e| !hook.event_ids().contains(&e.id.to_string()))
        .unwrap();
    assert_eq!(dropped.pending_webhooks, 1);
}

#[tokio::test]
async fn a_delay_rule_holds_back_the_first_attempt() {
    let (s, hook) = with_rule(serde_json::json!({ "action": "delay", "delay_ms": 700 })).await;

    let sent = Instant::now();
    an_event(&client(&s)).await;

    hook.wait_for(1).await;
    assert!(
        sent.elapsed() >= Duration::from_millis(700),
        "delivered after {:?}, before the 700 ms delay",
        sent.elapsed()
    );
}

#[tokio::test]
async fn a_reset_empties_the_stand_in() {
    let s = standin().await;
    let c = client(&s);
    let hook = receiver(|_| StatusCode::OK).await;
    connect(&s, &hook).await;
    an_event(&c).await;
    let pi = CreatePaymentIntent::new(1000, Currency::USD)
        .send(&c)
        .await
        .unwrap();
    ConfirmPaymentIntent::new(pi.id.clone())
        .payment_method("pm_card_visa")
        .send(&c)
        .await
        .unwrap();
    hook.wait_for(1).await;
    assert!(!deliveries(&s).await.is_empty());

    control(&s, "reset", serde_json::json!({})).await;

    assert!(ListEvent::new().send(&c).await.unwrap().data.is_empty());
    let intents = stripe_core::payment_intent::ListPaymentIntent::new()
        .send(&c)
        .await
        .unwrap();
    assert!(
        intents.data.is_empty(),
        "payment intents: {:?}",
        intents.data
    );
    let charges = stripe_core::charge::ListCharge::new()
        .send(&c)
        .await
        .unwrap();
    assert!(charges.data.is_empty(), "charges: {:?}", charges.data);
    assert!(deliveries(&s).await.is_empty(), "deliveries are forgotten");
    let read = stripe_core::payment_intent::RetrievePaymentIntent::new(pi.id.clone())
        .send(&c)
        .await;
    assert!(
        read.is_err(),
        "a PaymentIntent from before the reset is gone"
    );
}

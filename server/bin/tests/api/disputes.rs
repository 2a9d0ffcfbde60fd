//! Disputes (chargebacks): while one is open the order's grant is suspended and the buyer reads
//! that it is under dispute; won restores the grant, lost revokes it for good, whatever order
//! the events come in.

use reqwest::StatusCode;

use crate::helpers::{SECRET_KEY, Session, TestApp, spawn};

/// The order's dispute status and its grant's state: `live`, `suspended` or `revoked`.
async fn dispute_state(app: &TestApp, order_id: &str) -> (Option<String>, String) {
    sqlx::query_as(
        "select order_dispute_status(o.id)::text,
                case when e.revoked_at is not null then 'revoked'
                     when e.suspended_at is not null then 'suspended'
                     else 'live' end
         from customer_order o join entitlement e on e.order_id = o.id
         where o.public_id = $1",
    )
    .bind(order_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

pub(crate) async fn open_dispute(app: &TestApp, order: &Session) -> String {
    let resp = app
        .http
        .post(format!("{}/_standin/disputes", app.standin.base_url))
        .json(&serde_json::json!({ "payment_intent": TestApp::intent_id(order) }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let dispute: serde_json::Value = resp.json().await.unwrap();
    dispute["id"].as_str().unwrap().to_string()
}

/// Submits evidence the way Stripe's test mode decides on: `winning_evidence` or
/// `losing_evidence`.
pub(crate) async fn decide(app: &TestApp, dispute: &str, evidence: &str) {
    let resp = app
        .http
        .post(format!("{}/v1/disputes/{dispute}", app.standin.base_url))
        .bearer_auth(SECRET_KEY)
        .form(&[("evidence[uncategorized_text]", evidence)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_open_dispute_suspends_the_grant_and_a_won_one_restores_it() {
    let app = spawn().await;
    let order = app.paid_order("field-recordings-vol-1").await;
    let dispute = open_dispute(&app, &order).await;

    let created = app.event_payload("charge.dispute.created").await;
    assert_eq!(app.deliver_signed(&created).await, StatusCode::OK);
    assert_eq!(
        dispute_state(&app, &order.order_id).await,
        (Some("open".into()), "suspended".into())
    );
    let (_, page) = app.page(&format!("/orders/{}", order.order_id)).await;
    assert!(page.contains("under dispute"), "{page}");

    decide(&app, &dispute, "winning_evidence").await;
    let closed = app.event_payload("charge.dispute.closed").await;
    assert_eq!(app.deliver_signed(&closed).await, StatusCode::OK);

    assert_eq!(
        dispute_state(&app, &order.order_id).await,
        (Some("won".into()), "live".into())
    );
    let (_, page) = app.page(&format!("/orders/{}", order.order_id)).await;
    assert!(!page.contains("under dispute"), "{page}");
}

#[tokio::test]
async fn a_lost_dispute_revokes_the_grant_for_good_even_when_its_events_come_reversed() {
    let app = spawn().await;
    let order = app.paid_order("field-recordings-vol-1").await;
    let dispute = open_dispute(&app, &order).await;
    decide(&app, &dispute, "losing_evidence").await;

    let closed = app.event_payload("charge.dispute.closed").await;
    assert_eq!(app.deliver_signed(&closed).await, StatusCode::OK);
    let created = app.event_payload("charge.dispute.created").await;
    assert_eq!(app.deliver_signed(&created).await, StatusCode::OK);

    assert_eq!(
        dispute_state(&app, &order.order_id).await,
        (Some("lost".into()), "revoked".into())
    );
    let (_, page) = app.page(&format!("/orders/{}", order.order_id)).await;
    assert!(page.contains("no longer available"), "{page}");
}

#[tokio::test]
async fn a_dispute_reported_before_the_payment_is_settled_suspends_the_grant_it_makes() {
    let app = spawn().await;
    let order = app.checkout("field-recordings-vol-1").await;
    app.pay(&order, "pm_card_createDispute").await;

    let created = app.event_payload("charge.dispute.created").await;
    assert_eq!(app.deliver_signed(&created).await, StatusCode::OK);
    assert_eq!(app.order_status(&order.order_id).await, "pending");
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);

    assert_eq!(app.order_status(&order.order_id).await, "paid");
    assert_eq!(
        dispute_state(&app, &order.order_id).await,
        (Some("open".into()), "suspended".into())
    );
}

#[tokio::test]
async fn a_new_dispute_after_a_won_one_suspends_the_grant_again_and_can_revoke_it() {
    let app = spawn().await;
    let order = app.paid_order("field-recordings-vol-1").await;
    let first = open_dispute(&app, &order).await;
    decide(&app, &first, "winning_evidence").await;
    for type_ in ["charge.dispute.created", "charge.dispute.closed"] {
        let payload = app.event_payload(type_).await;
        assert_eq!(app.deliver_signed(&payload).await, StatusCode::OK);
    }
    assert_eq!(
        dispute_state(&app, &order.order_id).await,
        (Some("won".into()), "live".into())
    );

    // The cardholder disputes again: a dispute of its own.
    let second = open_dispute(&app, &order).await;
    assert_ne!(second, first);
    let created = app.event_payload("charge.dispute.created").await;
    assert!(created.contains(&second));
    assert_eq!(app.deliver_signed(&created).await, StatusCode::OK);
    assert_eq!(
        dispute_state(&app, &order.order_id).await,
        (Some("open".into()), "suspended".into())
    );
    decide(&app, &second, "losing_evidence").await;
    let closed = app.event_payload("charge.dispute.closed").await;
    assert_eq!(app.deliver_signed(&closed).await, StatusCode::OK);

    assert_eq!(
        dispute_state(&app, &order.order_id).await,
        (Some("lost".into()), "revoked".into())
    );
}

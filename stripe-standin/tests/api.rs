//! The stand-in's API as async-stripe sees it: every object parses, each test card gives
//! Stripe's outcome, idempotency keys replay or conflict, refunds never exceed the charge.

mod common;

use std::collections::HashMap;

use common::{SECRET_KEY, client, control, events_of_type, standin, standin_requests};
use stripe::StripeRequest;
use stripe::{IdempotencyKey, RequestStrategy, StripeError};
use stripe_core::charge::RetrieveCharge;
use stripe_core::payment_intent::{
    CancelPaymentIntent, ConfirmPaymentIntent, CreatePaymentIntent,
    CreatePaymentIntentAutomaticPaymentMethods, ListPaymentIntent, RetrievePaymentIntent,
    UpdatePaymentIntent,
};
use stripe_core::refund::{CreateRefund, ListRefund, RetrieveRefund};
use stripe_payment::payment_method::{
    CreatePaymentMethod, CreatePaymentMethodCard, CreatePaymentMethodCardDetailsParams,
    CreatePaymentMethodType,
};
use stripe_shared::{ChargeStatus, PaymentIntent, PaymentIntentStatus};
use stripe_types::Currency;

async fn new_intent(client: &stripe::Client, amount: i64, currency: Currency) -> PaymentIntent {
    CreatePaymentIntent::new(amount, currency)
        .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
        .metadata(HashMap::from([(
            "order_id".to_string(),
            "ord_1".to_string(),
        )]))
        .receipt_email("shopper@example.com")
        .description("Test order")
        .send(client)
        .await
        .expect("payment intent is created")
}

async fn card(client: &stripe::Client, number: &str) -> String {
    CreatePaymentMethod::new()
        .type_(CreatePaymentMethodType::Card)
        .card(CreatePaymentMethodCard::CardDetailsParams(
            CreatePaymentMethodCardDetailsParams {
                number: number.to_string(),
                exp_month: 12,
                exp_year: 2040,
                cvc: Some("123".into()),
                networks: None,
            },
        ))
        .send(client)
        .await
        .expect("payment method is created")
        .id
        .to_string()
}

async fn pay(
    client: &stripe::Client,
    pi: &PaymentIntent,
    number: &str,
) -> Result<PaymentIntent, StripeError> {
    let pm = card(client, number).await;
    ConfirmPaymentIntent::new(pi.id.clone())
        .payment_method(pm)
        .send(client)
        .await
}

/// The HTTP status and Stripe's error code of a refused request.
fn code_of(err: StripeError) -> (u16, String) {
    match err {
        StripeError::Stripe(e, status) => (
            status,
            e.code.map(|c| c.as_str().to_string()).unwrap_or_default(),
        ),
        other => panic!("expected a Stripe error, got {other:?}"),
    }
}

fn decline(err: StripeError) -> (u16, Option<String>, Option<String>, Option<String>) {
    match err {
        StripeError::Stripe(e, status) => (
            status,
            e.code.map(|c| c.as_str().to_string()),
            e.decline_code,
            e.payment_intent.map(|pi| pi.status.as_str().to_string()),
        ),
        other => panic!("expected a Stripe error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_payment_intent_is_created_read_updated_and_listed_through_async_stripe() {
    let s = standin().await;
    let c = client(&s);

    let pi = new_intent(&c, 1999, Currency::USD).await;
    assert_eq!(pi.status, PaymentIntentStatus::RequiresPaymentMethod);
    assert_eq!(pi.amount, 1999);
    assert_eq!(pi.metadata["order_id"], "ord_1");
    assert_eq!(pi.receipt_email.as_deref(), Some("shopper@example.com"));
    assert!(
        pi.client_secret
            .as_deref()
            .unwrap()
            .starts_with(&format!("{}_secret_", pi.id))
    );

    let read = RetrievePaymentIntent::new(pi.id.clone())
        .send(&c)
        .await
        .unwrap();
    assert_eq!(read.id, pi.id);

    let updated = UpdatePaymentIntent::new(pi.id.clone())
        .amount(2500)
        .send(&c)
        .await
        .unwrap();
    assert_eq!(updated.amount, 2500);

    let list = ListPaymentIntent::new().limit(10).send(&c).await.unwrap();
    assert_eq!(list.data.len(), 1);
    assert_eq!(list.data[0].id, pi.id);
}

#[tokio::test]
async fn a_zero_decimal_amount_is_kept_as_whole_yen() {
    let s = standin().await;
    let c = client(&s);
    let pi = new_intent(&c, 1500, Currency::JPY).await;
    let paid = pay(&c, &pi, "4242424242424242").await.unwrap();
    assert_eq!(paid.amount_received, 1500);
    assert_eq!(paid.currency, Currency::JPY);
}

#[tokio::test]
async fn the_4242_card_succeeds_with_a_captured_charge() {
    let s = standin().await;
    let c = client(&s);
    let pi = new_intent(&c, 1999, Currency::USD).await;

    let paid = pay(&c, &pi, "4242424242424242").await.unwrap();

    assert_eq!(paid.status, PaymentIntentStatus::Succeeded);
    assert_eq!(paid.amount_received, 1999);
    let charge_id = paid.latest_charge.expect("a charge").id().clone();
    let charge = RetrieveCharge::new(charge_id).send(&c).await.unwrap();
    assert_eq!(charge.status, ChargeStatus::Succeeded);
    assert_eq!(charge.amount_captured, 1999);
    assert_eq!(charge.payment_intent.unwrap().id(), &pi.id);
}

#[tokio::test]
async fn each_declining_test_card_gives_stripes_code_and_leaves_the_intent_payable() {
    let s = standin().await;
    let c = client(&s);
    let cases = [
        ("4000000000000002", "card_declined", "generic_decline"),
        ("4000000000009995", "card_declined", "insufficient_funds"),
        ("4000000000000069", "expired_card", "expired_card"),
        ("4000000000000127", "incorrect_cvc", "incorrect_cvc"),
    ];
    for (number, code, decline_code) in cases {
        let pi = new_intent(&c, 1999, Currency::USD).await;
        let err = pay(&c, &pi, number).await.unwrap_err();
        let (status, got_code, got_decline, pi_status) = decline(err);
        assert_eq!(status, 402, "{number}");
        assert_eq!(got_code.as_deref(), Some(code), "{number}");
        assert_eq!(got_decline.as_deref(), Some(decline_code), "{number}");
        assert_eq!(
            pi_status.as_deref(),
            Some("requires_payment_method"),
            "{number}"
        );

        let retried = pay(&c, &pi, "4242424242424242").await.unwrap();
        assert_eq!(
            retried.status,
            PaymentIntentStatus::Succeeded,
            "{number} then 4242"
        );
    }
}

#[tokio::test]
async fn the_3155_card_requires_authentication_with_a_next_action() {
    let s = standin().await;
    let c = client(&s);
    let pi = new_intent(&c, 1999, Currency::USD).await;

    let confirmed = pay(&c, &pi, "4000002500003155").await.unwrap();

    assert_eq!(confirmed.status, PaymentIntentStatus::RequiresAction);
    let action = confirmed.next_action.expect("a next action");
    assert_eq!(action.type_, "use_stripe_sdk");
}

#[tokio::test]
async fn a_ready_made_payment_method_id_pays_like_its_card() {
    let s = standin().await;
    let c = client(&s);
    let pi = new_intent(&c, 1999, Currency::USD).await;
    let err = ConfirmPaymentIntent::new(pi.id.clone())
        .payment_method("pm_card_visa_chargeDeclinedInsufficientFunds")
        .send(&c)
        .await
        .unwrap_err();
    assert_eq!(decline(err).2.as_deref(), Some("insufficient_funds"));
    let ok = ConfirmPaymentIntent::new(pi.id.clone())
        .payment_method("pm_card_visa")
        .send(&c)
        .await
        .unwrap();
    assert_eq!(ok.status, PaymentIntentStatus::Succeeded);
}

#[tokio::test]
async fn a_mistyped_card_number_is_refused_when_the_payment_method_is_made() {
    let s = standin().await;
    let c = client(&s);
    let err = CreatePaymentMethod::new()
        .type_(CreatePaymentMethodType::Card)
        .card(CreatePaymentMethodCard::CardDetailsParams(
            CreatePaymentMethodCardDetailsParams {
                number: "4242424242424241".into(),
                exp_month: 12,
                exp_year: 2040,
                cvc: None,
                networks: None,
            },
        ))
        .send(&c)
        .await
        .unwrap_err();
    assert_eq!(decline(err).1.as_deref(), Some("incorrect_number"));
}

#[tokio::test]
async fn the_same_idempotency_key_and_parameters_replay_the_first_result() {
    let s = standin().await;
    let c = client(&s);
    let key = IdempotencyKey::new("order-42-attempt-1").unwrap();
    let req = CreatePaymentIntent::new(1999, Currency::USD)
        .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true));

    let first = req
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key.clone()))
        .send(&c)
        .await
        .unwrap();
    let second = req
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key))
        .send(&c)
        .await
        .unwrap();

    assert_eq!(first.id, second.id);
    let all = ListPaymentIntent::new().send(&c).await.unwrap();
    assert_eq!(all.data.len(), 1, "the replay made no second intent");
}

#[tokio::test]
async fn the_same_idempotency_key_with_other_parameters_is_an_idempotency_error() {
    let s = standin().await;
    let c = client(&s);
    let key = IdempotencyKey::new("order-43").unwrap();
    CreatePaymentIntent::new(1999, Currency::USD)
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key.clone()))
        .send(&c)
        .await
        .unwrap();

    let err = CreatePaymentIntent::new(2999, Currency::USD)
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key))
        .send(&c)
        .await
        .unwrap_err();

    match err {
        StripeError::Stripe(e, 400) => assert_eq!(e.type_.as_str(), "idempotency_error"),
        other => panic!("expected an idempotency error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_replayed_decline_returns_the_same_error_without_a_second_charge() {
    let s = standin().await;
    let c = client(&s);
    let pi = new_intent(&c, 1999, Currency::USD).await;
    let key = IdempotencyKey::new("confirm-1").unwrap();
    let req = ConfirmPaymentIntent::new(pi.id.clone()).payment_method("pm_card_chargeDeclined");
    let a = req
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key.clone()))
        .send(&c)
        .await
        .unwrap_err();
    let b = req
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key))
        .send(&c)
        .await
        .unwrap_err();
    let (first, replayed) = (decline(a), decline(b));
    assert_eq!(
        first,
        (
            402,
            Some("card_declined".to_string()),
            Some("generic_decline".to_string()),
            Some("requires_payment_method".to_string())
        )
    );
    assert_eq!(replayed, first);
    let charges = stripe_core::charge::ListCharge::new()
        .send(&c)
        .await
        .unwrap();
    assert_eq!(charges.data.len(), 1);
}

#[tokio::test]
async fn partial_refunds_add_up_and_an_over_refund_is_refused() {
    let s = standin().await;
    let c = client(&s);
    let pi = new_intent(&c, 1000, Currency::USD).await;
    pay(&c, &pi, "4242424242424242").await.unwrap();

    let r1 = CreateRefund::new()
        .payment_intent(pi.id.as_str())
        .amount(300)
        .send(&c)
        .await
        .unwrap();
    let r2 = CreateRefund::new()
        .payment_intent(pi.id.as_str())
        .amount(500)
        .send(&c)
        .await
        .unwrap();
    let over = CreateRefund::new()
        .payment_intent(pi.id.as_str())
        .amount(201)
        .send(&c)
        .await
        .unwrap_err();
    let rest = CreateRefund::new()
        .payment_intent(pi.id.as_str())
        .send(&c)
        .await
        .unwrap();

    assert_eq!((r1.amount, r2.amount, rest.amount), (300, 500, 200));
    assert_eq!(code_of(over), (400, "amount_too_large".to_string()));
    let charge = RetrieveCharge::new(r1.charge.unwrap().id().clone())
        .send(&c)
        .await
        .unwrap();
    assert_eq!(charge.amount_refunded, 1000);
    assert!(charge.refunded);
    let again = CreateRefund::new()
        .payment_intent(pi.id.as_str())
        .send(&c)
        .await
        .unwrap_err();
    match again {
        StripeError::Stripe(e, 400) => {
            assert_eq!(e.code.unwrap().as_str(), "charge_already_refunded")
        }
        other => panic!("{other:?}"),
    }
    let listed = ListRefund::new()
        .payment_intent(pi.id.as_str())
        .send(&c)
        .await
        .unwrap();
    assert_eq!(listed.data.len(), 3);
    let read = RetrieveRefund::new(r1.id.clone()).send(&c).await.unwrap();
    assert_eq!(read.amount, 300);
}

#[tokio::test]
async fn an_unpaid_intent_has_nothing_to_refund() {
    let s = standin().await;
    let c = client(&s);
    let pi = new_intent(&c, 1000, Currency::USD).await;
    let err = CreateRefund::new()
        .payment_intent(pi.id.as_str())
        .send(&c)
        .await
        .unwrap_err();
    assert_eq!(code_of(err), (400, "charge_not_refundable".to_string()));
}

#[tokio::test]
async fn a_succeeded_intent_cannot_be_canceled_but_an_open_one_can() {
    let s = standin().await;
    let c = client(&s);
    let open = new_intent(&c, 1000, Currency::USD).await;
    let canceled = CancelPaymentIntent::new(open.id.clone())
        .send(&c)
        .await
        .unwrap();
    assert_eq!(canceled.status, PaymentIntentStatus::Canceled);

    let paid = new_intent(&c, 1000, Currency::USD).await;
    pay(&c, &paid, "4242424242424242").await.unwrap();
    let err = CancelPaymentIntent::new(paid.id.clone())
        .send(&c)
        .await
        .unwrap_err();
    assert_eq!(
        code_of(err),
        (400, "payment_intent_unexpected_state".to_string())
    );
}

#[tokio::test]
async fn an_unknown_id_is_a_404_resource_missing() {
    let s = standin().await;
    let c = client(&s);
    let err = RetrievePaymentIntent::new("pi_doesnotexist")
        .send(&c)
        .await
        .unwrap_err();
    match err {
        StripeError::Stripe(e, 404) => assert_eq!(e.code.unwrap().as_str(), "resource_missing"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_amount_below_the_currency_minimum_is_refused() {
    let s = standin().await;
    let c = client(&s);
    let err = CreatePaymentIntent::new(10, Currency::USD)
        .send(&c)
        .await
        .unwrap_err();
    match err {
        StripeError::Stripe(e, 400) => assert_eq!(e.code.unwrap().as_str(), "amount_too_small"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_request_without_a_key_is_401_and_a_publishable_key_cannot_create_intents() {
    let s = standin().await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/payment_intents", s.base_url);
    let none = http
        .post(&url)
        .form(&[("amount", "1000"), ("currency", "usd")])
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let body: serde_json::Value = none.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let pk = http
        .post(&url)
        .bearer_auth("pk_test_abc")
        .form(&[("amount", "1000"), ("currency", "usd")])
        .send()
        .await
        .unwrap();
    assert_eq!(pk.status(), 403);

    let live = http
        .post(&url)
        .bearer_auth("sk_live_abcdefghijkl")
        .form(&[("amount", "1000"), ("currency", "usd")])
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 401);
}

#[tokio::test]
async fn the_browser_reads_an_intent_only_with_its_client_secret() {
    let s = standin().await;
    let c = client(&s);
    let pi = new_intent(&c, 1000, Currency::USD).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/payment_intents/{}", s.base_url, pi.id);

    let good = http
        .get(&url)
        .query(&[
            ("key", "pk_test_x"),
            ("client_secret", pi.client_secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let bad = http
        .get(&url)
        .query(&[("key", "pk_test_x"), ("client_secret", "pi_x_secret_wrong")])
        .send()
        .await
        .unwrap();
    let secret_key_in_params = http
        .get(&url)
        .query(&[("key", SECRET_KEY)])
        .send()
        .await
        .unwrap();

    assert_eq!(good.status(), 200);
    assert_eq!(bad.status(), 400);
    assert_eq!(
        secret_key_in_params.status(),
        401,
        "a secret key is only read from the Authorization header"
    );
}

#[tokio::test]
async fn an_unknown_parameter_is_refused_by_name() {
    let s = standin().await;
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/payment_intents", s.base_url))
        .bearer_auth(SECRET_KEY)
        .form(&[("amount", "1000"), ("currency", "usd"), ("amout", "5")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["param"], "amout");
}

#[tokio::test]
async fn an_injected_failure_is_kept_under_its_idempotency_key_like_a_stripe_500() {
    let s = standin().await;
    let c = client(&s);
    control(
        &s,
        "faults",
        serde_json::json!({ "method": "POST", "path": "/v1/payment_intents", "times": 1 }),
    )
    .await;
    let key = IdempotencyKey::new("fault-1").unwrap();
    let create = CreatePaymentIntent::new(1000, Currency::USD);

    let failed = create
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key.clone()))
        .send(&c)
        .await
        .unwrap_err();
    let replayed = create
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key))
        .send(&c)
        .await
        .unwrap_err();
    let listed = ListPaymentIntent::new().send(&c).await.unwrap();
    assert!(listed.data.is_empty(), "the failed call made nothing");
    let with_a_new_key = create
        .customize()
        .request_strategy(RequestStrategy::Idempotent(
            IdempotencyKey::new("fault-2").unwrap(),
        ))
        .send(&c)
        .await
        .unwrap();

    for error in [failed, replayed] {
        match error {
            StripeError::Stripe(e, 500) => assert_eq!(e.type_.as_str(), "api_error"),
            other => panic!("expected a 500 api_error, got {other:?}"),
        }
    }
    let replays: Vec<bool> = standin_requests(&s)
        .await
        .iter()
        .map(|r| r["replayed"].as_bool().unwrap())
        .collect();
    assert_eq!(
        replays,
        [false, true, false, false],
        "create, replay, list, create"
    );
    assert_eq!(with_a_new_key.amount, 1000);
    let left: Vec<serde_json::Value> = reqwest::get(format!("{}/_standin/faults", s.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(left.is_empty(), "the fault is used up: {left:?}");
}

#[tokio::test]
async fn the_0259_card_pays_and_is_then_disputed_and_evidence_decides_the_outcome() {
    let s = standin().await;
    let c = client(&s);
    let http = reqwest::Client::new();
    let pi = new_intent(&c, 1999, Currency::USD).await;
    pay(&c, &pi, "4000000000000259").await.unwrap();

    let created = events_of_type(&s, "charge.dispute.created").await;
    assert_eq!(created.len(), 1);
    let dispute = &created[0]["data"]["object"];
    assert_eq!(dispute["status"], "needs_response");
    assert_eq!(dispute["payment_intent"], pi.id.as_str());
    assert_eq!(dispute["amount"], 1999);
    let id = dispute["id"].as_str().unwrap();

    let submit = |text: &'static str| {
        http.post(format!("{}/v1/disputes/{id}", s.base_url))
            .bearer_auth(SECRET_KEY)
            .form(&[("evidence[uncategorized_text]", text)])
            .send()
    };
    let won: serde_json::Value = submit("winning_evidence")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(won["status"], "won");
    let closed = events_of_type(&s, "charge.dispute.closed").await;
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["data"]["object"]["status"], "won");
    let again = submit("losing_evidence").await.unwrap();
    assert_eq!(again.status(), 400, "a closed dispute stays closed");
}

#[tokio::test]
async fn a_dispute_opened_through_the_control_route_loses_with_losing_evidence() {
    let s = standin().await;
    let c = client(&s);
    let pi = new_intent(&c, 500, Currency::EUR).await;
    pay(&c, &pi, "4242424242424242").await.unwrap();

    let opened = control(
        &s,
        "disputes",
        serde_json::json!({ "payment_intent": pi.id.as_str() }),
    )
    .await;
    assert_eq!(opened["status"], "needs_response");
    let lost: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/v1/disputes/{}",
            s.base_url,
            opened["id"].as_str().unwrap()
        ))
        .bearer_auth(SECRET_KEY)
        .form(&[("evidence[uncategorized_text]", "losing_evidence")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lost["status"], "lost");
}

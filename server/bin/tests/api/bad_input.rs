//! Property tests of what reaches the server from outside: arbitrary webhook headers and
//! bodies, and arbitrary arguments to every server function. Malformed input gets a 4xx (never
//! a 5xx, never a panic) and changes no row.
//!
//! Each property runs a few hundred cases against one real server; PROPTEST_CASES raises it.

use std::sync::OnceLock;

use crate::helpers::{TestApp, WEBHOOK_SECRET, now, sign, spawn};
use proptest::prelude::*;
use tokio::runtime::Runtime;

/// One runtime and one shop for every case of a property (a shop per case would take minutes).
fn shop() -> &'static (Runtime, TestApp) {
    static SHOP: OnceLock<(Runtime, TestApp)> = OnceLock::new();
    SHOP.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let app = rt.block_on(spawn());
        (rt, app)
    })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// A real event payload of the shop's own, to mutate.
fn real_event() -> &'static String {
    static EVENT: OnceLock<String> = OnceLock::new();
    EVENT.get_or_init(|| {
        let (rt, app) = shop();
        rt.block_on(async {
            let session = app.checkout("tokyo-night-presets").await;
            app.pay(&session, "pm_card_visa").await;
            app.event_payload("payment_intent.succeeded").await
        })
    })
}

/// A `Stripe-Signature` value: nonsense, or near-valid pieces put together wrongly.
fn signature_header() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[tv0-9=,a-f ]{0,120}",
        (any::<i64>(), "[0-9a-f]{0,70}").prop_map(|(t, v)| format!("t={t},v1={v}")),
        (0i64..=now() + 1000).prop_map(|t| format!("t={t},v1={}", "0".repeat(64))),
    ]
}

fn status_of(resp: reqwest::Response) -> u16 {
    resp.status().as_u16()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn a_webhook_with_any_unsigned_or_missigned_body_gets_400_and_stores_nothing(
        header in proptest::option::of(signature_header()),
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2048),
            any::<String>().prop_map(String::into_bytes),
            Just(b"{\"id\":\"evt_1\",\"type\":\"payment_intent.succeeded\"}".to_vec()),
        ],
    ) {
        let (rt, app) = shop();
        let status = rt.block_on(async {
            let mut req = app.http.post(format!("{}/webhooks/stripe", app.base)).body(body);
            if let Some(h) = header {
                req = req.header("stripe-signature", h);
            }
            match req.send().await {
                Ok(resp) => Some(status_of(resp)),
                // A header value reqwest itself refuses to send never reaches the server, so the
                // case says nothing about it.
                Err(e) if e.is_builder() => None,
                Err(e) => panic!("the server did not answer: {e}"),
            }
        });
        prop_assume!(status.is_some());
        prop_assert_eq!(status, Some(400));
        let stored = rt.block_on(app.count("select count(*) from stripe_event"));
        prop_assert_eq!(stored, 0);
    }

    #[test]
    fn a_real_event_with_a_changed_byte_or_another_secret_or_an_old_timestamp_is_refused(
        flip in any::<proptest::sample::Index>(),
        bit in 0u8..8,
        how in 0u8..3,
    ) {
        let (rt, app) = shop();
        let payload = real_event().clone();
        let (body, header) = match how {
            0 => {
                let mut bytes = payload.clone().into_bytes();
                let i = flip.index(bytes.len());
                bytes[i] ^= 1 << bit;
                (bytes, sign(&payload, WEBHOOK_SECRET, now()))
            }
            1 => (payload.clone().into_bytes(), sign(&payload, "whsec_another_shop", now())),
            _ => (payload.clone().into_bytes(), sign(&payload, WEBHOOK_SECRET, now() - 301 - i64::from(bit) * 3600)),
        };
        let status = rt.block_on(async {
            let resp = app.http.post(format!("{}/webhooks/stripe", app.base))
                .header("stripe-signature", header)
                .body(body)
                .send()
                .await
                .unwrap();
            status_of(resp)
        });
        prop_assert_eq!(status, 400);
        let stored = rt.block_on(app.count("select count(*) from stripe_event"));
        prop_assert_eq!(stored, 0);
    }

    #[test]
    fn any_arguments_to_any_server_function_get_a_2xx_or_a_4xx_and_a_4xx_changes_nothing(
        function in prop_oneof![
            Just("start_checkout"), Just("set_checkout_email"), Just("get_order"),
            Just("get_product"), Just("list_products"), Just("sign_up"), Just("sign_in"),
            Just("sign_out"), Just("verify_email"), Just("request_password_reset"),
            Just("reset_password"), Just("resend_verification"), Just("my_orders"), Just("my_library"), Just("owned_file"),
            Just("current_account"), Just("add_to_library"), Just("unlock_with_credits"),
            Just("my_receipt"), Just("request_refund"),
        ],
        fields in proptest::collection::vec(
            (
                prop_oneof![Just("slug".to_string()), Just("order_id".to_string()), Just("email".to_string()),
                            Just("id".to_string()), Just("password".to_string()), Just("token".to_string()),
                            Just("key".to_string()), Just("amount_minor".to_string()),
                            "[a-z_\\[\\]]{0,12}"],
                prop_oneof![any::<String>(), "[a-z0-9-]{0,80}", "ord_[a-z0-9]{0,30}", ".{0,5000}"],
            ),
            0..4,
        ),
        raw in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..512)),
        content_type in prop_oneof![
            Just("application/x-www-form-urlencoded"), Just("application/json"),
            Just("text/plain"), Just("multipart/form-data"),
        ],
    ) {
        let (rt, app) = shop();
        let rows = || rt.block_on(app.count(
            "select (select count(*) from customer_order)
                  + (select count(*) from customer_order where email is not null)
                  + (select count(*) from stripe_event) + (select count(*) from entitlement)
                  + (select count(*) from app_user) + (select count(*) from user_token)
                  + (select count(*) from outbound_email) + (select count(*) from credit_entry)
                  + (select count(*) from refund_request)",
        ));
        let before = rows();
        let status = rt.block_on(async {
            let req = app.http.post(format!("{}/api/{function}", app.base));
            let req = match raw {
                Some(bytes) => req.header("content-type", content_type).body(bytes),
                None => req.form(&fields),
            };
            status_of(req.send().await.unwrap())
        });
        // Well-formed calls (a real slug, say) may succeed; everything else is the caller's error.
        prop_assert!(
            (200..300).contains(&status) || (400..500).contains(&status),
            "{function} answered {status}"
        );
        if (400..500).contains(&status) {
            prop_assert_eq!(rows(), before, "{} answered {} but changed rows", function, status);
        }
    }
}

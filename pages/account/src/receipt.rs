//! `/account/orders/:id`: the receipt of one of the signed-in shopper's orders, laid out to
//! print, and "Request a refund" while the refund window is open. An order that is not theirs
//! is "not found", whether or not it exists.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use app::api::my_receipt;
use app::domain::{OrderStatus, group_thousands};
use app::error::ShopError;
use app::models::{Receipt, RefundOffer};

use page_parts::{ErrorList, FormError, PageTitle};

#[component]
pub fn ReceiptPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let receipt = Resource::new(id, my_receipt);
    view! {
        <PageTitle text="Receipt"/>
        <Suspense fallback=|| view! { <p>"Loading your receipt…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    match receipt.await {
                        Err(ShopError::SignInRequired) => Ok(view! {
                            <section class="panel">
                                <h1>"Receipt"</h1>
                                <p>"Please " <a href="/sign-in">"sign in"</a> " to see your receipts."</p>
                            </section>
                        }.into_any()),
                        Err(e) => Err(e),
                        Ok(receipt) => Ok(view! { <ReceiptView receipt/> }.into_any()),
                    }
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn ReceiptView(receipt: Receipt) -> impl IntoView {
    let refunded = receipt.refunded;
    let status = match (receipt.status, refunded) {
        (OrderStatus::PartiallyRefunded, Some(r)) => {
            format!("{} ({r} refunded)", receipt.status.label())
        }
        _ => receipt.status.label().to_string(),
    };
    view! {
        <section class="receipt">
            <h1>"Receipt"</h1>
            <p class="shop">"storefront"</p>
            <dl>
                <dt>"Order"</dt><dd class="order-id">{receipt.id.to_string()}</dd>
                <dt>"Date"</dt><dd>{receipt.paid_at.clone().unwrap_or_else(|| "Not paid".into())}</dd>
                {receipt.email.clone().map(|email| view! { <dt>"Billed to"</dt><dd>{email}</dd> })}
                <dt>"Item"</dt>
                <dd>
                    <a href=format!("/products/{}", receipt.product_slug)>{receipt.product_title.clone()}</a>
                    " · " {receipt.kind.label()}
                    {receipt.pack_credits.map(|n| format!(" · {} credits", group_thousands(n)))}
                </dd>
                <dt>"Amount"</dt><dd class="amount">{receipt.amount.to_string()}</dd>
                {refunded.map(|r| view! { <dt>"Refunded"</dt><dd class="refunded">{r.to_string()}</dd> })}
                <dt>"Status"</dt><dd class="status">{status}</dd>
            </dl>
            <p class="print-hint">"Print this page, or save it as a PDF, for your records."</p>
            <RefundPanel receipt/>
            <p class="back"><a href="/account">"Back to your orders"</a></p>
        </section>
    }
}

#[component]
fn RefundPanel(receipt: Receipt) -> impl IntoView {
    let just = use_query_map().read_untracked().get("refund");
    let note = match just.as_deref() {
        Some("done") => Some(
            "Refunded. The money is on its way back to your card; banks take 5 to 10 days to show it.",
        ),
        Some("pending") => Some("Your refund request is saved and will go through shortly."),
        _ => None,
    };
    let body = match receipt.refund {
        RefundOffer::None => None,
        RefundOffer::InProgress => {
            Some(view! { <p role="status">"Your refund is on its way."</p> }.into_any())
        }
        RefundOffer::Unavailable(why) => Some(view! { <p>{why}</p> }.into_any()),
        RefundOffer::Available {
            amount,
            credits_back,
            credits_used,
            until,
        } => {
            let explain = match (credits_back, credits_used, receipt.pack_credits) {
                (Some(back), Some(used), Some(size)) if used > 0 => format!(
                    "You have used {} of this pack's {} credits. A refund returns {amount} for the {} unused credits, which leave your balance.",
                    group_thousands(used),
                    group_thousands(size),
                    group_thousands(back)
                ),
                (Some(back), _, _) => format!(
                    "A refund returns {amount}, and the pack's {} credits leave your balance.",
                    group_thousands(back)
                ),
                _ => format!("A refund returns {amount}, and this product leaves your library."),
            };
            Some(view! {
                <p>{explain}</p>
                <p class="until">{format!("You can ask for it until {until}.")}</p>
                <form method="post" action="/api/request_refund" class="refund" aria-label="Request a refund">
                    <input type="hidden" name="order_id" value=receipt.id.to_string()/>
                    <input type="hidden" name="amount_minor" value=amount.minor().to_string()/>
                    <FormError function="/api/request_refund"/>
                    <button type="submit">{format!("Request a refund of {amount}")}</button>
                </form>
            }.into_any())
        }
    };
    view! {
        {note.map(|n| view! { <p class="note" role="status">{n}</p> })}
        {body.map(|body| view! { <div class="refund-panel"><h2>"Refund"</h2>{body}</div> })}
    }
}

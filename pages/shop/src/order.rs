//! `/orders/:id`: what was bought and whether it is paid.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use app::api::get_order;
use app::islands::LiveOrder;

use page_parts::ErrorList;

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let order = Resource::new(id, get_order);
    view! {
        <Title text="Your order"/>
        <Suspense fallback=|| view! { <p>"Loading your order…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    order.await.map(|o| view! { <LiveOrder order=o/> })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

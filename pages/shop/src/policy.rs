//! `/terms`, `/refund-policy`, `/privacy`: the seller's policies, linked from every page's
//! footer.

use leptos::prelude::*;

use app::api::get_policy;
use app::models::Policy;

use page_parts::{ErrorList, PageMeta, PageTitle};

#[component]
pub fn PolicyPage(policy: Policy) -> impl IntoView {
    let text = Resource::new(move || policy, get_policy);
    view! {
        <PageTitle text=policy.title()/>
        <PageMeta
            title=policy.title()
            description=policy.description()
            path=format!("/{}", policy.slug())
        />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    // Rendered from the seller's Markdown and sanitised on the server.
                    // The page's heading is the seller's own first `# …`, or else the policy's name.
                    text.await.map(|html| {
                        let heading = (!html.trim_start().starts_with("<h1>")).then(|| policy.title());
                        view! {
                            <article class="prose policy">
                                {heading.map(|h| view! { <h1>{h}</h1> })}
                                <div inner_html=html></div>
                            </article>
                        }
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

//! The admin: `/admin` (sales, and what needs a person), `/admin/orders` (search and filter),
//! `/admin/orders/:id` (one order, with its refund form) and `/admin/events` (the webhook
//! inbox, with "retry"). Server HTML and plain forms, like the account pages: nothing here adds
//! to the wasm bundle. Every read goes through a server function that checks the admin first;
//! a guest is asked to sign in and anyone else is refused. The pages are handed to the routes
//! as `AnyView`s, like the shop's pages (see `shop-pages`).

// Erasing a page's view needs its type's layout, deeper than rustc's default limit of 128.
#![recursion_limit = "256"]

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use app::api::{
    admin_events, admin_order, admin_orders, admin_overview, admin_product, admin_products,
};
use app::domain::{Currency, OrderStatus, ProductKind};
use app::error::ShopError;
use app::models::{AdminEvent, AdminOrderLine, EditableProduct, OrderRecord, Sales};

use page_parts::{ErrorList, FormError, PageTitle};

/// `/admin`
pub fn home() -> AnyView {
    view! { <AdminHomePage/> }.into_any()
}

/// `/admin/orders`
pub fn orders() -> AnyView {
    view! { <AdminOrdersPage/> }.into_any()
}

/// `/admin/orders/:id`
pub fn order() -> AnyView {
    view! { <AdminOrderPage/> }.into_any()
}

/// `/admin/events`
pub fn events() -> AnyView {
    view! { <AdminEventsPage/> }.into_any()
}

/// `/admin/products`
pub fn products() -> AnyView {
    view! { <AdminProductsPage/> }.into_any()
}

/// `/admin/products/new`
pub fn new_product() -> AnyView {
    view! { <AdminNewProductPage/> }.into_any()
}

/// `/admin/products/:slug`
pub fn product() -> AnyView {
    view! { <AdminProductPage/> }.into_any()
}

/// The admin's own navigation, above each of its pages.
#[component]
fn AdminNav() -> impl IntoView {
    view! {
        <nav class="admin-nav" aria-label="Admin">
            <a href="/admin">"Overview"</a>
            <a href="/admin/products">"Products"</a>
            <a href="/admin/orders">"Orders"</a>
            <a href="/admin/events">"Events"</a>
        </nav>
    }
}

/// What a refusal looks like on an admin page: sign in, or not for you. Other errors go to the
/// page's error boundary.
fn refusal(error: ShopError) -> Result<AnyView, ShopError> {
    match error {
        ShopError::SignInRequired => Ok(view! {
            <section class="panel">
                <h1>"Admin"</h1>
                <p>"Please " <a href="/sign-in">"sign in"</a> " with a staff account."</p>
            </section>
        }
        .into_any()),
        ShopError::Forbidden => Ok(view! {
            <section class="panel">
                <h1>"Admin"</h1>
                <p>"This page is for the shop's staff."</p>
                <p><a href="/">"Back to the shop"</a></p>
            </section>
        }
        .into_any()),
        other => Err(other),
    }
}

/// An admin page: its title, then what `data` read, shown by `show` under the admin's
/// navigation, or the refusal for someone who is not an admin.
fn admin_page<T, V>(
    title: &'static str,
    data: Resource<Result<T, ShopError>>,
    show: impl Fn(T) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    view! {
        <PageTitle text=title/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || {
                    let show = show.clone();
                    Suspend::new(async move {
                        match data.await {
                            Ok(found) => Ok(view! { <AdminNav/>{show(found)} }.into_any()),
                            Err(e) => refusal(e),
                        }
                    })
                }}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn AdminHomePage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| admin_overview());
    view! {
        <PageTitle text="Admin"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    let overview = match overview.await {
                        Ok(o) => o,
                        Err(e) => return refusal(e),
                    };
                    Ok(view! {
                        <AdminNav/>
                        <section class="admin">
                            <h1>"Overview"</h1>
                            <ul class="attention">
                                <li>
                                    <a href="/admin/events?unhandled=true">
                                        {format!("{} events not handled", overview.unhandled_events)}
                                    </a>
                                </li>
                                <li>
                                    <a href="/admin/orders?status=needs_review">
                                        {format!("{} payments to review", overview.orders_to_review)}
                                    </a>
                                </li>
                                <li>{format!("{} refunds on their way", overview.refunds_pending)}</li>
                            </ul>
                            <h2>"Sales"</h2>
                            <p class="aside">
                                "By day of payment (UTC), less what has since been refunded."
                            </p>
                            {if overview.sales.is_empty() {
                                view! { <p>"No sales in the last 30 days."</p> }.into_any()
                            } else {
                                overview.sales.into_iter().map(|s| view! { <SalesPanel sales=s/> }).collect_view().into_any()
                            }}
                        </section>
                    }
                    .into_any())
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn SalesPanel(sales: Sales) -> impl IntoView {
    let c = sales.currency;
    view! {
        <div class="sales" data-currency=c.code()>
            <h3>{c.code().to_uppercase()}</h3>
            <dl class="figures">
                <dt>"Today"</dt><dd class="today">{c.format(sales.today)}</dd>
                <dt>"7 days"</dt><dd class="week">{c.format(sales.last_7_days)}</dd>
                <dt>"30 days"</dt><dd class="month">{c.format(sales.last_30_days)}</dd>
            </dl>
            <SalesChart sales/>
        </div>
    }
}

/// The last 30 days as bars, drawn on the server as SVG: no charting code in the browser. Days
/// whose refunds outweigh their sales go below the line.
#[component]
fn SalesChart(sales: Sales) -> impl IntoView {
    const WIDTH: f64 = 300.0;
    const HEIGHT: f64 = 80.0;
    let top = sales.daily.iter().copied().max().unwrap_or(0).max(0);
    let bottom = sales.daily.iter().copied().min().unwrap_or(0).min(0);
    let span = (top - bottom).max(1) as f64;
    let zero = HEIGHT * top as f64 / span;
    let step = WIDTH / sales.daily.len().max(1) as f64;
    let c = sales.currency;
    let label = format!(
        "Daily sales in {} for the 30 days from {}: {} in all",
        c.code().to_uppercase(),
        sales.first_day,
        c.format(sales.last_30_days)
    );
    let bars = sales
        .daily
        .iter()
        .enumerate()
        .map(|(i, &net)| {
            let h = HEIGHT * net.unsigned_abs() as f64 / span;
            let y = if net >= 0 { zero - h } else { zero };
            view! {
                <rect
                    x=format!("{:.1}", i as f64 * step + 1.0)
                    y=format!("{y:.1}")
                    width=format!("{:.1}", (step - 2.0).max(1.0))
                    height=format!("{h:.1}")
                    class={if net >= 0 { "up" } else { "down" }}
                >
                    <title>{c.format(net)}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <svg class="chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=label>
            {bars}
            <line x1="0" x2=WIDTH.to_string() y1=format!("{zero:.1}") y2=format!("{zero:.1}") class="axis"/>
        </svg>
    }
}

#[component]
fn AdminOrdersPage() -> impl IntoView {
    let query = use_query_map();
    let q = move |k: &str| query.read().get(k);
    let orders = Resource::new(
        move || {
            (
                q("status"),
                q("from"),
                q("to"),
                q("email"),
                q("product"),
                q("page").and_then(|p| p.parse::<u32>().ok()),
            )
        },
        |(status, from, to, email, product, page)| {
            admin_orders(status, from, to, email, product, page)
        },
    );
    view! {
        <PageTitle text="Orders · Admin"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    let found = match orders.await {
                        Ok(o) => o,
                        Err(e @ (ShopError::SignInRequired | ShopError::Forbidden)) => return refusal(e),
                        // A filter that does not read: the form, with what is wrong.
                        Err(ShopError::Invalid(why)) => return Ok(view! {
                            <AdminNav/>
                            <section class="admin">
                                <h1>"Orders"</h1>
                                <OrderFilterForm products=Vec::new()/>
                                <p class="form-error" role="alert">{why}</p>
                            </section>
                        }.into_any()),
                        Err(e) => return Err(e),
                    };
                    let page = q("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1).max(1);
                    let link = move |page: u32| {
                        let mut parts: Vec<String> = ["status", "from", "to", "email", "product"]
                            .iter()
                            .filter_map(|k| q(k).filter(|v| !v.is_empty()).map(|v| format!("{k}={}", urlencode(&v))))
                            .collect();
                        parts.push(format!("page={page}"));
                        format!("/admin/orders?{}", parts.join("&"))
                    };
                    Ok(view! {
                        <AdminNav/>
                        <section class="admin">
                            <h1>"Orders"</h1>
                            <OrderFilterForm products=found.products.clone()/>
                            {if found.orders.is_empty() {
                                view! { <p class="empty">"No orders match."</p> }.into_any()
                            } else {
                                view! { <OrderTable orders=found.orders.clone()/> }.into_any()
                            }}
                            {pager(page, found.more, link)}
                        </section>
                    }
                    .into_any())
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

/// Links to the newer and older pages of a list, newest first.
fn pager(page: u32, more: bool, link: impl Fn(u32) -> String) -> impl IntoView {
    view! {
        <nav class="pages" aria-label="Pages">
            {(page > 1).then(|| view! { <a href=link(page - 1) rel="prev">"Newer"</a> })}
            {more.then(|| view! { <a href=link(page + 1) rel="next">"Older"</a> })}
        </nav>
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The filter, as a GET form to the list itself: a filtered list is a link one can share.
#[component]
fn OrderFilterForm(products: Vec<(String, String)>) -> impl IntoView {
    let query = use_query_map();
    let value = move |k: &str| query.read_untracked().get(k).unwrap_or_default();
    let status = value("status");
    let product = value("product");
    view! {
        <form method="get" action="/admin/orders" class="filter" aria-label="Filter orders">
            <label for="f-status">"Status"</label>
            <select id="f-status" name="status">
                <option value="">"Any"</option>
                {OrderStatus::ALL.into_iter().map(|s| view! {
                    <option value=s.code() selected=status == s.code()>{s.label()}</option>
                }).collect_view()}
            </select>
            <label for="f-from">"From"</label>
            <input id="f-from" name="from" type="date" value=value("from")/>
            <label for="f-to">"To"</label>
            <input id="f-to" name="to" type="date" value=value("to")/>
            <label for="f-email">"Email"</label>
            <input id="f-email" name="email" type="search" value=value("email")/>
            <label for="f-product">"Product"</label>
            <select id="f-product" name="product">
                <option value="">"Any"</option>
                {products.into_iter().map(|(slug, title)| {
                    let selected = product == slug;
                    view! { <option value=slug selected=selected>{title}</option> }
                }).collect_view()}
            </select>
            <button type="submit">"Filter"</button>
        </form>
    }
}

#[component]
fn OrderTable(orders: Vec<AdminOrderLine>) -> impl IntoView {
    view! {
        <table class="orders">
            <thead>
                <tr><th>"Order"</th><th>"Made (UTC)"</th><th>"Email"</th><th>"Product"</th><th>"Amount"</th><th>"Status"</th></tr>
            </thead>
            <tbody>
                {orders.into_iter().map(|o| view! {
                    <tr>
                        <td><a href=format!("/admin/orders/{}", o.id)>{o.id.to_string()}</a></td>
                        <td>{o.created}</td>
                        <td>{o.email.unwrap_or_default()}</td>
                        <td>{o.product_title}</td>
                        <td>{o.amount.to_string()}</td>
                        <td class="status">
                            {o.status.label()}
                            {o.refunded.map(|r| format!(" ({r} refunded)"))}
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn AdminOrderPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    admin_page(
        "Order · Admin",
        Resource::new(id, admin_order),
        |order| view! { <OrderDetail order/> },
    )
}

#[component]
fn OrderDetail(order: OrderRecord) -> impl IntoView {
    let line = order.line.clone();
    view! {
        <section class="admin order-detail">
            <h1>{format!("Order {}", line.id)}</h1>
            <dl>
                <dt>"Made"</dt><dd>{line.created.clone()} " UTC"</dd>
                <dt>"Paid"</dt><dd>{order.paid_at.clone().map(|p| format!("{p} UTC")).unwrap_or_else(|| "Not paid".into())}</dd>
                <dt>"Product"</dt>
                <dd><a href=format!("/products/{}", order.product_slug)>{line.product_title.clone()}</a> " · " {order.kind.label()}</dd>
                <dt>"Email"</dt><dd>{line.email.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Account"</dt><dd>{order.account.clone().unwrap_or_else(|| "Guest".into())}</dd>
                <dt>"Amount"</dt><dd class="amount">{line.amount.to_string()}</dd>
                <dt>"Refunded"</dt><dd class="refunded">{line.refunded.map(|r| r.to_string()).unwrap_or_else(|| "Nothing".into())}</dd>
                <dt>"Status"</dt><dd class="status">{line.status.label()}</dd>
                {order.dispute.map(|d| view! { <dt>"Dispute"</dt><dd>{format!("{d:?}")}</dd> })}
                {order.failure_message.clone().map(|m| view! { <dt>"Last failure"</dt><dd>{m}</dd> })}
                <dt>"PaymentIntent"</dt><dd><code>{order.payment_intent_id.clone().unwrap_or_else(|| "—".into())}</code></dd>
            </dl>
            <RefundForm order=order.clone()/>
            <h2>"Grants"</h2>
            {if order.grants.is_empty() {
                view! { <p>"Nothing granted."</p> }.into_any()
            } else {
                view! {
                    <ul class="grants">
                        {order.grants.iter().map(|g| view! {
                            <li>
                                {format!("Since {} UTC", g.since)}
                                {g.revoked.clone().map(|r| format!(" · revoked {r} UTC"))}
                                {g.suspended.then_some(" · suspended while disputed")}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <h2>"Refunds"</h2>
            {if order.refunds.is_empty() {
                view! { <p>"None asked for here."</p> }.into_any()
            } else {
                view! {
                    <table class="refunds">
                        <thead><tr><th>"Asked (UTC)"</th><th>"Amount"</th><th>"By"</th><th>"Status"</th></tr></thead>
                        <tbody>
                            {order.refunds.iter().map(|r| view! {
                                <tr>
                                    <td>{r.requested.clone()}</td>
                                    <td>{r.amount.to_string()}</td>
                                    <td>{r.by.clone()}</td>
                                    <td>{r.status.clone()}{r.error.clone().map(|e| format!(": {e}"))}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <h2>"Events"</h2>
            {if order.events.is_empty() {
                view! { <p>"No events from Stripe about this payment."</p> }.into_any()
            } else {
                view! { <EventTable events=order.events.clone()/> }.into_any()
            }}
        </section>
    }
}

#[component]
fn RefundForm(order: OrderRecord) -> impl IntoView {
    let done = use_query_map().read_untracked().get("refund");
    let note = match done.as_deref() {
        Some("done") => Some("Refunded."),
        Some("pending") => Some("The refund is saved and will go through shortly."),
        _ => None,
    };
    let body = match (order.refundable, order.not_refundable) {
        (Some(left), _) => view! {
            <form method="post" action="/api/admin_refund" class="refund" aria-label="Refund">
                <input type="hidden" name="order_id" value=order.line.id.to_string()/>
                <input type="hidden" name="key" value=order.form_key/>
                <label for="refund-amount">{format!("Amount ({} left to refund)", left)}</label>
                <input id="refund-amount" name="amount" inputmode="decimal" required
                    value=left.currency().plain(left.minor())/>
                <label class="check">
                    <input type="checkbox" name="revoke"/>
                    " Also remove it from the buyer's library (a full refund always does)"
                </label>
                <FormError function="/api/admin_refund"/>
                <button type="submit">"Refund"</button>
            </form>
        }
        .into_any(),
        (None, why) => view! { <p>{why.unwrap_or_default()}</p> }.into_any(),
    };
    view! {
        <h2>"Refund"</h2>
        {note.map(|n| view! { <p class="note" role="status">{n}</p> })}
        {body}
    }
}

#[component]
fn EventTable(events: Vec<AdminEvent>) -> impl IntoView {
    view! {
        <table class="events">
            <thead>
                <tr><th>"Event"</th><th>"Type"</th><th>"Received (UTC)"</th><th>"Handled"</th><th>"Error"</th><th></th></tr>
            </thead>
            <tbody>
                {events.into_iter().map(|e| {
                    let row = if e.handled.is_some() { "handled" } else { "unhandled" };
                    view! {
                    <tr class=row>
                        <td><code>{e.id.clone()}</code>{e.from_list.then_some(" (found by reconciliation)")}</td>
                        <td>{e.type_}</td>
                        <td>{e.received}</td>
                        <td>{e.handled.unwrap_or_else(|| format!("Not yet ({} attempts)", e.attempts))}</td>
                        <td>{e.error.unwrap_or_default()}</td>
                        <td>
                            {e.retryable.then(|| view! {
                                <form method="post" action="/api/admin_retry_event">
                                    <input type="hidden" name="event_id" value=e.id.clone()/>
                                    <button type="submit">"Retry"</button>
                                </form>
                            })}
                        </td>
                    </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn AdminEventsPage() -> impl IntoView {
    let query = use_query_map();
    let unhandled = move || query.read().get("unhandled").as_deref() == Some("true");
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    };
    let events = Resource::new(
        move || (unhandled(), page()),
        |(unhandled, page)| admin_events(Some(unhandled), Some(page)),
    );
    let retried = query.read_untracked().get("retried");
    let note = match retried.as_deref() {
        Some("settled") => Some("The event was handled."),
        Some("already") => Some("The event had been handled already."),
        Some("failed") => Some("The event still cannot be handled; its error is below."),
        _ => None,
    };
    view! {
        <PageTitle text="Events · Admin"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    let found = match events.await {
                        Ok(e) => e,
                        Err(e) => return refusal(e),
                    };
                    let (unhandled, page) = (unhandled(), page());
                    let link = move |page: u32| {
                        format!("/admin/events?unhandled={unhandled}&page={page}")
                    };
                    Ok(view! {
                        <AdminNav/>
                        <section class="admin">
                            <h1>"Events"</h1>
                            <p class="aside">
                                "Every event from Stripe: delivered to the webhook, or found in Stripe's events list when its delivery never came."
                            </p>
                            {note.map(|n| view! { <p class="note" role="status">{n}</p> })}
                            <FormError function="/api/admin_retry_event"/>
                            <p>
                                {if unhandled {
                                    view! { <a href="/admin/events">"Show all events"</a> }.into_any()
                                } else {
                                    view! { <a href="/admin/events?unhandled=true">"Show only those not handled"</a> }.into_any()
                                }}
                            </p>
                            {if found.events.is_empty() {
                                view! { <p class="empty">"No events."</p> }.into_any()
                            } else {
                                view! { <EventTable events=found.events.clone()/> }.into_any()
                            }}
                            {pager(page, found.more, link)}
                        </section>
                    }
                    .into_any())
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn AdminProductsPage() -> impl IntoView {
    let archived = use_query_map().read_untracked().get("archived").is_some();
    admin_page(
        "Products · Admin",
        Resource::new(|| (), |_| admin_products()),
        move |products| {
            view! {
                <section class="admin">
                    <h1>"Products"</h1>
                    {archived.then(|| view! { <p class="note" role="status">"Archived."</p> })}
                    <p><a href="/admin/products/new" class="button">"New product"</a></p>
                    <table class="products">
                        <thead>
                            <tr><th>"Product"</th><th>"Kind"</th><th>"Price"</th><th>"In the shop"</th><th>"Stripe"</th></tr>
                        </thead>
                        <tbody>
                            {products.into_iter().map(|p| view! {
                                <tr>
                                    <td><a href=format!("/admin/products/{}", p.slug)>{p.title}</a></td>
                                    <td>{p.kind.label()}</td>
                                    <td>{p.price}</td>
                                    <td>{if p.published { "Published" } else { "Not published" }}</td>
                                    <td>{p.stripe}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </section>
            }
        },
    )
}

#[component]
fn AdminNewProductPage() -> impl IntoView {
    // The product list's call checks who is asking; a new product's form needs nothing else.
    admin_page(
        "New product · Admin",
        Resource::new(|| (), |_| admin_products()),
        |_| {
            view! {
                <section class="admin">
                    <h1>"New product"</h1>
                    <ProductFormView product=None/>
                </section>
            }
        },
    )
}

#[component]
fn AdminProductPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    admin_page(
        "Product · Admin",
        Resource::new(slug, admin_product),
        |product| view! { <ProductEditor product/> },
    )
}

/// What an upload came to, from the word the upload route sent back.
fn upload_note(outcome: Option<&str>) -> Option<(bool, &'static str)> {
    Some(match outcome? {
        "file" => (true, "The file is uploaded."),
        "preview" => (true, "The preview is uploaded."),
        "too_large" => (false, "That file is larger than the shop takes."),
        "empty" => (false, "Please choose a file to upload."),
        "unknown_type" => (
            false,
            "Upload a PDF, ZIP, EPUB, audio, video or image file.",
        ),
        "mismatch" => (
            false,
            "That file's content is not what its name says (a .pdf must be a PDF).",
        ),
        "not_an_image" => (false, "That file is not an image the shop can read."),
        "failed" => (false, "The upload did not finish. Please try again."),
        _ => return None,
    })
}

#[component]
fn ProductEditor(product: EditableProduct) -> impl IntoView {
    let query = use_query_map();
    let saved = query.read_untracked().get("saved").is_some();
    let upload = upload_note(query.read_untracked().get("upload").as_deref());
    let slug = product.slug.clone();
    let (state_label, next) = if product.published {
        ("Published: in the shop.", "unpublished")
    } else {
        ("Not published: only staff can see it here.", "published")
    };
    view! {
        <section class="admin product-editor">
            <h1>{product.title.clone()}</h1>
            {saved.then(|| view! { <p class="note" role="status">"Saved."</p> })}
            {upload.map(|(ok, text)| view! {
                <p class={if ok { "note" } else { "form-error" }} role={if ok { "status" } else { "alert" }}>{text}</p>
            })}
            <p class="state">{state_label} " " <a href=format!("/products/{slug}")>"View in the shop"</a></p>
            <form method="post" action="/api/admin_product_state" class="inline" aria-label="Publishing">
                <input type="hidden" name="slug" value=slug.clone()/>
                <input type="hidden" name="state" value=next/>
                <button type="submit">{if product.published { "Unpublish" } else { "Publish" }}</button>
            </form>
            {(!product.published).then(|| view! {
                <form method="post" action="/api/admin_product_state" class="inline" aria-label="Archive">
                    <input type="hidden" name="slug" value=slug.clone()/>
                    <input type="hidden" name="state" value="archived"/>
                    <button type="submit" class="secondary">"Archive"</button>
                </form>
            })}
            <FormError function="/api/admin_product_state"/>

            <h2>"Details"</h2>
            <ProductFormView product=Some(product.clone())/>

            <h2>"File"</h2>
            <p class="file">{product.file.clone().unwrap_or_else(|| "No file yet.".into())}</p>
            <form method="post" action=format!("/admin/products/{slug}/file") enctype="multipart/form-data" aria-label="Upload the file">
                <label for="file">"File buyers download (PDF, ZIP, EPUB, audio, video or image)"</label>
                <input id="file" name="file" type="file" required/>
                <button type="submit">"Upload file"</button>
            </form>

            <h2>"Preview"</h2>
            {product.preview.clone().map(|src| view! { <img class="preview" src=src alt="The current preview" width="300"/> })}
            <form method="post" action=format!("/admin/products/{slug}/preview") enctype="multipart/form-data" aria-label="Upload a preview">
                <label for="preview">"Preview image (resized to at most 1200 pixels a side)"</label>
                <input id="preview" name="preview" type="file" accept="image/*" required/>
                <button type="submit">"Upload preview"</button>
            </form>

            <h2>"Stripe"</h2>
            <p class="stripe">{product.stripe.clone()}
                {product.stripe_product_id.clone().map(|id| view! { " · " <code>{id}</code> })}
            </p>
            <form method="post" action="/api/admin_sync_product" aria-label="Sync with Stripe">
                <input type="hidden" name="slug" value=slug.clone()/>
                <button type="submit" class="secondary">"Sync now"</button>
            </form>
        </section>
    }
}

/// How the product form names a kind (`ProductForm::check` reads it back).
fn kind_code(kind: ProductKind) -> &'static str {
    match kind {
        ProductKind::Download => "download",
        ProductKind::Credits => "credits",
        ProductKind::Membership => "membership",
    }
}

/// The details form, empty for a new product. Prices are typed as the currency writes them
/// (`12.50`; `1500` for yen).
#[component]
fn ProductFormView(product: Option<EditableProduct>) -> impl IntoView {
    let p = product.clone();
    let kind = p.as_ref().map_or(ProductKind::Download, |p| p.kind);
    let currency = p.as_ref().map_or(Currency::Usd, |p| p.currency);
    let sold = p.as_ref().is_some_and(|p| p.sold);
    let value = |f: fn(&EditableProduct) -> String| p.as_ref().map(f).unwrap_or_default();
    view! {
        <form method="post" action="/api/admin_save_product" class="form product-form" aria-label="Product details">
            {p.as_ref().map(|p| view! {
                <input type="hidden" name="id" value=p.id.to_string()/>
                <input type="hidden" name="version" value=p.version.to_string()/>
            })}
            <label for="title">"Title"</label>
            <input id="title" name="title" required maxlength="120" value=value(|p| p.title.clone())/>
            <label for="slug">"Address (/products/…)"</label>
            <input id="slug" name="slug" required pattern="[a-z0-9]+(-[a-z0-9]+)*" value=value(|p| p.slug.clone())/>
            <label for="description">"Description (Markdown)"</label>
            <textarea id="description" name="description" rows="8">{value(|p| p.description.clone())}</textarea>
            // Once it has orders, what it is and its currency stay as they were sold (the save
            // refuses a change): the form says so and sends them as they are.
            {if sold {
                view! {
                    <p class="hint" id="kind-and-currency">
                        "What it is: " {kind.label()} ". Currency: " {currency.code().to_uppercase()}
                        ". Both are fixed once a product has orders."
                    </p>
                    <input type="hidden" name="kind" value=kind_code(kind)/>
                    <input type="hidden" name="currency" value=currency.code()/>
                }
                .into_any()
            } else {
                view! {
                    <label for="kind">"What it is"</label>
                    <select id="kind" name="kind">
                        {[ProductKind::Download, ProductKind::Credits, ProductKind::Membership]
                            .into_iter()
                            .map(|k| view! { <option value=kind_code(k) selected=k == kind>{k.label()}</option> })
                            .collect_view()}
                    </select>
                }
                .into_any()
            }}
            <label for="price">"Price (0 for free)"</label>
            <input id="price" name="price" required inputmode="decimal" value=value(|p| p.price.clone())/>
            {(!sold).then(|| view! {
                <label for="currency">"Currency"</label>
                <select id="currency" name="currency">
                    {Currency::ALL.into_iter().map(|c| view! {
                        <option value=c.code() selected=c == currency>{c.code().to_uppercase()}</option>
                    }).collect_view()}
                </select>
            })}
            <label for="credits">"Credits a pack adds (credit packs only)"</label>
            <input id="credits" name="credits" inputmode="numeric" value=value(|p| p.credits.map(|c| c.to_string()).unwrap_or_default())/>
            <label for="price_credits">"Price in credits (optional; not for packs or free products)"</label>
            <input id="price_credits" name="price_credits" inputmode="numeric" value=value(|p| p.price_credits.map(|c| c.to_string()).unwrap_or_default())/>
            <label for="membership_days">"Membership length in days, as its page states it (memberships only; the shop does not end a membership)"</label>
            <input id="membership_days" name="membership_days" inputmode="numeric" value=value(|p| p.membership_days.map(|d| d.to_string()).unwrap_or_default())/>
            <FormError function="/api/admin_save_product"/>
            <button type="submit">{if p.is_some() { "Save" } else { "Create product" }}</button>
        </form>
    }
}

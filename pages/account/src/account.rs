//! The account pages: sign-up, sign-in, verifying an email, a forgotten password, and
//! `/account` with the shopper's orders. The forms are plain HTML posting to the server
//! functions, so they work without JavaScript and add nothing to the wasm bundle: on success a
//! function redirects (to `/account`, or back with `?sent=1`); on failure Leptos sends the
//! browser back to the form with the error in the URL (`__path`, `__err`), and the page shows
//! it (see `page_parts::FormError`).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use app::api::{current_account, my_library, my_orders};
use app::error::ShopError;
use app::models::{LibraryItem, OrderLine};

use page_parts::{ErrorList, FormError, PageTitle};

/// Whether the page was reached after its form succeeded (`?sent=1`).
fn sent() -> bool {
    use_query_map().read_untracked().get("sent").as_deref() == Some("1")
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let form = move || {
        if sent() {
            return view! {
                <p class="note" role="status">
                    "Check your inbox: we sent a link to finish signing up. It works for 24 hours."
                </p>
            }
            .into_any();
        }
        view! {
            <form method="post" action="/api/sign_up" class="form" aria-label="Create an account">
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="email" required/>
                <label for="password">"Password (at least 10 characters)"</label>
                <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required/>
                <FormError function="/api/sign_up"/>
                <button type="submit">"Create account"</button>
            </form>
        }
        .into_any()
    };
    view! {
        <PageTitle text="Create an account"/>
        <section class="panel">
            <h1>"Create an account"</h1>
            <p>"Your purchases, downloads and receipts in one place."</p>
            {form}
            <p class="aside">"Already have one? " <a href="/sign-in">"Sign in"</a></p>
        </section>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    view! {
        <PageTitle text="Sign in"/>
        <section class="panel">
            <h1>"Sign in"</h1>
            {(use_query_map().read_untracked().get("reset").as_deref() == Some("1")).then(|| view! {
                <p class="note" role="status">"Your password was changed. Please sign in with the new one."</p>
            })}
            <form method="post" action="/api/sign_in" class="form" aria-label="Sign in">
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="email" required/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required/>
                <FormError function="/api/sign_in"/>
                <button type="submit">"Sign in"</button>
            </form>
            <p class="aside">
                <a href="/forgot-password">"Forgot your password?"</a>
                " · "
                <a href="/sign-up">"Create an account"</a>
            </p>
        </section>
    }
}

/// The link's token from the URL, for the form that uses it.
fn token() -> String {
    use_query_map()
        .read_untracked()
        .get("token")
        .unwrap_or_default()
}

/// `/verify-email?token=…`: the link from the mail opens this page, and the button uses it.
/// (A button, not the visit itself: mail scanners open links, and must not use them up.)
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    view! {
        <PageTitle text="Verify your email"/>
        <section class="panel">
            <h1>"Verify your email"</h1>
            <form method="post" action="/api/verify_email" class="form" aria-label="Verify your email">
                <input type="hidden" name="token" value=token()/>
                <p>"Enter the password you chose when signing up, to verify your email and sign in."</p>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required/>
                <FormError function="/api/verify_email"/>
                <button type="submit">"Verify my email"</button>
            </form>
        </section>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let form = move || {
        if sent() {
            return view! {
                <p class="note" role="status">
                    "If that email has an account, a link to choose a new password is on its way. It works for an hour."
                </p>
            }
            .into_any();
        }
        view! {
            <form method="post" action="/api/request_password_reset" class="form" aria-label="Reset your password">
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="email" required/>
                <FormError function="/api/request_password_reset"/>
                <button type="submit">"Send me a link"</button>
            </form>
        }
        .into_any()
    };
    view! {
        <PageTitle text="Forgot your password?"/>
        <section class="panel">
            <h1>"Forgot your password?"</h1>
            {form}
        </section>
    }
}

/// `/reset-password?token=…`, from the mail.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    view! {
        <PageTitle text="Choose a new password"/>
        <section class="panel">
            <h1>"Choose a new password"</h1>
            <form method="post" action="/api/reset_password" class="form" aria-label="Choose a new password">
                <input type="hidden" name="token" value=token()/>
                <label for="password">"New password (at least 10 characters)"</label>
                <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required/>
                <FormError function="/api/reset_password"/>
                <button type="submit">"Save my new password"</button>
            </form>
        </section>
    }
}

/// `/account`: who is signed in, and their orders.
#[component]
pub fn AccountPage() -> impl IntoView {
    let account = Resource::new(|| (), |_| current_account());
    let orders = Resource::new(|| (), |_| my_orders());
    view! {
        <PageTitle text="Your account"/>
        <Suspense fallback=|| view! { <p>"Loading your account…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    let Some(account) = account.await? else {
                        return Ok::<_, ShopError>(view! {
                            <section class="panel">
                                <h1>"Your account"</h1>
                                <p>"Please " <a href="/sign-in">"sign in"</a> " to see your orders."</p>
                            </section>
                        }.into_any());
                    };
                    let orders = orders.await?;
                    Ok(view! {
                        <section class="account">
                            <h1>"Your account"</h1>
                            <p class="who">"Signed in as " <strong>{account.email.clone()}</strong></p>
                            {(!account.verified).then(|| view! { <VerifyReminder/> })}
                            <h2>"Orders"</h2>
                            <OrderHistory orders/>
                            <form method="post" action="/api/sign_out" class="sign-out">
                                <button type="submit">"Sign out"</button>
                            </form>
                        </section>
                    }.into_any())
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn OrderHistory(orders: Vec<OrderLine>) -> impl IntoView {
    if orders.is_empty() {
        return view! { <p>"No orders yet. " <a href="/">"Browse the catalog"</a></p> }.into_any();
    }
    view! {
        <table class="orders">
            <thead>
                <tr><th scope="col">"Date"</th><th scope="col">"Product"</th><th scope="col">"Amount"</th><th scope="col">"Status"</th></tr>
            </thead>
            <tbody>
                {orders.into_iter().map(|o| {
                    let href = format!("/account/orders/{}", o.id);
                    let status = match o.refunded {
                        Some(refunded) if o.status != app::domain::OrderStatus::Refunded => {
                            format!("{} ({refunded} refunded)", o.status.label())
                        }
                        _ => o.status.label().to_string(),
                    };
                    view! {
                        <tr>
                            <td>{o.date}</td>
                            <td><a href=href>{o.product_title}</a></td>
                            <td>{o.amount.to_string()}</td>
                            <td>{status}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }.into_any()
}

#[component]
fn VerifyReminder() -> impl IntoView {
    view! {
        <div class="note" role="status">
            <p>"Your email is not verified yet. Purchases made with it as a guest join your account once it is."</p>
            {if sent() {
                view! { <p>"Sent. Check your inbox."</p> }.into_any()
            } else {
                view! {
                    <form method="post" action="/api/resend_verification" class="inline">
                        <button type="submit">"Send the link again"</button>
                    </form>
                    <FormError function="/api/resend_verification"/>
                }.into_any()
            }}
        </div>
    }
}

/// `/library`: everything the signed-in shopper owns, newest first.
#[component]
pub fn LibraryPage() -> impl IntoView {
    let items = Resource::new(|| (), |_| my_library());
    view! {
        <PageTitle text="Your library"/>
        <Suspense fallback=|| view! { <p>"Loading your library…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    let items = match items.await {
                        Err(ShopError::SignInRequired) => {
                            return Ok::<_, ShopError>(view! {
                                <section class="panel">
                                    <h1>"Your library"</h1>
                                    <p>"Please " <a href="/sign-in">"sign in"</a> " to see what you own."</p>
                                </section>
                            }.into_any());
                        }
                        other => other?,
                    };
                    Ok(view! {
                        <section class="library">
                            <h1>"Your library"</h1>
                            <Library items/>
                        </section>
                    }.into_any())
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn Library(items: Vec<LibraryItem>) -> impl IntoView {
    if items.is_empty() {
        return view! {
            <p>"Nothing here yet. What you buy while signed in, or with your verified email, shows up here. "
               <a href="/">"Browse the catalog"</a></p>
        }.into_any();
    }
    view! {
        <ul class="library-items">
            {items.into_iter().map(|item| {
                let product = format!("/products/{}", item.product_slug);
                let order = format!("/orders/{}", item.order_id);
                let download = format!("/library/{}/download", item.order_id);
                view! {
                    <li class="library-item" data-dispute=item.under_dispute.then_some("open")>
                        <p class="kind">{item.kind.label()}</p>
                        <h2><a href=product>{item.product_title}</a></h2>
                        <p class="since">"Yours since " {item.since} " · " <a href=order>"Order"</a></p>
                        {item.downloadable.then(|| view! {
                            <a class="download" href=download>"Download"</a>
                        })}
                        {item.under_dispute.then(|| view! {
                            <p class="note" role="status">"On hold while the payment is under dispute."</p>
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }.into_any()
}

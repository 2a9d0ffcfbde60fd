//! The account pages: sign-up, sign-in, verifying an email, a forgotten password, and
//! `/account` with the shopper's orders. Each form is a small island, so its errors show next
//! to it; without JavaScript the same forms post to the server functions and still work.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{
    RequestPasswordReset, ResendVerification, ResetPassword, SignIn, SignUp, VerifyEmail,
    current_account, my_orders,
};
use crate::components::{ErrorList, PageTitle};
use crate::error::ShopError;
use crate::models::OrderLine;

/// Whether the browser has taken over the island: forms say so (`data-hydrated`), so a test,
/// or a script, knows when typing reaches the form's own code.
fn hydrated() -> impl Fn() -> Option<&'static str> + Copy {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    move || hydrated.get().then_some("true")
}

/// The message of a failed action, for the form's alert.
fn failure<T>(result: Option<Result<T, ShopError>>) -> Option<String> {
    match result {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    view! {
        <PageTitle text="Create an account"/>
        <section class="panel">
            <h1>"Create an account"</h1>
            <p>"Your purchases, downloads and receipts in one place."</p>
            <SignUpForm/>
            <p class="aside">"Already have one? " <a href="/sign-in">"Sign in"</a></p>
        </section>
    }
}

#[island]
fn SignUpForm() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let hydrated = hydrated();
    let done = move || matches!(action.value().get(), Some(Ok(())));
    view! {
        <Show
            when=done
            fallback=move || view! {
                <ActionForm action attr:class="form" attr:data-hydrated=hydrated attr:aria-label="Create an account">
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="email" required/>
                    <label for="password">"Password (at least 10 characters)"</label>
                    <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required/>
                    <p class="form-error" role="alert" aria-live="polite">{move || failure(action.value().get())}</p>
                    <button type="submit" disabled=move || action.pending().get()>"Create account"</button>
                </ActionForm>
            }
        >
            <p class="note" role="status">
                "Check your inbox: we sent a link to finish signing up. It works for 24 hours."
            </p>
        </Show>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    view! {
        <PageTitle text="Sign in"/>
        <section class="panel">
            <h1>"Sign in"</h1>
            <SignInForm/>
            <p class="aside">
                <a href="/forgot-password">"Forgot your password?"</a>
                " · "
                <a href="/sign-up">"Create an account"</a>
            </p>
        </section>
    }
}

#[island]
fn SignInForm() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let hydrated = hydrated();
    view! {
        <ActionForm action attr:class="form" attr:data-hydrated=hydrated attr:aria-label="Sign in">
            <label for="email">"Email"</label>
            <input id="email" name="email" type="email" autocomplete="email" required/>
            <label for="password">"Password"</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required/>
            <p class="form-error" role="alert" aria-live="polite">{move || failure(action.value().get())}</p>
            <button type="submit" disabled=move || action.pending().get()>"Sign in"</button>
        </ActionForm>
    }
}

/// `/verify-email?token=…`: the link from the mail opens this page, and the button uses it.
/// (A button, not the visit itself: mail scanners open links, and must not use them up.)
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let query = use_query_map();
    let token = query.read_untracked().get("token").unwrap_or_default();
    view! {
        <PageTitle text="Verify your email"/>
        <section class="panel">
            <h1>"Verify your email"</h1>
            <VerifyForm token/>
        </section>
    }
}

#[island]
fn VerifyForm(token: String) -> impl IntoView {
    let action = ServerAction::<VerifyEmail>::new();
    let hydrated = hydrated();
    view! {
        <ActionForm action attr:class="form" attr:data-hydrated=hydrated attr:aria-label="Verify your email">
            <input type="hidden" name="token" value=token/>
            <p>"Press the button to verify your email and sign in."</p>
            <p class="form-error" role="alert" aria-live="polite">{move || failure(action.value().get())}</p>
            <button type="submit" disabled=move || action.pending().get()>"Verify my email"</button>
        </ActionForm>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    view! {
        <PageTitle text="Forgot your password?"/>
        <section class="panel">
            <h1>"Forgot your password?"</h1>
            <ForgotForm/>
        </section>
    }
}

#[island]
fn ForgotForm() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    let hydrated = hydrated();
    let done = move || matches!(action.value().get(), Some(Ok(())));
    view! {
        <Show
            when=done
            fallback=move || view! {
                <ActionForm action attr:class="form" attr:data-hydrated=hydrated attr:aria-label="Reset your password">
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="email" required/>
                    <p class="form-error" role="alert" aria-live="polite">{move || failure(action.value().get())}</p>
                    <button type="submit" disabled=move || action.pending().get()>"Send me a link"</button>
                </ActionForm>
            }
        >
            <p class="note" role="status">
                "If that email has an account, a link to choose a new password is on its way. It works for an hour."
            </p>
        </Show>
    }
}

/// `/reset-password?token=…`, from the mail.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = query.read_untracked().get("token").unwrap_or_default();
    view! {
        <PageTitle text="Choose a new password"/>
        <section class="panel">
            <h1>"Choose a new password"</h1>
            <ResetForm token/>
        </section>
    }
}

#[island]
fn ResetForm(token: String) -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let hydrated = hydrated();
    view! {
        <ActionForm action attr:class="form" attr:data-hydrated=hydrated attr:aria-label="Choose a new password">
            <input type="hidden" name="token" value=token/>
            <label for="password">"New password (at least 10 characters)"</label>
            <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required/>
            <p class="form-error" role="alert" aria-live="polite">{move || failure(action.value().get())}</p>
            <button type="submit" disabled=move || action.pending().get()>"Save and sign in"</button>
        </ActionForm>
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
                    let href = format!("/orders/{}", o.id);
                    let status = match o.refunded {
                        Some(refunded) if o.status != crate::domain::OrderStatus::Refunded => {
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

#[island]
fn VerifyReminder() -> impl IntoView {
    let action = ServerAction::<ResendVerification>::new();
    let hydrated = hydrated();
    let sent = move || matches!(action.value().get(), Some(Ok(())));
    view! {
        <div class="note" role="status">
            <p>"Your email is not verified yet. Purchases made with it as a guest join your account once it is."</p>
            <Show
                when=sent
                fallback=move || view! {
                    <ActionForm action attr:class="inline" attr:data-hydrated=hydrated>
                        <button type="submit" disabled=move || action.pending().get()>"Send the link again"</button>
                    </ActionForm>
                    <p class="form-error" role="alert">{move || failure(action.value().get())}</p>
                }
            >
                <p>"Sent. Check your inbox."</p>
            </Show>
        </div>
    }
}

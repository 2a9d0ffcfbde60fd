//! The account server functions: sign-up, sign-in and out, verification and reset links, and
//! what a signed-in shopper may read about their own orders. Every answer that could tell
//! whether an email has an account here is the same either way.

use leptos::prelude::*;

use crate::error::ShopError;
use crate::models::{Account, LibraryItem, OrderLine};

#[cfg(feature = "ssr")]
use {
    super::{client_address, retry_after},
    crate::accounts::{self, Credentials, LinkUse, NewPassword, Users},
    crate::domain::Email,
    crate::error::{OrInternal, with_status},
    crate::state::app_state,
};

/// Said for an unknown email and for a wrong password alike.
pub const WRONG_CREDENTIALS: &str = "That email and password do not match an account.";
/// Said to a correct password of an account whose email is not verified yet.
pub const UNVERIFIED: &str = "Please verify your email first: open the link we sent you.";
/// Said when a verification link's password is not its account's.
pub const WRONG_PASSWORD_FOR_LINK: &str =
    "That is not the password chosen for this account. Please try again.";
/// Said for a link that is unknown, used or expired, alike.
pub const BAD_LINK: &str = "This link has expired or was already used. Please ask for a new one.";

/// This request's session (tower-sessions; read from the store only when asked).
#[cfg(feature = "ssr")]
async fn session() -> Result<tower_sessions::Session, ShopError> {
    leptos_axum::extract()
        .await
        .map_err(|e| ShopError::internal("the session layer is missing", e))
}

/// The shopper signed in on this request's session, if any. Read once per request: a page
/// asks in its header and again in its body (see `RequestCache`).
#[cfg(feature = "ssr")]
pub(super) async fn signed_in() -> Result<Option<accounts::User>, ShopError> {
    let load = async || {
        let state = app_state()?;
        accounts::signed_in(&session().await?, &Users::new(state.pool.clone()))
            .await
            .map_err(|e| match e {
                accounts::SessionReadError::Session(e) => {
                    super::store_failure("Failed to read the session", e)
                }
                accounts::SessionReadError::Account(e) => {
                    ShopError::failure("Failed to read a signed-in user", &e)
                }
            })
    };
    match use_context::<RequestCache>() {
        Some(cache) => cache.user.get_or_try_init(load).await.cloned(),
        None => load().await,
    }
}

/// What one request has learned about its shopper, kept until it ends: who is signed in and
/// their account as the header shows it. Each request gets an empty one (the server provides
/// it with the app's state); a server function that changes who is signed in is a request of
/// its own, so nothing here goes stale.
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
pub struct RequestCache {
    user: std::sync::Arc<tokio::sync::OnceCell<Option<accounts::User>>>,
    account: std::sync::Arc<tokio::sync::OnceCell<Option<Account>>>,
}

#[cfg(feature = "ssr")]
async fn sign_in_as(user: &accounts::User) -> Result<(), ShopError> {
    accounts::sign_in_session(&session().await?, user)
        .await
        .map_err(|e| super::store_failure("Failed to sign in", e))?;
    tracing::info!(user = user.id, "signed in");
    leptos_axum::redirect("/account");
    Ok(())
}

/// The signed-in shopper's id, if any.
#[cfg(feature = "ssr")]
pub(super) async fn signed_in_user() -> Result<Option<i64>, ShopError> {
    Ok(signed_in().await?.map(|u| u.id))
}

/// Counts an attempt at an account action against the client's and the email's allowance
/// (the client's only for a link, whose email is not known yet).
#[cfg(feature = "ssr")]
async fn count_attempt(email: Option<&str>) -> Result<(), ShopError> {
    let state = app_state()?;
    let client = client_address(&state).await?;
    let counted = match email {
        Some(email) => state.limits.account_attempt(client, email),
        None => state.limits.link_attempt(client),
    };
    counted.map_err(|exceeded| {
        tracing::warn!(%client, "account attempts over the rate limit");
        retry_after(exceeded.retry_after);
        ShopError::TooManyRequests
    })
}

/// The signed-in shopper, if any. (Its failure does not set the page's status: every page
/// asks this for its header, which then just offers to sign in.)
#[server(endpoint = "current_account")]
pub async fn current_account() -> Result<Option<Account>, ShopError> {
    match use_context::<RequestCache>() {
        Some(cache) => cache.account.get_or_try_init(read_account).await.cloned(),
        None => read_account().await,
    }
}

#[cfg(feature = "ssr")]
async fn read_account() -> Result<Option<Account>, ShopError> {
    let Some(user) = signed_in().await? else {
        return Ok(None);
    };
    let state = app_state()?;
    let mut conn = state
        .pool
        .acquire()
        .await
        .or_internal("Failed to read a balance")?;
    let credits = crate::credits::balance(&mut conn, user.id)
        .await
        .or_internal("Failed to read a balance")?;
    Ok(Some(Account {
        email: user.email,
        verified: user.verified,
        credits,
        is_admin: user.is_admin,
    }))
}

/// Makes an account and mails a link to verify its email. The answer is the same whether or
/// not the email already had an account (its owner is mailed a note instead).
#[server(endpoint = "sign_up")]
pub async fn sign_up(email: String, password: String) -> Result<(), ShopError> {
    with_status("sign_up", async move {
        let email = Email::parse(&email)?;
        let password = NewPassword::parse(&password)?;
        count_attempt(Some(email.as_str())).await?;
        let state = app_state()?;
        accounts::sign_up(&state.pool, &email, password)
            .await
            .or_internal("Failed to sign up")?;
        state.new_mail.written();
        leptos_axum::redirect("/sign-up?sent=1");
        Ok(())
    })
    .await
}

/// Signs in with an email and a password, then goes to the account page.
#[server(endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), ShopError> {
    with_status("sign_in", async move {
        let wrong = || ShopError::Invalid(WRONG_CREDENTIALS.into());
        let email = Email::parse(&email);
        count_attempt(email.as_ref().ok().map(|e| e.as_str())).await?;
        let email = email.map_err(|_| wrong())?;
        let state = app_state()?;
        let user = Users::new(state.pool.clone())
            .authenticate(Credentials {
                email: email.as_str().to_string(),
                password,
            })
            .await
            .or_internal("Failed to check a sign-in")?
            .ok_or_else(wrong)?;
        if !user.verified {
            return Err(ShopError::Invalid(UNVERIFIED.into()));
        }
        accounts::claim_at_sign_in(&state.pool, &user)
            .await
            .or_internal("Failed to join guest orders")?;
        sign_in_as(&user).await
    })
    .await
}

/// Signs out, then goes to the catalog.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ShopError> {
    with_status("sign_out", async {
        accounts::sign_out_session(&session().await?)
            .await
            .map_err(|e| super::store_failure("Failed to sign out", e))?;
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}

/// Uses a verification link, with the account's password: the email is verified, guest
/// orders paid with it join the account, and the shopper is signed in.
#[server(endpoint = "verify_email")]
pub async fn verify_email(token: String, password: String) -> Result<(), ShopError> {
    with_status("verify_email", async move {
        count_attempt(None).await?;
        let state = app_state()?;
        match accounts::verify_email(&state.pool, &token, password)
            .await
            .or_internal("Failed to verify an email")?
        {
            LinkUse::Done(user) => sign_in_as(&user).await,
            LinkUse::BadLink => Err(bad_link()),
            LinkUse::WrongPassword => Err(ShopError::Invalid(WRONG_PASSWORD_FOR_LINK.into())),
        }
    })
    .await
}

/// Mails a reset link if the email has an account; the answer is the same if not.
#[server(endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<(), ShopError> {
    with_status("request_password_reset", async move {
        let email = Email::parse(&email)?;
        count_attempt(Some(email.as_str())).await?;
        let state = app_state()?;
        accounts::request_reset(&state.pool, &email)
            .await
            .or_internal("Failed to request a reset")?;
        state.new_mail.written();
        leptos_axum::redirect("/forgot-password?sent=1");
        Ok(())
    })
    .await
}

/// Sets a new password through a reset link, signs out every session of the account, and sends
/// the browser to sign in with the new password. It does not sign the browser in: a reset link
/// someone forwarded (their own, to a victim) would otherwise sign the victim into the
/// sender's account, where what the victim then buys would be the sender's.
#[server(endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), ShopError> {
    with_status("reset_password", async move {
        let password = NewPassword::parse(&password)?;
        count_attempt(None).await?;
        let state = app_state()?;
        match accounts::reset_password(&state.pool, &token, password)
            .await
            .or_internal("Failed to reset a password")?
        {
            LinkUse::Done(user) => {
                accounts::sign_out_session(&session().await?)
                    .await
                    .map_err(|e| super::store_failure("Failed to sign out", e))?;
                tracing::info!(user = user.id, "password reset");
                leptos_axum::redirect("/sign-in?reset=1");
                Ok(())
            }
            LinkUse::BadLink | LinkUse::WrongPassword => Err(bad_link()),
        }
    })
    .await
}

/// A new verification link for the signed-in shopper.
#[server(endpoint = "resend_verification")]
pub async fn resend_verification() -> Result<(), ShopError> {
    with_status("resend_verification", async {
        let user = signed_in().await?.ok_or(ShopError::SignInRequired)?;
        count_attempt(Some(&user.email)).await?;
        if !user.verified {
            let state = app_state()?;
            accounts::resend_verification(&state.pool, user.id)
                .await
                .or_internal("Failed to send a verification link")?;
            state.new_mail.written();
        }
        leptos_axum::redirect("/account?sent=1");
        Ok(())
    })
    .await
}

/// The signed-in shopper's orders, newest first.
#[server(endpoint = "my_orders")]
pub async fn my_orders() -> Result<Vec<OrderLine>, ShopError> {
    with_status("my_orders", async {
        let user = signed_in().await?.ok_or(ShopError::SignInRequired)?;
        let state = app_state()?;
        crate::orders::of_user(&state.pool, user.id).await
    })
    .await
}

/// What the signed-in shopper owns, newest first.
#[server(endpoint = "my_library")]
pub async fn my_library() -> Result<Vec<LibraryItem>, ShopError> {
    with_status("my_library", async {
        let user = signed_in().await?.ok_or(ShopError::SignInRequired)?;
        let state = app_state()?;
        crate::orders::library_of(&state.pool, user.id).await
    })
    .await
}

/// The order through which the signed-in shopper owns the file product `slug` now, if any
/// (no one signed in, or not owned: `None`). Its failure does not set the page's status: the
/// product page then offers the pay form, as to anyone.
#[server(endpoint = "owned_file")]
pub async fn owned_file(slug: String) -> Result<Option<crate::domain::OrderId>, ShopError> {
    let Some(user) = signed_in().await? else {
        return Ok(None);
    };
    let state = app_state()?;
    crate::orders::owned_file(&state.pool, user.id, &slug).await
}

#[cfg(feature = "ssr")]
fn bad_link() -> ShopError {
    ShopError::Invalid(BAD_LINK.into())
}

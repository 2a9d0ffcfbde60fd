//! Accounts: sign-up, sign-in on the shop's tower-sessions session, email verification and
//! password reset by one-time links, and guest orders joining the account that verifies their
//! email. Passwords are hashed with argon2id (RustCrypto's `argon2`) off the async threads;
//! links carry a random token of which only a SHA-256 is stored.
//!
//! Signing in is the pattern axum-login implements (the user's id and a digest of their
//! password hash in the session, the session id cycled at sign-in, a password change ending
//! every other session), done here lazily: axum-login 0.18's layer loads the session and the
//! user on every request and answers any store error with an empty 500, which would cost two
//! queries on every page view and turn "the shop is busy" into a blank error.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::domain::{Email, InvalidInput};

/// How long a verification link works.
pub const VERIFY_FOR: Duration = Duration::from_secs(24 * 3600);
/// How long a password-reset link works.
pub const RESET_FOR: Duration = Duration::from_secs(3600);

/// A signed-in shopper, as the session knows them.
#[derive(Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub verified: bool,
    /// Whether this account may use the admin (see [`make_admin`]).
    pub is_admin: bool,
    /// The password hash: a password change signs out every other session.
    password_hash: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("verified", &self.verified)
            .field("is_admin", &self.is_admin)
            .finish_non_exhaustive()
    }
}

/// What the session holds for a signed-in shopper: their id, and a digest of their password
/// hash at sign-in, so a password change signs out every other session.
#[derive(serde::Serialize, serde::Deserialize)]
struct SignedIn {
    user: i64,
    auth: String,
}

const SESSION_KEY: &str = "account";

fn auth_digest(password_hash: &str) -> String {
    hex::encode(Sha256::digest(password_hash.as_bytes()))
}

/// Signs `user` in on this session, under a new session id (so an id planted before sign-in
/// is worth nothing after it).
pub async fn sign_in_session(
    session: &tower_sessions::Session,
    user: &User,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session
        .insert(
            SESSION_KEY,
            SignedIn {
                user: user.id,
                auth: auth_digest(&user.password_hash),
            },
        )
        .await
}

/// Signs out: the whole session goes, open checkouts with it.
pub async fn sign_out_session(
    session: &tower_sessions::Session,
) -> Result<(), tower_sessions::session::Error> {
    session.flush().await
}

/// The shopper signed in on this session, if any, read only when asked. A session signed in
/// before the password changed is signed out here.
pub async fn signed_in(
    session: &tower_sessions::Session,
    users: &Users,
) -> Result<Option<User>, SessionReadError> {
    let Some(signed_in) = session.get::<SignedIn>(SESSION_KEY).await? else {
        return Ok(None);
    };
    let user = users.get_user(signed_in.user).await?;
    match user {
        Some(user) if auth_digest(&user.password_hash) == signed_in.auth => Ok(Some(user)),
        _ => {
            session.remove::<SignedIn>(SESSION_KEY).await?;
            Ok(None)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionReadError {
    #[error(transparent)]
    Session(#[from] tower_sessions::session::Error),
    #[error(transparent)]
    Account(#[from] AccountError),
}

/// What a shopper types to sign in.
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// A password as typed at sign-up or reset, checked for length only: long is what makes a
/// password strong, and any character may be in it.
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 10;
    const MAX_BYTES: usize = 1024;

    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(InvalidInput(crate::domain::SHORT_PASSWORD));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(InvalidInput(crate::domain::LONG_PASSWORD));
        }
        Ok(Self(raw.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// The shop's users.
#[derive(Clone)]
pub struct Users {
    pool: PgPool,
}

impl Users {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

struct Row {
    id: i64,
    email: String,
    password_hash: String,
    verified: bool,
    is_admin: bool,
}

impl From<Row> for User {
    fn from(row: Row) -> Self {
        User {
            id: row.id,
            email: row.email,
            verified: row.verified,
            is_admin: row.is_admin,
            password_hash: row.password_hash,
        }
    }
}

impl Users {
    /// The user whose password matches, or `None`. An unknown email costs the same hash
    /// check as a wrong password, so the answer's timing does not tell which it was.
    pub async fn authenticate(&self, creds: Credentials) -> Result<Option<User>, AccountError> {
        let email = creds.email.trim().to_string();
        let row = sqlx::query_as!(
            Row,
            r#"select id, email, password_hash, email_verified_at is not null as "verified!", is_admin
               from app_user where email = lower($1)"#,
            email
        )
        .fetch_optional(&self.pool)
        .await?;
        let hash = row
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| UNKNOWN_USER_HASH.clone());
        let matches = verify_password(creds.password, hash).await?;
        Ok(row.filter(|_| matches).map(User::from))
    }

    pub async fn get_user(&self, id: i64) -> Result<Option<User>, AccountError> {
        Ok(sqlx::query_as!(
            Row,
            r#"select id, email, password_hash, email_verified_at is not null as "verified!", is_admin
               from app_user where id = $1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await?
        .map(User::from))
    }
}

/// Makes the unknown-user hash now, on a blocking thread, so the first sign-in with an unknown
/// email takes no longer than any other.
pub async fn warm_up() {
    let _ = tokio::task::spawn_blocking(|| UNKNOWN_USER_HASH.len()).await;
}

/// argon2id at 24 MiB and 5 passes: about 50 ms a hash on one core of the machines this runs
/// on (`bench/library.sh` prints a sign-in's time), above OWASP's minimums (19 MiB and 2
/// passes took 15 ms here). The time grows with the passes and jumps with the memory once it
/// outgrows the cache (24 MiB and 3 passes took 29 ms, 32 MiB and 3 passes 65). A hash records
/// its parameters, so hashes made with others still verify.
fn argon2() -> Argon2<'static> {
    let params = argon2::Params::new(24 * 1024, 5, 1, None).unwrap_or_default();
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// A hash of a password nobody has, checked when the email is unknown.
static UNKNOWN_USER_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(b"no account has this password", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// At most this many password hashes at once (one per core): each takes 24 MiB and a core for
/// tens of milliseconds, so a flood of sign-ins waits its turn instead of exhausting memory.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Hashes a new password with argon2id (see [`argon2`]), on a blocking thread so the server
/// keeps answering other requests meanwhile.
pub async fn hash_password(password: NewPassword) -> Result<String, AccountError> {
    let _turn = HASHING
        .acquire()
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| AccountError::Hashing(e.to_string()))?
}

async fn verify_password(password: String, hash: String) -> Result<bool, AccountError> {
    let _turn = HASHING
        .acquire()
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| AccountError::Hashing(e.to_string()))?;
        Ok(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| AccountError::Hashing(e.to_string()))?
}

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            Purpose::VerifyEmail => VERIFY_FOR,
            Purpose::ResetPassword => RESET_FOR,
        }
    }
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Makes a one-time link for `user` and queues the mail that carries it, in one transaction.
async fn send_link(
    tx: &mut sqlx::PgConnection,
    user: i64,
    purpose: Purpose,
) -> Result<(), AccountError> {
    let (id, token) = new_token(tx, user, purpose).await?;
    sqlx::query!(
        "insert into outbound_email (kind, user_id, dedupe_key, token)
         values ($1, $2, $3, $4)",
        purpose.as_str(),
        user,
        format!("{}:{id}", purpose.as_str()),
        token
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A new one-time token for `user`: its id, and the token (only its hash is kept).
async fn new_token(
    tx: &mut sqlx::PgConnection,
    user: i64,
    purpose: Purpose,
) -> Result<(i64, String), AccountError> {
    let token: String = {
        let bytes: [u8; 32] = rand::rng().random();
        hex::encode(bytes)
    };
    let id = sqlx::query_scalar!(
        "insert into user_token (user_id, purpose, token_hash, expires_at)
         values ($1, $2, $3, now() + make_interval(secs => $4))
         returning id",
        user,
        purpose.as_str(),
        token_hash(&token),
        purpose.lifetime().as_secs_f64()
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok((id, token))
}

/// What [`make_admin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminMade {
    /// A new account, with the password given.
    Created,
    /// An account without a password anyone knows yet (a new one, or one whose email was never
    /// verified): this one-time token (a reset link's, valid for [`RESET_FOR`]) sets it.
    CreatedWithLink(String),
    /// A verified account that was there already now may use the admin (with the password
    /// given, if one was; its other sessions are then signed out).
    Promoted,
}

/// Makes `email` an admin, for `server admin create-user`: there is no way to become one from
/// the web. The email counts as verified (whoever runs the server vouches for it). An account
/// whose email was never verified keeps nothing of itself: anyone may have signed up with that
/// address and chosen its password, so without a password given it gets one nobody knows and a
/// one-time link to choose it, and its sessions end.
pub async fn make_admin(
    pool: &PgPool,
    email: &Email,
    password: Option<NewPassword>,
) -> Result<AdminMade, AccountError> {
    let given = password.is_some();
    let hash = match password {
        Some(p) => hash_password(p).await?,
        None => {
            let unknown: [u8; 32] = rand::rng().random();
            hash_password(NewPassword(hex::encode(unknown))).await?
        }
    };
    let email = email.as_str().to_lowercase();
    let mut tx = pool.begin().await?;
    let existing = sqlx::query!(
        r#"select id, email_verified_at is not null as "verified!" from app_user where email = $1"#,
        email
    )
    .fetch_optional(&mut *tx)
    .await?;
    let verified = existing.as_ref().is_some_and(|e| e.verified);
    let user = match &existing {
        Some(row) => row.id,
        None => {
            sqlx::query_scalar!(
                "insert into app_user (email, password_hash) values ($1, $2) returning id",
                email,
                hash
            )
            .fetch_one(&mut *tx)
            .await?
        }
    };
    // Orders are locked before the account row, as everywhere (see `credits`).
    claim_guest_orders(&mut tx, user, &email).await?;
    // A verified owner keeps their password unless one is given; anyone else's is replaced.
    let replace = given || !verified;
    sqlx::query!(
        "update app_user
         set is_admin = true,
             password_hash = case when $2 then $3 else password_hash end,
             email_verified_at = coalesce(email_verified_at, now())
         where id = $1",
        user,
        replace,
        hash
    )
    .execute(&mut *tx)
    .await?;
    if !verified {
        // Links sent to whoever signed up before are void.
        sqlx::query!(
            "update user_token set used_at = now() where user_id = $1 and used_at is null",
            user
        )
        .execute(&mut *tx)
        .await?;
    }
    let made = match (verified, given) {
        (true, _) => AdminMade::Promoted,
        (false, true) => AdminMade::Created,
        (false, false) => {
            let (_, token) = new_token(&mut tx, user, Purpose::ResetPassword).await?;
            AdminMade::CreatedWithLink(token)
        }
    };
    tx.commit().await?;
    Ok(made)
}

/// Signs up `email`. A new account gets a verification link; an address that already has a
/// verified account gets a note saying so (with the way to reset the password), and the page
/// says the same either way, so sign-up does not tell who has an account here. Signing up
/// again for an address not verified yet replaces its password and its links: whoever can
/// read that mailbox decides, so nobody can register someone else's email ahead of them and
/// keep a password to the account its owner then verifies.
pub async fn sign_up(
    pool: &PgPool,
    email: &Email,
    password: NewPassword,
) -> Result<(), AccountError> {
    let hash = hash_password(password).await?;
    let mut tx = pool.begin().await?;
    let unverified = sqlx::query_scalar!(
        "insert into app_user (email, password_hash) values (lower($1), $2)
         on conflict (email) do update set password_hash = excluded.password_hash
             where app_user.email_verified_at is null
         returning id",
        email.as_str(),
        hash
    )
    .fetch_optional(&mut *tx)
    .await?;
    match unverified {
        Some(user) => {
            sqlx::query!(
                "update user_token set used_at = now()
                 where user_id = $1 and purpose = 'verify_email' and used_at is null",
                user
            )
            .execute(&mut *tx)
            .await?;
            send_link(&mut tx, user, Purpose::VerifyEmail).await?;
        }
        None => {
            sqlx::query!(
                // One note per address per hour, however often someone tries.
                "insert into outbound_email (kind, user_id, dedupe_key)
                 select 'account_exists', id,
                        'account_exists:' || id || ':' || floor(extract(epoch from now()) / 3600)
                 from app_user where email = lower($1)
                 on conflict on constraint outbound_email_dedupe_key do nothing",
                email.as_str()
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A fresh verification link for a signed-in user whose email is not verified yet.
pub async fn resend_verification(pool: &PgPool, user: i64) -> Result<(), AccountError> {
    let mut tx = pool.begin().await?;
    send_link(&mut tx, user, Purpose::VerifyEmail).await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a reset link if `email` has an account; says nothing either way.
pub async fn request_reset(pool: &PgPool, email: &Email) -> Result<(), AccountError> {
    let mut tx = pool.begin().await?;
    // At most one reset mail per address per quarter hour, so nobody can flood a mailbox.
    let user = sqlx::query_scalar!(
        "select id from app_user u where email = lower($1)
           and not exists (select from user_token t
                           where t.user_id = u.id and t.purpose = 'reset_password'
                             and t.created_at > now() - interval '15 minutes')",
        email.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(user) = user {
        send_link(&mut tx, user, Purpose::ResetPassword).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What using a link came to.
pub enum LinkUse {
    /// Signed in as this user.
    Done(User),
    /// Unknown, used or expired: said alike.
    BadLink,
    /// A verification link, with a password that is not the account's.
    WrongPassword,
}

/// A link's token, if it is known, unused, unexpired and for `purpose`; locked until the
/// transaction ends, so two uses of one link cannot both succeed.
async fn find_token(
    tx: &mut sqlx::PgConnection,
    token: &str,
    purpose: Purpose,
) -> Result<Option<(i64, Row)>, AccountError> {
    let found = sqlx::query!(
        r#"select t.id as token_id, u.id, u.email, u.password_hash,
                  u.email_verified_at is not null as "verified!", u.is_admin
           from user_token t join app_user u on u.id = t.user_id
           where t.token_hash = $1 and t.purpose = $2 and t.used_at is null
             and t.expires_at > now()
           for update of t"#,
        token_hash(token.trim()),
        purpose.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(found.map(|f| {
        (
            f.token_id,
            Row {
                id: f.id,
                email: f.email,
                password_hash: f.password_hash,
                verified: f.verified,
                is_admin: f.is_admin,
            },
        )
    }))
}

async fn use_token(tx: &mut sqlx::PgConnection, token_id: i64) -> Result<(), AccountError> {
    sqlx::query!(
        "update user_token set used_at = now() where id = $1",
        token_id
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Verifies the email a link was sent to, with the account's password (so only whoever chose
/// the password and reads the mailbox verifies it), and gives the account every guest order
/// paid with that email.
pub async fn verify_email(
    pool: &PgPool,
    token: &str,
    password: String,
) -> Result<LinkUse, AccountError> {
    let mut tx = pool.begin().await?;
    let Some((token_id, row)) = find_token(&mut tx, token, Purpose::VerifyEmail).await? else {
        return Ok(LinkUse::BadLink);
    };
    if !verify_password(password, row.password_hash.clone()).await? {
        return Ok(LinkUse::WrongPassword);
    }
    use_token(&mut tx, token_id).await?;
    // Orders are locked before the account row, as everywhere (see `credits`).
    claim_guest_orders(&mut tx, row.id, &row.email).await?;
    sqlx::query!(
        "update app_user set email_verified_at = coalesce(email_verified_at, now()) where id = $1",
        row.id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(LinkUse::Done(User {
        verified: true,
        ..row.into()
    }))
}

/// Gives `user` (whose email is verified) the orders made as a guest with that email.
pub async fn claim_guest_orders(
    tx: &mut sqlx::PgConnection,
    user: i64,
    email: &str,
) -> Result<u64, AccountError> {
    let claimed = sqlx::query!(
        // Locked in order of their ids, as a batch of payments locks orders (`inbox::batch`).
        "with theirs as (
             select id from customer_order
             where user_id is null and email is not null and lower(email) = $2
             order by id
             for no key update
         )
         update customer_order o set user_id = $1, updated_at = now()
         from theirs where o.id = theirs.id and o.user_id is null",
        user,
        email
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed > 0 {
        tracing::info!(user, claimed, "guest orders joined an account");
        // Packs among them add their credits now.
        crate::credits::settle_packs(tx, user).await?;
    }
    Ok(claimed)
}

/// Sets a new password through a reset link. The link also proves the email, so it is marked
/// verified (and its guest orders joined). Every other link of the user stops working, and
/// every other session is signed out (the session carries a digest of the old hash). The link
/// is checked before the new password is hashed, so made-up links cost no hashing.
pub async fn reset_password(
    pool: &PgPool,
    token: &str,
    password: NewPassword,
) -> Result<LinkUse, AccountError> {
    let mut tx = pool.begin().await?;
    let Some((token_id, row)) = find_token(&mut tx, token, Purpose::ResetPassword).await? else {
        return Ok(LinkUse::BadLink);
    };
    let hash = hash_password(password).await?;
    use_token(&mut tx, token_id).await?;
    // Orders are locked before the account row, as everywhere (see `credits`).
    claim_guest_orders(&mut tx, row.id, &row.email).await?;
    let row = sqlx::query_as!(
        Row,
        r#"update app_user
           set password_hash = $2, email_verified_at = coalesce(email_verified_at, now())
           where id = $1
           returning id, email, password_hash, email_verified_at is not null as "verified!",
                     is_admin"#,
        row.id,
        hash
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "update user_token set used_at = now() where user_id = $1 and used_at is null",
        row.id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(LinkUse::Done(row.into()))
}

/// Gives a verified user who signs in the guest orders paid with their email since.
pub async fn claim_at_sign_in(pool: &PgPool, user: &User) -> Result<(), AccountError> {
    if !user.verified {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    claim_guest_orders(&mut tx, user.id, &user.email).await?;
    tx.commit().await?;
    Ok(())
}

//! Settings from the environment (and `.env` in development). Start-up stops at the first
//! missing or malformed value and names it.

use std::num::NonZeroU32;
use std::time::Duration;

use app::limits::LimitSettings;
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{0} is not set; see README.md for the settings the shop needs")]
    Missing(&'static str),
    #[error("{name} is not valid: {why}")]
    Invalid {
        name: &'static str,
        why: &'static str,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: SecretString,
    pub stripe_secret_key: SecretString,
    pub stripe_publishable_key: String,
    /// Live keys (`sk_live_…`); only events of the same mode are acted on.
    pub live_mode: bool,
    /// Every secret webhooks may be signed with; empty turns the webhook route off (503).
    pub webhook_secrets: Vec<SecretString>,
    /// Where the Stripe API is; unset means Stripe itself.
    pub stripe_api_base: Option<String>,
    pub stripe_js_url: String,
    /// Fill an empty catalog with the demo products at start.
    pub seed_demo_catalog: bool,
    /// Whether cookies are marked `Secure`; unset means "unless the shop listens on loopback".
    /// Set it to true behind a TLS proxy on the same host.
    pub secure_cookies: Option<bool>,
    /// How long an open order may wait for its payment before it expires (`ORDER_TTL_HOURS`,
    /// 24 by default) and its PaymentIntent is canceled.
    pub order_ttl: Duration,
    /// How long client secrets and raw event payloads are kept (`DATA_RETENTION_DAYS`, 90).
    pub retention: Duration,
    /// `CHECKOUT_STARTS_PER_MINUTE` and `STRIPE_READS_PER_MINUTE`, per client.
    pub limits: LimitSettings,
    /// Read the client's address from the last `X-Forwarded-For` entry (`TRUST_FORWARDED_FOR`):
    /// set it only behind a proxy that appends that header and cannot be bypassed.
    pub trust_forwarded_for: bool,
    /// How many connections to Postgres this server's requests share (`DATABASE_POOL_SIZE`, 16;
    /// the background jobs keep a few more of their own).
    pub pool_size: NonZeroU32,
    /// Run the job queue's worker and schedule on this server (`BACKGROUND_JOBS`, on by
    /// default). Off for a server that only serves, or a test that calls the chores itself.
    pub background_jobs: bool,
    /// Where mail goes (`SMTP_URL`: `smtp://host:port`, `smtp://user:pass@host:587?tls=required`
    /// or `smtps://…`); unset keeps mail in the outbox, unsent.
    pub smtp_url: Option<SecretString>,
    /// The sender of the shop's mail (`MAIL_FROM`).
    pub mail_from: String,
    /// The shop's address as shoppers reach it, for links in mail (`PUBLIC_URL`); unset means
    /// `http://` and the address the shop listens on.
    pub public_url: Option<String>,
    /// Where bought files are kept (`STORAGE_DIR`, `data/files` by default), unless `s3` is set.
    pub storage_dir: std::path::PathBuf,
    /// An S3-compatible bucket for bought files (`STORAGE_S3_BUCKET` and its companions), so
    /// that several servers share them.
    pub s3: Option<S3Settings>,
    /// How long after paying a shopper may ask for a refund from their account
    /// (`REFUND_WINDOW_DAYS`, 14; 0 turns shopper refunds off).
    pub refund_window: Duration,
    /// The largest product file the admin may upload (`UPLOAD_MAX_MB`, 512 by default).
    pub upload_limit: u64,
    /// The key download links are signed with (`DOWNLOAD_SIGNING_KEY`). Unset, each start makes
    /// one, so links end with a restart and differ between servers: set it when there are
    /// several.
    pub download_signing_key: Option<SecretString>,
    /// The shop's name in its pages, mail and metadata (`SHOP_NAME`, `storefront`).
    pub shop_name: String,
    /// Where shoppers write to, shown in every page's footer (`SHOP_CONTACT_EMAIL`; by default
    /// the address in `MAIL_FROM`).
    pub contact_email: String,
    /// Where the seller's own terms, refund policy and privacy notice are
    /// (`CONTENT_DIR`, `content`): `terms.md`, `refund-policy.md`, `privacy.md`. A page whose
    /// file is missing shows the text built into the shop.
    pub content_dir: std::path::PathBuf,
}

pub const STRIPE_JS_DEFAULT: &str = "https://js.stripe.com/v3/";
pub const MAIL_FROM_DEFAULT: &str = "storefront <shop@localhost>";
pub const SHOP_NAME_DEFAULT: &str = "storefront";

/// The address in a mailbox: `shop@example.com` in `Shop <shop@example.com>`.
fn address_in(mailbox: &str) -> &str {
    match (mailbox.rfind('<'), mailbox.rfind('>')) {
        (Some(open), Some(close)) if open < close => mailbox[open + 1..close].trim(),
        _ => mailbox.trim(),
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let required = |name: &'static str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or(SettingsError::Missing(name))
        };
        let database_url = required("DATABASE_URL")?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(SettingsError::Invalid {
                name: "DATABASE_URL",
                why: "it must be a postgres:// URL",
            });
        }
        let secret = required("STRIPE_SECRET_KEY")?;
        let secret_mode = key_mode(&secret, &["sk_", "rk_"]).ok_or(SettingsError::Invalid {
            name: "STRIPE_SECRET_KEY",
            why: "it must be a secret key (sk_test_… or sk_live_…)",
        })?;
        let publishable = required("STRIPE_PUBLISHABLE_KEY")?;
        let publishable_mode = key_mode(&publishable, &["pk_"]).ok_or(SettingsError::Invalid {
            name: "STRIPE_PUBLISHABLE_KEY",
            why: "it must be a publishable key (pk_test_… or pk_live_…)",
        })?;
        if secret_mode != publishable_mode {
            return Err(SettingsError::Invalid {
                name: "STRIPE_PUBLISHABLE_KEY",
                why: "it is not in the same mode (test or live) as STRIPE_SECRET_KEY",
            });
        }
        let webhook_secrets = get("STRIPE_WEBHOOK_SECRET")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.starts_with("whsec_") {
                    Ok(SecretString::from(s.to_string()))
                } else {
                    Err(SettingsError::Invalid {
                        name: "STRIPE_WEBHOOK_SECRET",
                        why: "each secret must start with whsec_",
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let live_mode = secret_mode == "live";
        let stripe_api_base = match get("STRIPE_API_BASE").filter(|v| !v.trim().is_empty()) {
            Some(url) => Some(http_url(url.trim(), "STRIPE_API_BASE")?),
            None => None,
        };
        let stripe_js_url = match get("STRIPE_JS_URL").filter(|v| !v.trim().is_empty()) {
            Some(url) => http_url(url.trim(), "STRIPE_JS_URL")?,
            None => STRIPE_JS_DEFAULT.to_string(),
        };
        let seed_demo_catalog = !matches!(
            get("SEED_DEMO_CATALOG").as_deref().map(str::trim),
            Some("0" | "false" | "no")
        );
        let secure_cookies = yes_or_no(&get, "COOKIE_SECURE")?;
        let trust_forwarded_for = yes_or_no(&get, "TRUST_FORWARDED_FOR")?.unwrap_or(false);
        let background_jobs = yes_or_no(&get, "BACKGROUND_JOBS")?.unwrap_or(true);
        let smtp_url = get("SMTP_URL")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(|v| {
                if v.starts_with("smtp://") || v.starts_with("smtps://") {
                    Ok(SecretString::from(v))
                } else {
                    Err(SettingsError::Invalid {
                        name: "SMTP_URL",
                        why: "it must be an smtp:// or smtps:// URL",
                    })
                }
            })
            .transpose()?;
        let mail_from = get("MAIL_FROM")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| MAIL_FROM_DEFAULT.to_string());
        let shop_name = match get("SHOP_NAME").map(|v| v.trim().to_string()) {
            None => SHOP_NAME_DEFAULT.to_string(),
            Some(v) if v.is_empty() => SHOP_NAME_DEFAULT.to_string(),
            Some(v) if v.chars().count() <= 80 && !v.contains(char::is_control) => v,
            Some(_) => {
                return Err(SettingsError::Invalid {
                    name: "SHOP_NAME",
                    why: "it must be one line of at most 80 characters",
                });
            }
        };
        let content_dir = get("CONTENT_DIR")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "content".to_string())
            .into();
        let storage_dir = get("STORAGE_DIR")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "data/files".to_string())
            .into();
        let download_signing_key = match get("DOWNLOAD_SIGNING_KEY").map(|v| v.trim().to_string()) {
            None => None,
            Some(v) if v.is_empty() => None,
            Some(v) if v.len() >= 32 => Some(SecretString::from(v)),
            Some(_) => {
                return Err(SettingsError::Invalid {
                    name: "DOWNLOAD_SIGNING_KEY",
                    why: "it must be at least 32 characters",
                });
            }
        };
        if live_mode && download_signing_key.is_none() {
            return Err(SettingsError::Missing("DOWNLOAD_SIGNING_KEY"));
        }
        let public_url = match get("PUBLIC_URL").filter(|v| !v.trim().is_empty()) {
            Some(url) => Some(http_url(url.trim(), "PUBLIC_URL")?),
            None => None,
        };
        if live_mode
            && !public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
        {
            // Card details and sessions must never cross plain http with real money at stake;
            // behind a proxy that ends TLS, PUBLIC_URL is the proxy's https address.
            return Err(SettingsError::Invalid {
                name: "PUBLIC_URL",
                why: "live Stripe keys need the shop's https:// address",
            });
        }
        let contact_email = match get("SHOP_CONTACT_EMAIL").filter(|v| !v.trim().is_empty()) {
            Some(v) => app::domain::Email::parse(v.trim())
                .map_err(|_| SettingsError::Invalid {
                    name: "SHOP_CONTACT_EMAIL",
                    why: "it must be an email address",
                })?
                .as_str()
                .to_string(),
            None => {
                let from = address_in(&mail_from);
                match app::domain::Email::parse(from) {
                    Ok(address) => address.as_str().to_string(),
                    // `shop@localhost`, the development default.
                    Err(_) if !live_mode && !from.is_empty() => from.to_string(),
                    Err(_) => {
                        return Err(SettingsError::Invalid {
                            name: "SHOP_CONTACT_EMAIL",
                            why: "shoppers need an address to write to, and MAIL_FROM's is not one",
                        });
                    }
                }
            }
        };
        let order_ttl =
            Duration::from_secs(3600 * u64::from(positive(&get, "ORDER_TTL_HOURS", 24)?.get()));
        let retention = Duration::from_secs(
            24 * 3600 * u64::from(positive(&get, "DATA_RETENTION_DAYS", 90)?.get()),
        );
        let refund_window = match get("REFUND_WINDOW_DAYS").as_deref().map(str::trim) {
            None | Some("") => Duration::from_secs(14 * 24 * 3600),
            Some(v) => {
                let days = v.parse::<u16>().map_err(|_| SettingsError::Invalid {
                    name: "REFUND_WINDOW_DAYS",
                    why: "it must be a whole number of days (0 to turn refunds off)",
                })?;
                Duration::from_secs(24 * 3600 * u64::from(days))
            }
        };
        let upload_limit = 1024 * 1024 * u64::from(positive(&get, "UPLOAD_MAX_MB", 512)?.get());
        let pool_size = positive(&get, "DATABASE_POOL_SIZE", 16)?;
        let s3 = match get("STORAGE_S3_BUCKET").filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(bucket) => Some(S3Settings::read(&get, bucket.trim().to_string())?),
        };
        let defaults = LimitSettings::default();
        let limits = LimitSettings {
            checkout_starts_per_minute: positive(
                &get,
                "CHECKOUT_STARTS_PER_MINUTE",
                defaults.checkout_starts_per_minute.get(),
            )?,
            stripe_reads_per_minute: positive(
                &get,
                "STRIPE_READS_PER_MINUTE",
                defaults.stripe_reads_per_minute.get(),
            )?,
            account_attempts_per_minute: positive(
                &get,
                "ACCOUNT_ATTEMPTS_PER_MINUTE",
                defaults.account_attempts_per_minute.get(),
            )?,
        };
        Ok(Self {
            database_url: SecretString::from(database_url),
            stripe_secret_key: SecretString::from(secret),
            stripe_publishable_key: publishable,
            live_mode,
            webhook_secrets,
            stripe_api_base,
            stripe_js_url,
            seed_demo_catalog,
            secure_cookies,
            order_ttl,
            retention,
            limits,
            trust_forwarded_for,
            pool_size,
            background_jobs,
            smtp_url,
            mail_from,
            public_url,
            storage_dir,
            s3,
            refund_window,
            upload_limit,
            download_signing_key,
            shop_name,
            contact_email,
            content_dir,
        })
    }

    pub fn database_url(&self) -> &str {
        self.database_url.expose_secret()
    }
}

/// An optional yes/no setting: unset (or empty) is `None`.
fn yes_or_no(
    get: impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<bool>, SettingsError> {
    match get(name).as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("1" | "true" | "yes") => Ok(Some(true)),
        Some("0" | "false" | "no") => Ok(Some(false)),
        Some(_) => Err(SettingsError::Invalid {
            name,
            why: "it must be true or false",
        }),
    }
}

/// A whole number above zero, or `default` when unset.
fn positive(
    get: impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<NonZeroU32, SettingsError> {
    let invalid = SettingsError::Invalid {
        name,
        why: "it must be a whole number above zero",
    };
    match get(name).as_deref().map(str::trim) {
        None | Some("") => NonZeroU32::new(default).ok_or(invalid),
        Some(v) => v.parse::<NonZeroU32>().map_err(|_| invalid),
    }
}

fn key_mode<'a>(key: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    let rest = prefixes.iter().find_map(|p| key.strip_prefix(p))?;
    let (mode, tail) = rest.split_once('_')?;
    (matches!(mode, "test" | "live") && !tail.is_empty()).then_some(mode)
}

/// An S3-compatible bucket: AWS S3 itself, or any service that speaks its API (MinIO, R2,
/// Ceph; the tests use moto's server).
#[derive(Clone)]
pub struct S3Settings {
    /// `STORAGE_S3_BUCKET`.
    pub bucket: String,
    /// `STORAGE_S3_ENDPOINT`: unset for AWS itself.
    pub endpoint: Option<String>,
    /// `STORAGE_S3_REGION`, `us-east-1` by default.
    pub region: String,
    /// `STORAGE_S3_ACCESS_KEY_ID` and `STORAGE_S3_SECRET_ACCESS_KEY`, both or neither; neither
    /// means the machine's own credentials (an instance role, say).
    pub credentials: Option<(String, SecretString)>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("credentials", &self.credentials.as_ref().map(|(id, _)| id))
            .finish()
    }
}

impl S3Settings {
    fn read(get: &impl Fn(&str) -> Option<String>, bucket: String) -> Result<Self, SettingsError> {
        let value = |name| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let endpoint = match value("STORAGE_S3_ENDPOINT") {
            Some(url) => Some(http_url(&url, "STORAGE_S3_ENDPOINT")?),
            None => None,
        };
        let credentials = match (
            value("STORAGE_S3_ACCESS_KEY_ID"),
            value("STORAGE_S3_SECRET_ACCESS_KEY"),
        ) {
            (Some(id), Some(secret)) => Some((id, SecretString::from(secret))),
            (None, None) => None,
            (None, Some(_)) => return Err(SettingsError::Missing("STORAGE_S3_ACCESS_KEY_ID")),
            (Some(_), None) => return Err(SettingsError::Missing("STORAGE_S3_SECRET_ACCESS_KEY")),
        };
        Ok(Self {
            bucket,
            endpoint,
            region: value("STORAGE_S3_REGION").unwrap_or_else(|| "us-east-1".to_string()),
            credentials,
        })
    }
}

fn http_url(url: &str, name: &'static str) -> Result<String, SettingsError> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() > 8
        && !url.contains(char::is_whitespace);
    if ok {
        Ok(url.to_string())
    } else {
        Err(SettingsError::Invalid {
            name,
            why: "it must be an http(s) URL",
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        ("DATABASE_URL", "postgres://localhost/x"),
        ("STRIPE_SECRET_KEY", "sk_test_abc"),
        ("STRIPE_PUBLISHABLE_KEY", "pk_test_abc"),
    ];

    #[test]
    fn cookie_secure_is_read_as_a_yes_or_no_and_otherwise_left_to_the_address() {
        let read = |value: Option<&str>| {
            let mut pairs = BASE.to_vec();
            pairs.extend(value.map(|v| ("COOKIE_SECURE", v)));
            with(&pairs).map(|s| s.secure_cookies)
        };
        assert_eq!(read(None), Ok(None));
        assert_eq!(read(Some("true")), Ok(Some(true)));
        assert_eq!(read(Some("false")), Ok(Some(false)));
        assert!(matches!(
            read(Some("sometimes")),
            Err(SettingsError::Invalid {
                name: "COOKIE_SECURE",
                ..
            })
        ));
    }

    #[test]
    fn numbers_default_when_unset_and_refuse_zero_or_words() {
        let defaults = with(BASE).unwrap();
        assert_eq!(defaults.order_ttl, Duration::from_secs(24 * 3600));
        assert_eq!(defaults.retention, Duration::from_secs(90 * 24 * 3600));
        assert_eq!(defaults.limits, LimitSettings::default());
        assert!(!defaults.trust_forwarded_for);
        let mut pairs = BASE.to_vec();
        pairs.push(("ORDER_TTL_HOURS", "2"));
        pairs.push(("CHECKOUT_STARTS_PER_MINUTE", "5"));
        let set = with(&pairs).unwrap();
        assert_eq!(set.order_ttl, Duration::from_secs(2 * 3600));
        assert_eq!(set.limits.checkout_starts_per_minute.get(), 5);
        for bad in ["0", "-1", "soon", "1.5"] {
            let mut pairs = BASE.to_vec();
            pairs.push(("DATA_RETENTION_DAYS", bad));
            assert!(
                matches!(
                    with(&pairs),
                    Err(SettingsError::Invalid {
                        name: "DATA_RETENTION_DAYS",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn live_keys_need_a_download_signing_key_of_their_own() {
        let live = [
            ("DATABASE_URL", "postgres://localhost/x"),
            ("STRIPE_SECRET_KEY", "sk_live_abc"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_live_abc"),
        ];
        assert_eq!(
            with(&live).unwrap_err(),
            SettingsError::Missing("DOWNLOAD_SIGNING_KEY")
        );
        let mut keyed = live.to_vec();
        keyed.push(("DOWNLOAD_SIGNING_KEY", "short"));
        assert!(matches!(
            with(&keyed),
            Err(SettingsError::Invalid {
                name: "DOWNLOAD_SIGNING_KEY",
                ..
            })
        ));
        keyed.pop();
        keyed.push((
            "DOWNLOAD_SIGNING_KEY",
            "a-long-enough-key-for-signing-links-0123",
        ));
        keyed.push(("PUBLIC_URL", "https://shop.example"));
        keyed.push(("SHOP_CONTACT_EMAIL", "help@shop.example"));
        assert!(with(&keyed).unwrap().live_mode);
        // Test keys start without one (a new key each start).
        assert!(with(BASE).unwrap().download_signing_key.is_none());
    }

    #[test]
    fn live_keys_are_never_served_over_plain_http() {
        let live = [
            ("DATABASE_URL", "postgres://localhost/x"),
            ("STRIPE_SECRET_KEY", "sk_live_abc"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_live_abc"),
            (
                "DOWNLOAD_SIGNING_KEY",
                "a-long-enough-key-for-signing-links-0123",
            ),
        ];
        let refused = |extra: Option<(&'static str, &'static str)>| {
            let mut vars = live.to_vec();
            vars.extend(extra);
            matches!(
                with(&vars),
                Err(SettingsError::Invalid {
                    name: "PUBLIC_URL",
                    ..
                })
            )
        };
        assert!(refused(None), "no address: the default is plain http");
        assert!(refused(Some(("PUBLIC_URL", "http://shop.example"))));
        assert!(!refused(Some(("PUBLIC_URL", "https://shop.example"))));
        // Test keys may run anywhere.
        let mut test = BASE.to_vec();
        test.push(("PUBLIC_URL", "http://shop.example"));
        assert!(with(&test).is_ok());
    }

    #[test]
    fn a_missing_setting_is_named() {
        assert_eq!(
            with(&BASE[..2]).unwrap_err(),
            SettingsError::Missing("STRIPE_PUBLISHABLE_KEY")
        );
        assert!(
            with(&BASE[1..])
                .unwrap_err()
                .to_string()
                .contains("DATABASE_URL")
        );
    }

    #[test]
    fn keys_of_the_wrong_kind_or_mixed_modes_are_refused() {
        let swapped = [BASE[0], ("STRIPE_SECRET_KEY", "pk_test_abc"), BASE[2]];
        assert!(matches!(
            with(&swapped),
            Err(SettingsError::Invalid {
                name: "STRIPE_SECRET_KEY",
                ..
            })
        ));
        let mixed = [BASE[0], ("STRIPE_SECRET_KEY", "sk_live_abc"), BASE[2]];
        assert!(matches!(
            with(&mixed),
            Err(SettingsError::Invalid {
                name: "STRIPE_PUBLISHABLE_KEY",
                ..
            })
        ));
    }

    #[test]
    fn several_webhook_secrets_can_be_set_for_a_roll() {
        let mut pairs = BASE.to_vec();
        pairs.push(("STRIPE_WEBHOOK_SECRET", "whsec_old, whsec_new"));
        assert_eq!(with(&pairs).unwrap().webhook_secrets.len(), 2);
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let pairs = [
            (
                "DATABASE_URL",
                "postgres://shop:db_password_xyz@localhost/x",
            ),
            ("STRIPE_SECRET_KEY", "sk_test_abc"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_one_xyz,whsec_two_xyz"),
            ("SMTP_URL", "smtp://shop:smtp_password_xyz@mail.example:587"),
        ];
        let debug = format!("{:?}", with(&pairs).unwrap());
        for secret in [
            "db_password_xyz",
            "sk_test_abc",
            "whsec_one_xyz",
            "whsec_two_xyz",
            "smtp_password_xyz",
        ] {
            assert!(!debug.contains(secret), "{secret} shows in {debug}");
        }
        assert!(
            debug.contains("pk_test_abc"),
            "the publishable key is not a secret: {debug}"
        );
    }

    #[test]
    fn a_bucket_needs_both_halves_of_its_key_or_neither_and_an_http_endpoint() {
        let read = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = BASE.to_vec();
            pairs.push(("STORAGE_S3_BUCKET", "shop-files"));
            pairs.extend_from_slice(extra);
            with(&pairs).map(|s| s.s3)
        };
        let plain = read(&[]).unwrap().unwrap();
        assert_eq!(plain.bucket, "shop-files");
        assert_eq!(plain.region, "us-east-1");
        assert!(plain.endpoint.is_none() && plain.credentials.is_none());
        assert!(matches!(
            read(&[("STORAGE_S3_ACCESS_KEY_ID", "id")]),
            Err(SettingsError::Missing("STORAGE_S3_SECRET_ACCESS_KEY"))
        ));
        assert!(matches!(
            read(&[("STORAGE_S3_SECRET_ACCESS_KEY", "secret")]),
            Err(SettingsError::Missing("STORAGE_S3_ACCESS_KEY_ID"))
        ));
        assert!(matches!(
            read(&[("STORAGE_S3_ENDPOINT", "minio:9000")]),
            Err(SettingsError::Invalid {
                name: "STORAGE_S3_ENDPOINT",
                ..
            })
        ));
        assert!(with(BASE).unwrap().s3.is_none());
    }

    #[test]
    fn the_refund_window_is_fourteen_days_unless_set_and_zero_turns_it_off() {
        assert_eq!(
            with(BASE).unwrap().refund_window,
            Duration::from_secs(14 * 24 * 3600)
        );
        let mut pairs = BASE.to_vec();
        pairs.push(("REFUND_WINDOW_DAYS", "0"));
        assert_eq!(with(&pairs).unwrap().refund_window, Duration::ZERO);
        let mut pairs = BASE.to_vec();
        pairs.push(("REFUND_WINDOW_DAYS", "two weeks"));
        assert!(matches!(
            with(&pairs),
            Err(SettingsError::Invalid {
                name: "REFUND_WINDOW_DAYS",
                ..
            })
        ));
    }

    #[test]
    fn the_shop_is_named_and_reached_as_set_or_from_its_mail_sender() {
        let shop = with(BASE).unwrap();
        assert_eq!(shop.shop_name, "storefront");
        assert_eq!(shop.contact_email, "shop@localhost");
        assert_eq!(shop.content_dir, std::path::PathBuf::from("content"));
        let mut pairs = BASE.to_vec();
        pairs.push(("MAIL_FROM", "Grain & Tone <hello@grain.example>"));
        assert_eq!(with(&pairs).unwrap().contact_email, "hello@grain.example");
        pairs.extend([
            ("SHOP_NAME", " Grain & Tone "),
            ("SHOP_CONTACT_EMAIL", "help@grain.example"),
            ("CONTENT_DIR", "/srv/shop/content"),
        ]);
        let shop = with(&pairs).unwrap();
        assert_eq!(shop.shop_name, "Grain & Tone");
        assert_eq!(shop.contact_email, "help@grain.example");
        assert_eq!(
            shop.content_dir,
            std::path::PathBuf::from("/srv/shop/content")
        );
        // A live shop must give shoppers a real address.
        let live = [
            ("DATABASE_URL", "postgres://localhost/x"),
            ("STRIPE_SECRET_KEY", "sk_live_abc"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_live_abc"),
            ("PUBLIC_URL", "https://grain.example"),
            ("DOWNLOAD_SIGNING_KEY", "0123456789abcdef0123456789abcdef"),
        ];
        assert!(matches!(
            with(&live),
            Err(SettingsError::Invalid {
                name: "SHOP_CONTACT_EMAIL",
                ..
            })
        ));
        let mut pairs = live.to_vec();
        pairs.push(("MAIL_FROM", "Grain <hello@grain.example>"));
        assert_eq!(with(&pairs).unwrap().contact_email, "hello@grain.example");
        for (name, bad) in [
            ("SHOP_CONTACT_EMAIL", "not an address"),
            ("SHOP_NAME", "two\nlines"),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.push((name, bad));
            assert!(
                matches!(with(&pairs), Err(SettingsError::Invalid { name: n, .. }) if n == name),
                "{name}={bad}"
            );
        }
    }
}

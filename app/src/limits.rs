//! Rate limits on what makes the shop call Stripe for an anonymous visitor: opening checkout
//! (a PaymentIntent, or at least a database write and a session) and reading a payment's state
//! from Stripe on the order page. Counted per client address and, for checkout, per session
//! too, with governor's keyed GCRA limiters, in memory: each server counts its own requests,
//! which is what a limit against one abusive client needs.
//!
//! Past the checkout limit the shopper is told to wait (429 with `Retry-After`). Past the read
//! limit the order page shows what the database knows instead of asking Stripe, since webhooks
//! keep it current anyway.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How many of each a client may do per minute. A burst of the same size is allowed, so a
/// shopper who opens several products at once is never slowed down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Checkout starts per minute, per client address and per session. 30 by default: far
    /// above what a person does, far below what a card-testing script needs.
    pub checkout_starts_per_minute: NonZeroU32,
    /// Order-page reads that ask Stripe, per minute per client address.
    pub stripe_reads_per_minute: NonZeroU32,
    /// Sign-ins, sign-ups and reset requests per minute, per client address and per email:
    /// 10 by default, so guessing passwords goes nowhere and a mistyped password costs
    /// nothing.
    pub account_attempts_per_minute: NonZeroU32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            checkout_starts_per_minute: NonZeroU32::new(30).expect("nonzero"),
            stripe_reads_per_minute: NonZeroU32::new(60).expect("nonzero"),
            account_attempts_per_minute: NonZeroU32::new(10).expect("nonzero"),
        }
    }
}

/// The limiters of one server.
pub struct Limits {
    checkout_by_client: DefaultKeyedRateLimiter<IpAddr>,
    checkout_by_session: DefaultKeyedRateLimiter<String>,
    stripe_reads_by_client: DefaultKeyedRateLimiter<IpAddr>,
    accounts_by_client: DefaultKeyedRateLimiter<IpAddr>,
    accounts_by_email: DefaultKeyedRateLimiter<String>,
}

/// A request over its limit, and how long until the next one would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub retry_after: Duration,
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Self {
        let checkout = Quota::per_minute(settings.checkout_starts_per_minute);
        Self {
            checkout_by_client: RateLimiter::keyed(checkout),
            checkout_by_session: RateLimiter::keyed(checkout),
            stripe_reads_by_client: RateLimiter::keyed(Quota::per_minute(
                settings.stripe_reads_per_minute,
            )),
            accounts_by_client: RateLimiter::keyed(Quota::per_minute(
                settings.account_attempts_per_minute,
            )),
            accounts_by_email: RateLimiter::keyed(Quota::per_minute(
                settings.account_attempts_per_minute,
            )),
        }
    }

    /// Counts one checkout start from `client` (and `session`, once the browser has one).
    pub fn checkout_start(&self, client: IpAddr, session: Option<&str>) -> Result<(), Exceeded> {
        check(&self.checkout_by_client, &client)?;
        if let Some(session) = session {
            check(&self.checkout_by_session, &session.to_string())?;
        }
        Ok(())
    }

    /// Counts a session made by the checkout start that was just let through (counted then by
    /// its address only), so a session's allowance includes its first start.
    pub fn count_new_session(&self, session: &str) {
        let _ = self.checkout_by_session.check_key(&session.to_string());
    }

    /// Counts one sign-in, sign-up or reset request from `client` for `email` (lower-cased, so
    /// one account is one key however it is typed).
    pub fn account_attempt(&self, client: IpAddr, email: &str) -> Result<(), Exceeded> {
        check(&self.accounts_by_client, &client)?;
        check(&self.accounts_by_email, &email.trim().to_lowercase())
    }

    /// Counts one use of a link from `client` (verification, reset): the email is not known
    /// before the link is checked.
    pub fn link_attempt(&self, client: IpAddr) -> Result<(), Exceeded> {
        check(&self.accounts_by_client, &client)
    }

    /// Whether `client` may have the order page ask Stripe once more now.
    pub fn stripe_read(&self, client: IpAddr) -> bool {
        check(&self.stripe_reads_by_client, &client).is_ok()
    }

    /// Drops the counts of clients that are back to a full allowance, so memory follows the
    /// number of recent clients rather than of all clients ever seen.
    pub fn forget_idle(&self) {
        self.checkout_by_client.retain_recent();
        self.checkout_by_session.retain_recent();
        self.stripe_reads_by_client.retain_recent();
        self.accounts_by_client.retain_recent();
        self.accounts_by_email.retain_recent();
        self.accounts_by_client.shrink_to_fit();
        self.accounts_by_email.shrink_to_fit();
        self.checkout_by_client.shrink_to_fit();
        self.checkout_by_session.shrink_to_fit();
        self.stripe_reads_by_client.shrink_to_fit();
    }
}

/// The address a request comes from: the connection's peer, or, when the shop sits behind a
/// proxy it is told to trust (`TRUST_FORWARDED_FOR`), the last entry of the last
/// `X-Forwarded-For` header, the one that proxy added. Earlier entries are whatever the client
/// sent and never counted. An IPv6 address stands for its /64, which one household or server
/// usually holds whole, so rotating through it gains nothing.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trust_forwarded_for: bool,
) -> IpAddr {
    let address = if trust_forwarded_for {
        forwarded_for
            .last()
            .and_then(|list| list.rsplit(',').next())
            .and_then(|last| parse_address(last.trim()))
            .unwrap_or(peer)
    } else {
        peer
    };
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
        v4 => v4,
    }
}

/// An address as proxies write it: `203.0.113.9`, `203.0.113.9:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

fn check<K>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), Exceeded>
where
    K: std::hash::Hash + Eq + Clone,
{
    limiter.check_key(key).map_err(|not_until| Exceeded {
        retry_after: not_until.wait_time_from(limiter.clock().now()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(per_minute: u32) -> LimitSettings {
        LimitSettings {
            checkout_starts_per_minute: NonZeroU32::new(per_minute).unwrap(),
            stripe_reads_per_minute: NonZeroU32::new(per_minute).unwrap(),
            account_attempts_per_minute: NonZeroU32::new(per_minute).unwrap(),
        }
    }

    #[test]
    fn a_client_past_its_checkout_starts_is_refused_while_another_is_not() {
        let limits = Limits::new(settings(3));
        let one: IpAddr = "203.0.113.1".parse().unwrap();
        let two: IpAddr = "203.0.113.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limits.checkout_start(one, None), Ok(()));
        }
        let refused = limits.checkout_start(one, None).unwrap_err();
        assert!(
            refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(20)
        );
        assert_eq!(limits.checkout_start(two, None), Ok(()));
    }

    #[test]
    fn one_session_is_limited_across_client_addresses() {
        let limits = Limits::new(settings(2));
        for n in 0..2u8 {
            let client = IpAddr::from([198, 51, 100, n]);
            assert_eq!(limits.checkout_start(client, Some("s1")), Ok(()));
        }
        let elsewhere = IpAddr::from([198, 51, 100, 9]);
        assert!(limits.checkout_start(elsewhere, Some("s1")).is_err());
        assert_eq!(limits.checkout_start(elsewhere, Some("s2")), Ok(()));
    }

    #[test]
    fn only_a_trusted_proxy_s_forwarded_address_counts() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let at = |s: &str| s.parse::<IpAddr>().unwrap();
        let one = || ["198.51.100.1, 203.0.113.9"].into_iter();
        assert_eq!(client_address(peer, one(), false), peer);
        assert_eq!(client_address(peer, one(), true), at("203.0.113.9"));
        // A client's own header line comes before the proxy's.
        let two = ["203.0.113.66", "198.51.100.1, 203.0.113.9"].into_iter();
        assert_eq!(client_address(peer, two, true), at("203.0.113.9"));
        assert_eq!(
            client_address(peer, ["203.0.113.9:4711"].into_iter(), true),
            at("203.0.113.9")
        );
        assert_eq!(
            client_address(peer, ["not an address"].into_iter(), true),
            peer
        );
        assert_eq!(client_address(peer, std::iter::empty(), true), peer);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_block() {
        let peer = |s: &str| s.parse::<IpAddr>().unwrap();
        let a = client_address(peer("2001:db8:1:2:aaaa::1"), std::iter::empty(), false);
        let b = client_address(peer("2001:db8:1:2:bbbb::9"), std::iter::empty(), false);
        let elsewhere = client_address(peer("2001:db8:1:3::1"), std::iter::empty(), false);
        assert_eq!(a, b);
        assert_ne!(a, elsewhere);
        let proxied = client_address(
            peer("10.0.0.1"),
            ["[2001:db8:1:2::7]:443"].into_iter(),
            true,
        );
        assert_eq!(proxied, a);
        assert_eq!(
            client_address(peer("::ffff:192.0.2.1"), std::iter::empty(), false),
            peer("192.0.2.1")
        );
    }

    #[test]
    fn stripe_reads_stop_at_their_limit() {
        let limits = Limits::new(settings(2));
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(limits.stripe_read(client));
        assert!(limits.stripe_read(client));
        assert!(!limits.stripe_read(client));
    }
}

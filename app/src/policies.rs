//! The shop's policy pages (terms, refund policy, privacy): Markdown the seller keeps in
//! `CONTENT_DIR`, read each time a page asks for it so an edit shows without a restart, or the
//! text built into the shop when the file is not there.
//!
//! The text may name `{{shop_name}}`, `{{contact_email}}`, `{{refund_days}}` and
//! `{{refund_terms}}` (a sentence on whether and for how long refunds are offered), so it
//! stays true when the settings change.

use std::time::Duration;

use crate::catalog::render_markdown;
use crate::models::Policy;
use crate::state::ShopInfo;

/// The text a policy page shows when the seller has written none.
pub fn built_in(policy: Policy) -> &'static str {
    match policy {
        Policy::Terms => include_str!("../../content/terms.md"),
        Policy::RefundPolicy => include_str!("../../content/refund-policy.md"),
        Policy::Privacy => include_str!("../../content/privacy.md"),
    }
}

/// A policy page's body as HTML: the seller's file or the built-in text, filled in, rendered
/// and sanitised as a product's description is.
pub async fn html(shop: &ShopInfo, refund_window: Duration, policy: Policy) -> String {
    let path = shop.content_dir.join(format!("{}.md", policy.slug()));
    let read = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || std::fs::read_to_string(path)).await
    };
    let markdown = match read.unwrap_or_else(|e| Err(std::io::Error::other(e))) {
        Ok(text) => text,
        Err(error) => {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), %error, "could not read a policy page; showing the built-in text");
            }
            built_in(policy).to_string()
        }
    };
    render_markdown(&fill(&markdown, shop, refund_window))
}

/// Refunds in a sentence: how long a shopper has, or that they are not offered.
pub fn refund_terms(refund_window: Duration, contact_email: &str) -> String {
    match refund_days(refund_window) {
        0 => format!(
            "Refunds are not offered from your account. If something is wrong with a purchase, \
             write to us at <{contact_email}>."
        ),
        1 => "You can ask for a refund within 1 day of paying, from your receipt in your \
              account."
            .to_string(),
        days => format!(
            "You can ask for a refund within {days} days of paying, from your receipt in your \
             account."
        ),
    }
}

pub fn refund_days(refund_window: Duration) -> u64 {
    refund_window.as_secs() / (24 * 3600)
}

fn fill(markdown: &str, shop: &ShopInfo, refund_window: Duration) -> String {
    markdown
        .replace(
            "{{refund_terms}}",
            &refund_terms(refund_window, &shop.contact_email),
        )
        .replace("{{refund_days}}", &refund_days(refund_window).to_string())
        .replace("{{shop_name}}", &markdown_text(&shop.name))
        .replace("{{contact_email}}", &shop.contact_email)
}

/// Text put into Markdown as itself: every character Markdown could read as markup is
/// escaped with a backslash.
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_{}[]()<>#+-.!|~&".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shop_name_with_markdown_in_it_stays_text() {
        let shop = ShopInfo {
            name: "*Grain* [Tone](javascript:x) <b>".into(),
            ..shop()
        };
        let html = render_markdown(&fill("{{shop_name}} sells.", &shop, Duration::ZERO));
        assert_eq!(
            html,
            "<p>*Grain* [Tone](javascript:x) &lt;b&gt; sells.</p>\n"
        );
    }

    fn shop() -> ShopInfo {
        ShopInfo {
            name: "Grain & Tone".into(),
            contact_email: "help@grain.example".into(),
            content_dir: "/nonexistent".into(),
            public_url: None,
            stylesheet: "/pkg/storefront.css".into(),
        }
    }

    #[tokio::test]
    async fn the_built_in_refund_policy_names_the_window_and_the_address() {
        let days = Duration::from_secs(30 * 24 * 3600);
        let page = html(&shop(), days, Policy::RefundPolicy).await;
        assert!(page.contains("within 30 days of paying"), "{page}");
        assert!(page.contains("mailto:help@grain.example"), "{page}");
        assert!(!page.contains("{{"), "{page}");
        let off = html(&shop(), Duration::ZERO, Policy::RefundPolicy).await;
        assert!(off.contains("Refunds are not offered"), "{off}");
    }

    #[tokio::test]
    async fn the_sellers_own_file_replaces_the_built_in_text_and_is_sanitised() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("terms.md"),
            "# Our terms\n\n{{shop_name}} sells.<script>alert(1)</script>",
        )
        .unwrap();
        let shop = ShopInfo {
            content_dir: dir.path().into(),
            ..shop()
        };
        let page = html(&shop, Duration::ZERO, Policy::Terms).await;
        assert!(page.contains("<h1>Our terms</h1>"), "{page}");
        assert!(page.contains("Grain &amp; Tone sells."), "{page}");
        assert!(!page.contains("<script"), "{page}");
        // The others keep the built-in text.
        let privacy = html(&shop, Duration::ZERO, Policy::Privacy).await;
        assert!(privacy.contains("<h1>Privacy</h1>"), "{privacy}");
    }
}

//! Pages the server answers itself, outside the Leptos app (a request past its deadline), in
//! the layout of `pages/src/lib.rs` (header, footer and stylesheet): keep the two in step.

use app::state::ShopInfo;

/// A page with one heading, one message and a way back to the catalog.
pub fn plain_page(shop: &ShopInfo, heading: &str, message: &str) -> String {
    let name = html_escape::encode_text(&shop.name);
    let contact = html_escape::encode_double_quoted_attribute(&shop.contact_email);
    let heading = html_escape::encode_text(heading);
    let message = html_escape::encode_text(message);
    let stylesheet = html_escape::encode_double_quoted_attribute(&shop.stylesheet);
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading} · {name}</title><link rel="stylesheet" href="{stylesheet}"></head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="masthead"><div class="site-header"><a href="/" class="brand">{name}</a>
<nav aria-label="Main"><a href="/">Catalog</a></nav></div></header>
<main id="main" tabindex="-1"><section class="problem"><h1>{heading}</h1>
<p role="alert">{message}</p>
<p class="way-on"><a href="/">Back to the catalog</a></p></section></main>
<footer class="site-footer"><p class="shop">{name}</p>
<nav aria-label="Shop policies"><a href="/terms">Terms</a> <a href="/refund-policy">Refund policy</a>
<a href="/privacy">Privacy</a> <a href="mailto:{contact}">{contact}</a></nav></footer>
</body>
</html>
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_page_escapes_what_it_is_given() {
        let shop = ShopInfo {
            name: "<b>Grain</b>".into(),
            contact_email: "help@grain.example".into(),
            content_dir: "content".into(),
            public_url: None,
            stylesheet: "/pkg/storefront.css".into(),
        };
        let page = plain_page(&shop, "Busy", "Try <later>.");
        assert!(page.contains("&lt;b&gt;Grain&lt;/b&gt;"), "{page}");
        assert!(page.contains("Try &lt;later&gt;."), "{page}");
        assert!(
            page.contains(r#"href="mailto:help@grain.example""#),
            "{page}"
        );
    }
}

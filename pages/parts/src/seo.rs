//! What search engines and link previews read of a page: its description, canonical address
//! and Open Graph tags, and for a product its `schema.org/Product` data. All of it server HTML.

use leptos::prelude::*;
use leptos_meta::{Link, Meta};

use app::models::Product;

/// The shop's public address (`PUBLIC_URL`, or the address it listens on), for the absolute
/// links metadata needs.
fn base_url() -> String {
    use_context::<app::state::AppState>()
        .map_or_else(String::new, |state| state.shop.base_url().to_string())
}

/// The shop's name, for `og:site_name`.
fn shop_name() -> String {
    use_context::<app::state::AppState>().map_or_else(String::new, |state| state.shop.name.clone())
}

/// A page's description, canonical address and link-preview tags. `path` is the page's own
/// path (`/products/…`); `image` a path on this site.
#[component]
pub fn PageMeta(
    #[prop(into)] title: String,
    #[prop(into)] description: String,
    #[prop(into)] path: String,
    #[prop(optional_no_strip)] image: Option<String>,
    #[prop(default = "website")] kind: &'static str,
) -> impl IntoView {
    let base = base_url();
    let url = format!("{base}{path}");
    view! {
        <Meta name="description" content=description.clone()/>
        <Link rel="canonical" href=url.clone()/>
        <Meta property="og:type" content=kind/>
        <Meta property="og:site_name" content=shop_name()/>
        <Meta property="og:title" content=title/>
        <Meta property="og:description" content=description/>
        <Meta property="og:url" content=url/>
        {image.map(|image| view! {
            <Meta property="og:image" content=format!("{base}{image}")/>
            <Meta name="twitter:card" content="summary_large_image"/>
        })}
    }
}

/// A product as `schema.org/Product` JSON-LD: its name, description, image and offer (price
/// and currency as the catalog has them).
#[component]
pub fn ProductData(product: Product) -> impl IntoView {
    let json = product_json_ld(&product, &base_url());
    view! { <script type="application/ld+json" inner_html=json></script> }
}

/// The JSON-LD for a product. `<`, `>` and `&` are written as escapes, so no text in it can
/// end the script element it sits in.
pub fn product_json_ld(product: &Product, base: &str) -> String {
    let url = format!("{base}/products/{}", product.slug);
    let price = product
        .price
        .map_or_else(|| "0".to_string(), |m| m.currency().plain(m.minor()));
    let offer = [
        ("@type", json_string("Offer")),
        ("price", json_string(&price)),
        (
            "priceCurrency",
            json_string(&product.currency.code().to_ascii_uppercase()),
        ),
        ("availability", json_string("https://schema.org/InStock")),
        ("url", json_string(&url)),
    ];
    let mut fields = vec![
        ("@context", json_string("https://schema.org")),
        ("@type", json_string("Product")),
        ("name", json_string(&product.title)),
        ("description", json_string(&product.summary)),
        ("sku", json_string(&product.slug)),
        ("url", json_string(&url)),
    ];
    if let Some(image) = &product.preview {
        fields.push(("image", json_string(&format!("{base}{image}"))));
    }
    fields.push(("offers", object(&offer)));
    object(&fields)
}

fn object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", json_string(k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// A JSON string, with `<`, `>` and `&` escaped as well (safe inside `<script>`).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::{Currency, Money, ProductKind};

    fn product(title: &str, price: Option<Money>) -> Product {
        Product {
            slug: "tokyo-night-presets".into(),
            title: title.into(),
            description: String::new(),
            description_html: String::new(),
            summary: "Presets </script><script>alert(1)</script>".into(),
            preview: Some("/media/ab.jpg".into()),
            kind: ProductKind::Download,
            price,
            currency: price.map_or(Currency::Usd, |m| m.currency()),
            credits: None,
            price_credits: None,
            file: None,
            membership_days: None,
        }
    }

    #[test]
    fn product_data_names_the_price_in_the_currencys_units_and_cannot_end_its_script() {
        let yen = Money::new(1500, Currency::Jpy).unwrap();
        let json = product_json_ld(
            &product("Tokyo \"Night\"", Some(yen)),
            "https://shop.example",
        );
        assert!(!json.contains('<') && !json.contains('>'), "{json}");
        assert!(
            json.contains(r#""price":"1500","priceCurrency":"JPY""#),
            "{json}"
        );
        assert!(json.contains(r#""priceCurrency":"JPY""#), "{json}");
        assert!(json.contains(r#""name":"Tokyo \"Night\"""#), "{json}");
        assert!(
            json.contains(r#""image":"https://shop.example/media/ab.jpg""#),
            "{json}"
        );
        let usd = Money::new(1250, Currency::Usd).unwrap();
        let json = product_json_ld(&product("x", Some(usd)), "");
        assert!(json.contains(r#""price":"12.50""#), "{json}");
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["offers"]["priceCurrency"], "USD");
        assert_eq!(
            parsed["description"],
            "Presets </script><script>alert(1)</script>"
        );
    }
}

//! The catalog's data: published products read from the database, and the in-memory copy of
//! them that pages read (`cache`). Checkout reads a product's price here, never from the copy.

pub mod cache;
pub mod edit;
pub mod stripe_sync;

use sqlx::PgPool;

use crate::domain::{Currency, Money, ProductKind};
use crate::error::{OrInternal, ShopError};
use crate::models::{FileFacts, Product};

/// A product row as checkout needs it: its id and price as stored.
pub struct ProductRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub kind: ProductKind,
    pub price_minor: i64,
    pub currency: Currency,
    /// The credits a pack adds.
    pub credits: Option<i64>,
    /// What it costs in credits, if it may be unlocked with them.
    pub price_credits: Option<i64>,
    /// Its preview image in the storage.
    pub preview_key: Option<String>,
    /// Its file's name and size, for what the page says the buyer gets.
    pub file_name: Option<String>,
    pub file_size: Option<i64>,
    pub membership_days: Option<i32>,
}

/// Where a preview image in the storage is served: `/media/<sha256>.jpg`, a name that changes
/// with the bytes, so it may be cached for good.
pub fn preview_url(object_key: &str) -> String {
    format!("/media/{}.jpg", object_key.trim_start_matches("sha256/"))
}

/// A description as the seller wrote it (Markdown) as HTML a page may hold: rendered, then
/// sanitised, so no script, event handler, style or `javascript:` link survives, and links
/// to other sites carry `rel="noopener noreferrer nofollow"`.
pub fn render_markdown(markdown: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let mut raw = String::new();
    html::push_html(
        &mut raw,
        Parser::new_ext(
            markdown,
            Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES,
        ),
    );
    ammonia::Builder::default()
        .url_schemes(std::collections::HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&raw)
        .to_string()
}

/// A file's format as a shopper names it, from its name's extension: `PDF`, `ZIP`; `File`
/// when it has none.
pub fn file_format(filename: &str) -> String {
    match filename.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && (1..=5).contains(&ext.len())
                && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            ext.to_ascii_uppercase()
        }
        _ => "File".to_string(),
    }
}

/// A description as one line of plain text of at most `max` characters, cut at a word, for
/// a page's meta description and link previews.
pub fn summary(markdown: &str, max: usize) -> String {
    use pulldown_cmark::{Event, Parser, TagEnd};
    let mut text = String::new();
    for event in Parser::new(markdown) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::TableCell,
            ) => text.push(' '),
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = String::new();
    for word in words {
        let len = out.chars().count() + usize::from(!out.is_empty()) + word.chars().count();
        if len > max.saturating_sub(1) {
            out.push('…');
            return out;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

impl ProductRow {
    pub fn price(&self) -> Result<Money, ShopError> {
        Money::new(self.price_minor, self.currency).or_internal("bad product price")
    }

    pub fn into_product(self) -> Result<Product, ShopError> {
        let price = match self.price_minor {
            0 => None,
            _ => Some(self.price()?),
        };
        // A product without a description is still described to search engines.
        let description_line = match summary(&self.description, 160) {
            s if s.is_empty() => format!(
                "{}: {}, delivered at once.",
                self.title,
                self.kind.label().to_lowercase()
            ),
            s => s,
        };
        Ok(Product {
            slug: self.slug,
            title: self.title,
            description_html: render_markdown(&self.description),
            summary: description_line,
            currency: self.currency,
            description: self.description,
            preview: self.preview_key.as_deref().map(preview_url),
            kind: self.kind,
            price,
            credits: self.credits,
            price_credits: self.price_credits,
            file: self
                .file_name
                .as_deref()
                .zip(self.file_size)
                .map(|(name, size_bytes)| FileFacts {
                    format: file_format(name),
                    size_bytes,
                }),
            membership_days: self.membership_days,
        })
    }
}

/// Every published product, in catalog order, read from the database.
pub async fn published(pool: &PgPool) -> Result<Vec<Product>, ShopError> {
    sqlx::query_as!(
        ProductRow,
        r#"select id, slug, title, description, kind as "kind: ProductKind", price_minor,
                  currency as "currency: Currency",
                  credits, price_credits, preview_key,
                  f.filename as "file_name?", f.size_bytes as "file_size?",
                  membership_days
           from product left join product_file f on f.product_id = product.id
           where published order by created_at, id"#
    )
    .fetch_all(pool)
    .await
    .or_internal("Failed to list products")?
    .into_iter()
    .map(ProductRow::into_product)
    .collect()
}

/// One published product by its slug, with its price as stored now.
#[tracing::instrument(skip_all, fields(product = slug))]
pub async fn published_by_slug(pool: &PgPool, slug: &str) -> Result<Option<ProductRow>, ShopError> {
    sqlx::query_as!(
        ProductRow,
        r#"select id, slug, title, description, kind as "kind: ProductKind", price_minor,
                  currency as "currency: Currency",
                  credits, price_credits, preview_key,
                  f.filename as "file_name?", f.size_bytes as "file_size?",
                  membership_days
           from product left join product_file f on f.product_id = product.id
           where slug = $1 and published"#,
        slug
    )
    .fetch_optional(pool)
    .await
    .or_internal("Failed to read a product")
}

#[cfg(test)]
mod tests {
    use super::{file_format, render_markdown, summary};

    #[test]
    fn a_summary_is_plain_text_cut_at_a_word() {
        assert_eq!(
            summary("Some *grain*.\n\n- one\n- `two`", 160),
            "Some grain. one two"
        );
        assert_eq!(summary("alpha beta gamma", 12), "alpha beta…");
        assert_eq!(summary("Hi <b>there</b>", 160), "Hi there");
        assert_eq!(summary("<script>alert(1)</script>", 160), "");
    }

    #[test]
    fn a_files_format_is_its_extension_in_capitals() {
        assert_eq!(file_format("field-recordings.pdf"), "PDF");
        assert_eq!(file_format("presets.tar.gz"), "GZ");
        assert_eq!(file_format("README"), "File");
        assert_eq!(file_format(".hidden"), "File");
        assert_eq!(file_format("notes.a b"), "File");
    }

    #[test]
    fn markdown_renders_and_no_script_survives() {
        assert_eq!(
            render_markdown("Some *grain*."),
            "<p>Some <em>grain</em>.</p>\n"
        );
        for hostile in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<svg onload=alert(1)>",
            "<style>body{display:none}</style>",
        ] {
            let html = render_markdown(hostile);
            for bad in [
                "<script",
                "onerror",
                "javascript:",
                "<iframe",
                "onload",
                "<style",
            ] {
                assert!(!html.contains(bad), "{hostile} became {html}");
            }
        }
        let link = render_markdown("[site](https://example.com)");
        assert!(
            link.contains("rel=\"noopener noreferrer nofollow\""),
            "{link}"
        );
    }
}

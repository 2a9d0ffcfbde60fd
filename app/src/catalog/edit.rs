//! The seller's changes to the catalog, from `/admin/products`: a product's details checked and
//! saved, published, unpublished or archived, and its file and preview set. Every save bumps
//! the product's version, which tells the Stripe mirror (`stripe_sync`) it is behind. Orders
//! keep the amount they were made at, so a price change never changes what anyone paid.

use sqlx::PgPool;

use crate::domain::{Currency, InvalidInput, ProductKind, ProductSlug};
use crate::error::{OrInternal, ShopError};
use crate::models::{AdminProductLine, EditableProduct, ProductState};

pub const TITLE_LENGTH: &str = "Please give the product a title of at most 120 characters.";
pub const DESCRIPTION_LENGTH: &str = "Please keep the description under 20,000 characters.";
pub const BAD_SLUG: &str =
    "Please use lowercase letters, digits and single hyphens for the address.";
pub const SLUG_TAKEN: &str = "Another product already has that address.";
pub const PACK_NEEDS_CREDITS: &str =
    "A credit pack needs a price and the number of credits it adds.";
pub const BAD_CREDITS: &str = "Please enter the credits as a whole number above zero.";
pub const PRICE_TOO_LOW: &str =
    "Stripe does not take payments that small: please enter a higher price, or 0 for free.";
pub const PRICE_TOO_HIGH: &str =
    "That is more than Stripe takes in one payment (99,999,999 of the currency's smallest unit).";
pub const CHANGED_MEANWHILE: &str =
    "Someone changed this product while you were editing it. Please reload it and try again.";
pub const SOLD_KIND_OR_CURRENCY: &str = "This product has orders, so what it is and its \
     currency can no longer change (its buyers keep what they paid for). Make a new product \
     instead.";
pub const NEEDS_FILE: &str = "Add the product's file before publishing it.";
pub const UNPUBLISH_FIRST: &str = "Unpublish the product before archiving it.";
pub const ARCHIVED: &str = "This product is archived and can no longer change.";
pub const BAD_CURRENCY: &str = "Please choose a currency from the list.";
pub const BAD_KIND: &str = "Please choose what the product is from the list.";
pub const BAD_MEMBERSHIP_DAYS: &str = "Please enter the membership's length as a whole number of days from 1 to 3660, or leave it empty.";

/// A product's details as the admin's form sends them, before they are checked.
#[derive(Debug, Clone, Default)]
pub struct ProductForm {
    pub title: String,
    pub slug: String,
    pub description: String,
    pub kind: String,
    pub price: String,
    pub currency: String,
    pub credits: String,
    pub price_credits: String,
    pub membership_days: String,
}

/// Checked details, ready to save.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub title: String,
    pub slug: ProductSlug,
    pub description: String,
    pub kind: ProductKind,
    pub price_minor: i64,
    pub currency: Currency,
    pub credits: Option<i64>,
    pub price_credits: Option<i64>,
    /// How long a membership lasts; `None` for one without an end, and for other kinds.
    pub membership_days: Option<i32>,
}

fn whole(raw: &str) -> Result<Option<i64>, InvalidInput> {
    let raw = raw.trim().replace(',', "");
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(n) if n > 0 && n <= 1_000_000_000 => Ok(Some(n)),
        _ => Err(InvalidInput(BAD_CREDITS)),
    }
}

impl ProductForm {
    /// Checks every field; the first problem is what the seller is told.
    pub fn check(&self) -> Result<Draft, ShopError> {
        let title = self.title.trim().to_string();
        if title.is_empty() || title.chars().count() > 120 {
            return Err(ShopError::Invalid(TITLE_LENGTH.into()));
        }
        let slug = ProductSlug::parse(self.slug.trim())
            .map_err(|_| ShopError::Invalid(BAD_SLUG.into()))?;
        let description = self.description.replace("\r\n", "\n");
        if description.chars().count() > 20_000 {
            return Err(ShopError::Invalid(DESCRIPTION_LENGTH.into()));
        }
        let kind = match self.kind.as_str() {
            "download" => ProductKind::Download,
            "credits" => ProductKind::Credits,
            "membership" => ProductKind::Membership,
            _ => return Err(ShopError::Invalid(BAD_KIND.into())),
        };
        let currency: Currency = self
            .currency
            .parse()
            .map_err(|_| ShopError::Invalid(BAD_CURRENCY.into()))?;
        let price_minor = currency
            .parse_amount(&self.price)
            .map_err(|e| ShopError::Invalid(e.to_string()))?;
        if price_minor > crate::domain::Money::MAX_MINOR {
            return Err(ShopError::Invalid(PRICE_TOO_HIGH.into()));
        }
        if price_minor > 0 && price_minor < currency.minimum_charge() {
            return Err(ShopError::Invalid(PRICE_TOO_LOW.into()));
        }
        let credits = whole(&self.credits)?;
        let price_credits = whole(&self.price_credits)?;
        let (credits, price_credits) = match kind {
            ProductKind::Credits if price_minor == 0 || credits.is_none() => {
                return Err(ShopError::Invalid(PACK_NEEDS_CREDITS.into()));
            }
            // Credits do not buy credits.
            ProductKind::Credits => (credits, None),
            // A free product needs no credits either.
            _ if price_minor == 0 => (None, None),
            _ => (None, price_credits),
        };
        let membership_days = match self.membership_days.trim() {
            "" => None,
            raw => match raw.parse::<i32>() {
                Ok(days) if (1..=3660).contains(&days) => Some(days),
                _ => return Err(ShopError::Invalid(BAD_MEMBERSHIP_DAYS.into())),
            },
        }
        .filter(|_| kind == ProductKind::Membership);
        Ok(Draft {
            title,
            slug,
            description,
            kind,
            price_minor,
            currency,
            credits,
            price_credits,
            membership_days,
        })
    }
}

/// What a failed save tells the seller: the address is taken, or a rule the form's check does
/// not know of (the database has the last word); anything else is the shop's failure.
fn refused_save(e: sqlx::Error, context: &str) -> ShopError {
    let database = e.as_database_error();
    if database.and_then(|d| d.constraint()) == Some("product_slug_key") {
        ShopError::Invalid(SLUG_TAKEN.into())
    } else if database.is_some_and(|d| d.is_check_violation()) {
        ShopError::Invalid(PACK_NEEDS_CREDITS.into())
    } else {
        ShopError::failure(context, &e)
    }
}

/// Saves a new product, unpublished, and returns its id.
pub async fn create(pool: &PgPool, draft: &Draft) -> Result<i64, ShopError> {
    let id = sqlx::query_scalar!(
        "insert into product (slug, title, description, kind, price_minor, currency, credits,
                              price_credits, membership_days, published)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, false)
         returning id",
        draft.slug.as_str(),
        draft.title,
        draft.description,
        draft.kind as ProductKind,
        draft.price_minor,
        draft.currency as Currency,
        draft.credits,
        draft.price_credits,
        draft.membership_days
    )
    .fetch_one(pool)
    .await
    .map_err(|e| refused_save(e, "Failed to save a new product"))?;
    tracing::info!(product = id, slug = %draft.slug, "product created");
    Ok(id)
}

/// Saves changes to product `id`, made on the form of its `version`: a save over someone
/// else's change is refused rather than undoing it. Once a product has orders, what it is and
/// its currency stay as they were sold: a download's buyers keep a download, and its orders'
/// amounts keep the currency they were paid in.
pub async fn update(pool: &PgPool, id: i64, version: i32, draft: &Draft) -> Result<(), ShopError> {
    let mut tx = pool.begin().await.or_internal("Failed to save a product")?;
    // Waits for any order being made from the product (each holds it while it is written), so
    // that the check for orders below, a statement of its own, sees every one made so far.
    let now = sqlx::query!(
        r#"select version, kind as "kind: ProductKind", currency as "currency: Currency"
           from product where id = $1 and archived_at is null
           for update"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await
    .or_internal("Failed to read a product")?;
    let Some(now) = now.filter(|now| now.version == version) else {
        return Err(ShopError::Invalid(CHANGED_MEANWHILE.into()));
    };
    if (now.kind != draft.kind || now.currency != draft.currency) && has_orders(&mut tx, id).await?
    {
        return Err(ShopError::Invalid(SOLD_KIND_OR_CURRENCY.into()));
    }
    sqlx::query!(
        "update product
         set slug = $2, title = $3, description = $4, kind = $5, price_minor = $6,
             currency = $7, credits = $8, price_credits = $9, membership_days = $10,
             version = version + 1, updated_at = now()
         where id = $1",
        id,
        draft.slug.as_str(),
        draft.title,
        draft.description,
        draft.kind as ProductKind,
        draft.price_minor,
        draft.currency as Currency,
        draft.credits,
        draft.price_credits,
        draft.membership_days
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| refused_save(e, "Failed to save a product"))?;
    tx.commit().await.or_internal("Failed to save a product")?;
    tracing::info!(product = id, slug = %draft.slug, "product saved");
    Ok(())
}

/// Whether any order was ever made for product `id`: its kind and currency are then fixed.
async fn has_orders(conn: &mut sqlx::PgConnection, id: i64) -> Result<bool, ShopError> {
    sqlx::query_scalar!(
        r#"select exists (select from customer_order where product_id = $1) as "sold!""#,
        id
    )
    .fetch_one(conn)
    .await
    .or_internal("Failed to read a product's orders")
}

/// Publishes, unpublishes or archives product `id`. A download is published only with its file;
/// only an unpublished product is archived, and an archived one stays so.
pub async fn set_state(pool: &PgPool, id: i64, to: ProductState) -> Result<(), ShopError> {
    let row = sqlx::query!(
        r#"select p.published, p.archived_at is not null as "archived!",
                  p.kind as "kind: ProductKind", p.price_minor,
                  exists (select from product_file f where f.product_id = p.id) as "has_file!"
           from product p where p.id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await
    .or_internal("Failed to read a product")?
    .ok_or(ShopError::NotFound)?;
    if row.archived {
        return Err(ShopError::Invalid(ARCHIVED.into()));
    }
    match to {
        ProductState::Published if row.kind == ProductKind::Download && !row.has_file => {
            return Err(ShopError::Invalid(NEEDS_FILE.into()));
        }
        ProductState::Archived if row.published => {
            return Err(ShopError::Invalid(UNPUBLISH_FIRST.into()));
        }
        _ => {}
    }
    sqlx::query!(
        "update product
         set published = $2,
             archived_at = case when $3 then now() else null end,
             version = version + 1, updated_at = now()
         where id = $1 and archived_at is null",
        id,
        to == ProductState::Published,
        to == ProductState::Archived
    )
    .execute(pool)
    .await
    .or_internal("Failed to change a product's state")?;
    tracing::info!(product = id, state = ?to, "product state changed");
    Ok(())
}

/// Every product not archived, newest first.
pub async fn list(pool: &PgPool) -> Result<Vec<AdminProductLine>, ShopError> {
    let rows = sqlx::query!(
        r#"select slug, title, kind as "kind: ProductKind", price_minor,
                  currency as "currency: Currency", published, stripe_synced_version >= version
                  as "synced!", stripe_sync_error
           from product where archived_at is null
           order by created_at desc, id desc"#
    )
    .fetch_all(pool)
    .await
    .or_internal("Failed to list products")?;
    Ok(rows
        .into_iter()
        .map(|r| AdminProductLine {
            slug: r.slug,
            title: r.title,
            kind: r.kind,
            price: match r.price_minor {
                0 => "Free".into(),
                m => r.currency.format(m),
            },
            published: r.published,
            stripe: stripe_label(r.synced, r.stripe_sync_error.as_deref()),
        })
        .collect())
}

fn stripe_label(synced: bool, error: Option<&str>) -> String {
    match (synced, error) {
        (true, _) => "In step".into(),
        (false, Some(e)) => format!("Not synced: {e}"),
        (false, None) => "Waiting to sync".into(),
    }
}

/// The id of the product at `slug`, if it is not archived (the admin's actions on one).
pub async fn id_of(pool: &PgPool, slug: &ProductSlug) -> Result<i64, ShopError> {
    sqlx::query_scalar!(
        "select id from product where slug = $1 and archived_at is null",
        slug.as_str()
    )
    .fetch_optional(pool)
    .await
    .or_internal("Failed to read a product")?
    .ok_or(ShopError::NotFound)
}

/// One product as the edit form shows it; `None` if there is none (or it is archived).
pub async fn get(pool: &PgPool, slug: &ProductSlug) -> Result<Option<EditableProduct>, ShopError> {
    let row = sqlx::query!(
        r#"select p.id, p.slug, p.title, p.description, p.kind as "kind: ProductKind",
                  p.price_minor, p.currency as "currency: Currency", p.credits, p.price_credits,
                  p.membership_days, p.published, p.version, p.preview_key,
                  p.stripe_synced_version >= p.version as "synced!", p.stripe_sync_error,
                  p.stripe_product_id, f.filename as "filename?", f.size_bytes as "size_bytes?",
                  f.content_type as "content_type?",
                  exists (select from customer_order o where o.product_id = p.id) as "sold!"
           from product p left join product_file f on f.product_id = p.id
           where p.slug = $1 and p.archived_at is null"#,
        slug.as_str()
    )
    .fetch_optional(pool)
    .await
    .or_internal("Failed to read a product")?;
    Ok(row.map(|r| EditableProduct {
        id: r.id,
        slug: r.slug,
        title: r.title,
        description: r.description,
        kind: r.kind,
        price: r.currency.plain(r.price_minor),
        currency: r.currency,
        credits: r.credits,
        price_credits: r.price_credits,
        membership_days: r.membership_days,
        published: r.published,
        sold: r.sold,
        version: r.version,
        preview: r.preview_key.map(|k| super::preview_url(&k)),
        file: r.filename.map(|name| {
            format!(
                "{name} ({}, {})",
                r.content_type.unwrap_or_default(),
                crate::models::file_size(r.size_bytes.unwrap_or_default())
            )
        }),
        stripe: stripe_label(r.synced, r.stripe_sync_error.as_deref()),
        stripe_product_id: r.stripe_product_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ProductForm {
        ProductForm {
            title: "Field guide".into(),
            slug: "field-guide".into(),
            description: "A *guide*.".into(),
            kind: "download".into(),
            price: "12.50".into(),
            currency: "usd".into(),
            ..ProductForm::default()
        }
    }

    fn refused(f: ProductForm) -> String {
        match f.check() {
            Err(ShopError::Invalid(why)) => why,
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn a_form_in_the_currencys_own_format_is_read_into_minor_units() {
        let draft = form().check().unwrap();
        assert_eq!(draft.price_minor, 1250);
        let yen = ProductForm {
            price: "¥1,500".into(),
            currency: "jpy".into(),
            ..form()
        };
        assert_eq!(yen.check().unwrap().price_minor, 1500);
        let free = ProductForm {
            price: "0".into(),
            price_credits: "100".into(),
            ..form()
        };
        let free = free.check().unwrap();
        assert_eq!((free.price_minor, free.price_credits), (0, None));
    }

    #[test]
    fn each_bad_field_is_named_in_plain_words() {
        assert_eq!(
            refused(ProductForm {
                title: " ".into(),
                ..form()
            }),
            TITLE_LENGTH
        );
        assert_eq!(
            refused(ProductForm {
                slug: "Bad Slug".into(),
                ..form()
            }),
            BAD_SLUG
        );
        assert_eq!(
            refused(ProductForm {
                kind: "car".into(),
                ..form()
            }),
            BAD_KIND
        );
        assert_eq!(
            refused(ProductForm {
                currency: "xyz".into(),
                ..form()
            }),
            BAD_CURRENCY
        );
        assert_eq!(
            refused(ProductForm {
                price: "0.10".into(),
                ..form()
            }),
            PRICE_TOO_LOW
        );
        assert_eq!(
            refused(ProductForm {
                price: "15.5".into(),
                currency: "jpy".into(),
                ..form()
            }),
            crate::domain::AMOUNT_WHOLE
        );
        assert_eq!(
            refused(ProductForm {
                kind: "credits".into(),
                ..form()
            }),
            PACK_NEEDS_CREDITS
        );
        assert_eq!(
            refused(ProductForm {
                price_credits: "-4".into(),
                ..form()
            }),
            BAD_CREDITS
        );
    }

    #[test]
    fn a_membership_length_is_whole_days_and_only_for_memberships() {
        let month = ProductForm {
            kind: "membership".into(),
            membership_days: "30".into(),
            ..form()
        };
        assert_eq!(month.check().unwrap().membership_days, Some(30));
        let download = ProductForm {
            membership_days: "30".into(),
            ..form()
        };
        assert_eq!(download.check().unwrap().membership_days, None);
        for bad in ["0", "3661", "a month", "1.5"] {
            assert_eq!(
                refused(ProductForm {
                    kind: "membership".into(),
                    membership_days: bad.into(),
                    ..form()
                }),
                BAD_MEMBERSHIP_DAYS,
                "{bad}"
            );
        }
    }
}

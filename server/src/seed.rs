//! The demo catalog a first start puts into an empty database, so the shop has something to
//! sell out of the box: files, a credit pack and a membership, one priced in yen.

use sqlx::PgPool;

struct Demo {
    slug: &'static str,
    title: &'static str,
    description: &'static str,
    kind: &'static str,
    price_minor: i64,
    currency: &'static str,
}

const DEMO: &[Demo] = &[
    Demo {
        slug: "field-recordings-vol-1",
        title: "Field Recordings, Vol. 1",
        description: "Forty minutes of rain, harbour and night-train recordings as lossless FLAC files.",
        kind: "download",
        price_minor: 1200,
        currency: "usd",
    },
    Demo {
        slug: "tokyo-night-presets",
        title: "Tokyo Night Presets",
        description: "Twenty colour-grading presets for evening street photography.",
        kind: "download",
        price_minor: 1500,
        currency: "jpy",
    },
    Demo {
        slug: "api-credits-1000",
        title: "1,000 API credits",
        description: "Credits for the rendering API; they never expire.",
        kind: "credits",
        price_minor: 900,
        currency: "eur",
    },
    Demo {
        slug: "studio-membership",
        title: "Studio membership (1 month)",
        description: "A month of every new release and the members-only forum.",
        kind: "membership",
        price_minor: 500,
        currency: "gbp",
    },
];

/// Inserts the demo products when the catalog is empty; leaves a shop with products alone.
pub async fn demo_catalog(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // One start at a time decides, so two servers starting together seed once.
    sqlx::query!("select pg_advisory_xact_lock(7242001)")
        .execute(&mut *tx)
        .await?;
    let empty = sqlx::query_scalar!(r#"select not exists (select from product) as "empty!""#)
        .fetch_one(&mut *tx)
        .await?;
    if empty {
        for d in DEMO {
            sqlx::query!(
                "insert into product (slug, title, description, kind, price_minor, currency)
                 values ($1, $2, $3, $4, $5, $6)",
                d.slug,
                d.title,
                d.description,
                d.kind,
                d.price_minor,
                d.currency
            )
            .execute(&mut *tx)
            .await?;
        }
        tracing::info!(products = DEMO.len(), "seeded the demo catalog");
    }
    tx.commit().await
}

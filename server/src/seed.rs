//! The demo catalog a first start puts into an empty database, so the shop has something to
//! sell out of the box: files, a credit pack and a membership, one priced in yen. The two
//! download products get files made here (a short WAV recording, a JSON preset pack), so a
//! purchase downloads something real.

use sqlx::PgPool;

struct Demo {
    slug: &'static str,
    title: &'static str,
    description: &'static str,
    kind: &'static str,
    price_minor: i64,
    currency: &'static str,
    /// The credits a pack adds.
    credits: Option<i64>,
    /// What it costs in credits, if it may be unlocked with them.
    price_credits: Option<i64>,
    /// How long a membership lasts.
    membership_days: Option<i32>,
}

const DEMO: &[Demo] = &[
    Demo {
        slug: "field-recordings-vol-1",
        title: "Field Recordings, Vol. 1",
        description: "Rain, harbour and night-train recordings, as a lossless WAV file.",
        kind: "download",
        price_minor: 1200,
        currency: "usd",
        credits: None,
        price_credits: Some(400),
        membership_days: None,
    },
    Demo {
        slug: "tokyo-night-presets",
        title: "Tokyo Night Presets",
        description: "Twenty colour-grading presets for evening street photography.",
        kind: "download",
        price_minor: 1500,
        currency: "jpy",
        credits: None,
        price_credits: None,
        membership_days: None,
    },
    Demo {
        slug: "api-credits-1000",
        title: "1,000 API credits",
        description: "Credits to unlock anything in the shop that has a credit price; they never expire.",
        kind: "credits",
        price_minor: 900,
        currency: "eur",
        credits: Some(1000),
        price_credits: None,
        membership_days: None,
    },
    Demo {
        slug: "studio-membership",
        title: "Studio membership (1 month)",
        description: "A month of every new release and the members-only forum.",
        kind: "membership",
        price_minor: 500,
        currency: "gbp",
        credits: None,
        price_credits: None,
        membership_days: Some(30),
    },
    Demo {
        slug: "harbour-sampler",
        title: "Harbour Sampler",
        description: "A free minute from Field Recordings, Vol. 1: gulls, ropes and a ferry horn.",
        kind: "download",
        price_minor: 0,
        currency: "usd",
        credits: None,
        price_credits: None,
        membership_days: None,
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
                "insert into product (slug, title, description, kind, price_minor, currency,
                                      credits, price_credits, membership_days)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                d.slug,
                d.title,
                d.description,
                d.kind,
                d.price_minor,
                d.currency,
                d.credits,
                d.price_credits,
                d.membership_days
            )
            .execute(&mut *tx)
            .await?;
        }
        tracing::info!(products = DEMO.len(), "seeded the demo catalog");
    }
    tx.commit().await
}

/// Stores the demo download products' files, for those that have none yet.
pub async fn demo_files(pool: &PgPool, files: &app::files::Files) -> anyhow::Result<()> {
    let missing = sqlx::query!(
        "select p.id, p.slug from product p
         where p.kind = 'download'
           and p.slug in ('field-recordings-vol-1', 'tokyo-night-presets', 'harbour-sampler')
           and not exists (select from product_file f where f.product_id = p.id)"
    )
    .fetch_all(pool)
    .await?;
    for product in missing {
        let (bytes, filename, content_type) = match product.slug.as_str() {
            "field-recordings-vol-1" => (recording(3), "field-recordings-vol-1.wav", "audio/wav"),
            "harbour-sampler" => (recording(1), "harbour-sampler.wav", "audio/wav"),
            _ => (presets(), "tokyo-night-presets.json", "application/json"),
        };
        let size = i64::try_from(bytes.len())?;
        let key = files.put(bytes).await?;
        sqlx::query!(
            "insert into product_file (product_id, object_key, filename, content_type, size_bytes)
             values ($1, $2, $3, $4, $5)
             on conflict (product_id) do nothing",
            product.id,
            key,
            filename,
            content_type,
            size
        )
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// `seconds` of a soft chord as 16-bit mono PCM at 44.1 kHz, in a WAV container.
fn recording(seconds: u32) -> Vec<u8> {
    const RATE: u32 = 44_100;
    let samples = RATE * seconds;
    let data_len = samples * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for n in 0..samples {
        let t = f64::from(n) / f64::from(RATE);
        let v = [220.0, 277.18, 329.63]
            .iter()
            .map(|f| (2.0 * std::f64::consts::PI * f * t).sin())
            .sum::<f64>()
            / 3.0;
        let sample = (v * 8_000.0) as i16;
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

/// Twenty colour-grading presets.
fn presets() -> Vec<u8> {
    let presets: Vec<serde_json::Value> = (1..=20)
        .map(|n| {
            serde_json::json!({
                "name": format!("Tokyo Night {n:02}"),
                "temperature": -10 - n,
                "tint": n % 7,
                "shadows": { "hue": 210 + n, "saturation": 18 },
                "highlights": { "hue": 320 - n, "saturation": 12 },
            })
        })
        .collect();
    serde_json::to_vec_pretty(&presets).unwrap_or_default()
}

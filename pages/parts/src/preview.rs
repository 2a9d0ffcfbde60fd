//! A product's picture: the seller's preview image, or a placeholder drawn from its title
//! (its initials on a colour of its own), as inline SVG the server renders.

use leptos::prelude::*;

use app::models::Product;

/// The product's preview, or its placeholder. Decorative: the title is always beside it.
#[component]
pub fn Preview(product: Product, #[prop(default = false)] eager: bool) -> impl IntoView {
    match product.preview {
        // Previews are stored at most 1200 px wide, shown at 3:2.
        Some(src) => view! {
            <img class="preview" src=src alt="" width="600" height="400"
                loading=if eager { "eager" } else { "lazy" } decoding="async"/>
        }
        .into_any(),
        None => {
            let (initials, hue) = placeholder(&product.title);
            view! {
                <svg class="preview placeholder" viewBox="0 0 300 200" aria-hidden="true"
                    focusable="false" role="presentation">
                    <rect width="300" height="200" fill=format!("hsl({hue} 45% 32%)")/>
                    <circle cx="250" cy="40" r="70" fill=format!("hsl({} 50% 45%)", (hue + 40) % 360)/>
                    <text x="24" y="170" fill="#fff" font-size="64" font-weight="700"
                        font-family="system-ui, sans-serif">{initials}</text>
                </svg>
            }
            .into_any()
        }
    }
}

/// A title's initials (up to two letters) and a hue chosen by its text, the same every time.
pub fn placeholder(title: &str) -> (String, u32) {
    let initials: String = title
        .split_whitespace()
        .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    // FNV-1a, its bits then mixed (its low bits alone repeat for similar titles): a stable
    // spread of colours, not a secret.
    let mut hash = title.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x7feb_352d);
    hash ^= hash >> 15;
    (initials, hash % 360)
}

#[cfg(test)]
mod tests {
    use super::placeholder;

    #[test]
    fn a_placeholder_shows_the_titles_initials_in_a_colour_of_its_own() {
        assert_eq!(placeholder("Field Recordings, Vol. 1").0, "FR");
        assert_eq!(placeholder("tokyo").0, "T");
        assert_eq!(placeholder("— ünïcode book").0, "ÜB");
        assert_eq!(placeholder("Same").1, placeholder("Same").1);
        assert_ne!(
            placeholder("Field Recordings").1,
            placeholder("Tokyo Night Presets").1
        );
    }
}

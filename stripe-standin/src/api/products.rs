//! Products and Prices, as a shop mirrors its catalog into Stripe: a Product is created and
//! updated (name, description, metadata, active); a Price is immutable once made, except for
//! `active`, `metadata`, `nickname` and `lookup_key`, so a new amount is a new Price and the old
//! one is archived. Each change emits its event (`product.created`, `price.updated`, …).

use std::collections::HashMap;

use serde_json::{Value, json};
use stripe_shared::{Price, Product};

use crate::Tx;
use crate::error::ApiError;
use crate::objects::{self, json_of, new_id, now, typed};

fn product_json(p: &Product) -> Value {
    json_of(p)
}

pub fn create_product(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "id",
        "name",
        "description",
        "active",
        "metadata",
        "images",
        "url",
        "statement_descriptor",
        "unit_label",
        "shippable",
        "tax_code",
    ])?;
    let name = p.require("name")?;
    if name.trim().is_empty() {
        return Err(ApiError::invalid(
            "You passed an empty string for 'name'. We assume empty values are an attempt to unset a parameter; however 'name' cannot be unset. You should remove 'name' from your request or supply a non-empty value.",
            Some("name"),
            Some("parameter_invalid_empty"),
        ));
    }
    let id = match p.str("id") {
        Some(id) if tx.store.products.get(id).is_some() => {
            return Err(ApiError::invalid(
                "Product already exists.",
                Some("id"),
                Some("resource_already_exists"),
            ));
        }
        Some(id) => id.to_string(),
        None => new_id("prod"),
    };
    let mut metadata = HashMap::new();
    p.apply_metadata(&mut metadata)?;
    let created = now();
    let product: Product = typed(json!({
        "id": id,
        "object": "product",
        "active": p.bool("active")?.unwrap_or(true),
        "created": created,
        "updated": created,
        "description": p.str("description"),
        "images": p.list("images"),
        "livemode": false,
        "marketing_features": [],
        "metadata": metadata,
        "name": name,
        "type": "service",
        "url": p.str("url"),
    }))?;
    tx.store.products.insert(id, product.clone());
    tx.emit("product.created", product_json(&product))?;
    Ok(product_json(&product))
}

fn get_product<'s>(tx: &'s Tx<'_>, id: &str) -> Result<&'s Product, ApiError> {
    tx.store
        .products
        .get(id)
        .ok_or_else(|| ApiError::missing("product", id, "id"))
}

pub fn retrieve_product(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    tx.params.allow(&[])?;
    get_product(tx, id).map(product_json)
}

pub fn update_product(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "name",
        "description",
        "active",
        "metadata",
        "images",
        "url",
        "default_price",
        "statement_descriptor",
        "unit_label",
    ])?;
    let mut product = get_product(tx, id)?.clone();
    let before = product_json(&product);
    if let Some(name) = p.str("name") {
        if name.trim().is_empty() {
            return Err(ApiError::invalid(
                "'name' cannot be unset.",
                Some("name"),
                Some("parameter_invalid_empty"),
            ));
        }
        product.name = name.to_string();
    }
    if let Some(d) = p.get("description") {
        product.description = (!d.is_empty()).then(|| d.to_string());
    }
    if let Some(active) = p.bool("active")? {
        product.active = active;
    }
    if let Some(url) = p.get("url") {
        product.url = (!url.is_empty()).then(|| url.to_string());
    }
    if let Some(price) = p.get("default_price") {
        if price.is_empty() {
            product.default_price = None;
        } else {
            let known = tx
                .store
                .prices
                .get(price)
                .ok_or_else(|| ApiError::missing("price", price, "default_price"))?;
            if known.product.id().as_str() != id {
                return Err(ApiError::invalid(
                    format!("The price {price} does not belong to product {id}."),
                    Some("default_price"),
                    None,
                ));
            }
            product.default_price = Some(stripe_types::Expandable::Id(known.id.clone()));
        }
    }
    p.apply_metadata(&mut product.metadata)?;
    product.updated = now();
    tx.store.products.insert(id.to_string(), product.clone());
    let after = product_json(&product);
    tx.emit_update("product.updated", after.clone(), &before)?;
    Ok(after)
}

pub fn list_products(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "active",
        "ids",
    ])?;
    let created = p.range("created")?;
    let active = p.bool("active")?;
    let ids = p.list("ids");
    let items = tx.store.products.iter().filter(|(id, pr)| {
        created.contains(pr.created)
            && active.is_none_or(|a| pr.active == a)
            && (ids.is_empty() || ids.iter().any(|i| i == id))
    });
    crate::store::page(items, p, "/v1/products", product_json)
}

pub fn create_price(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "currency",
        "unit_amount",
        "product",
        "active",
        "metadata",
        "nickname",
        "lookup_key",
        "tax_behavior",
        "recurring",
    ])?;
    if p.map("product_data").is_some() {
        return Err(ApiError::invalid(
            "The stand-in makes prices only for existing products; pass `product`.",
            Some("product_data"),
            None,
        ));
    }
    let currency = objects::parse_currency(p.require("currency")?)?;
    let product_id = p.require("product")?;
    if get_product(tx, product_id).is_err() {
        return Err(ApiError::missing("product", product_id, "product"));
    }
    let amount = p.i64("unit_amount")?.ok_or_else(|| {
        ApiError::invalid(
            "Missing required param: unit_amount.",
            Some("unit_amount"),
            Some("parameter_missing"),
        )
    })?;
    if !(0..=99_999_999).contains(&amount) {
        return Err(ApiError::invalid(
            "This value must be greater than or equal to 0 and at most 99999999.",
            Some("unit_amount"),
            Some("parameter_invalid_integer"),
        ));
    }
    let recurring = match p.map("recurring") {
        None => None,
        Some(r) => {
            let interval = r.get("interval").map(String::as_str).unwrap_or_default();
            if !["day", "week", "month", "year"].contains(&interval) {
                return Err(ApiError::invalid(
                    format!("Invalid recurring[interval]: {interval}"),
                    Some("recurring[interval]"),
                    None,
                ));
            }
            let count: i64 = r
                .get("interval_count")
                .map(|c| c.parse().unwrap_or(0))
                .unwrap_or(1);
            Some(json!({ "interval": interval, "interval_count": count, "usage_type": "licensed" }))
        }
    };
    let lookup_key = p.str("lookup_key");
    if let Some(key) = lookup_key
        && tx
            .store
            .prices
            .iter()
            .any(|(_, pr)| pr.lookup_key.as_deref() == Some(key))
    {
        return Err(ApiError::invalid(
            format!("A price (`{key}`) already uses that lookup key."),
            Some("lookup_key"),
            None,
        ));
    }
    let mut metadata = HashMap::new();
    p.apply_metadata(&mut metadata)?;
    let kind = if recurring.is_some() {
        "recurring"
    } else {
        "one_time"
    };
    let price: Price = typed(json!({
        "id": new_id("price"),
        "object": "price",
        "active": p.bool("active")?.unwrap_or(true),
        "billing_scheme": "per_unit",
        "created": now(),
        "currency": currency.to_string(),
        "livemode": false,
        "lookup_key": lookup_key,
        "metadata": metadata,
        "nickname": p.str("nickname"),
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": p.str("tax_behavior").unwrap_or("unspecified"),
        "type": kind,
        "unit_amount": amount,
        "unit_amount_decimal": amount.to_string(),
    }))?;
    tx.store
        .prices
        .insert(price.id.as_str().to_string(), price.clone());
    tx.emit("price.created", json_of(&price))?;
    Ok(json_of(&price))
}

fn get_price<'s>(tx: &'s Tx<'_>, id: &str) -> Result<&'s Price, ApiError> {
    tx.store
        .prices
        .get(id)
        .ok_or_else(|| ApiError::missing("price", id, "id"))
}

pub fn retrieve_price(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    tx.params.allow(&[])?;
    get_price(tx, id).map(json_of)
}

/// A Price's amount and currency never change: only these may.
pub fn update_price(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    let p = tx.params;
    if let Some(fixed) = ["unit_amount", "currency", "product", "recurring"]
        .into_iter()
        .find(|k| p.get(k).is_some() || p.map(k).is_some())
    {
        return Err(ApiError::invalid(
            format!("Received unknown parameter: {fixed}"),
            Some(fixed),
            None,
        ));
    }
    p.allow(&[
        "active",
        "metadata",
        "nickname",
        "lookup_key",
        "tax_behavior",
    ])?;
    let mut price = get_price(tx, id)?.clone();
    let before = json_of(&price);
    if let Some(active) = p.bool("active")? {
        let is_default = tx.store.products.iter().any(|(_, pr)| {
            pr.default_price
                .as_ref()
                .is_some_and(|d| d.id().as_str() == id)
        });
        if !active && is_default {
            return Err(ApiError::invalid(
                "This price cannot be archived because it is the default price of its product.",
                Some("active"),
                None,
            ));
        }
        price.active = active;
    }
    if let Some(nickname) = p.get("nickname") {
        price.nickname = (!nickname.is_empty()).then(|| nickname.to_string());
    }
    if let Some(key) = p.get("lookup_key") {
        price.lookup_key = (!key.is_empty()).then(|| key.to_string());
    }
    p.apply_metadata(&mut price.metadata)?;
    tx.store.prices.insert(id.to_string(), price.clone());
    let after = json_of(&price);
    tx.emit_update("price.updated", after.clone(), &before)?;
    Ok(after)
}

pub fn list_prices(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "active",
        "currency",
        "product",
        "type",
        "lookup_keys",
    ])?;
    let created = p.range("created")?;
    // Stripe lists active prices unless `active=false` asks for the archived ones.
    let active = p.bool("active")?.unwrap_or(true);
    let currency = p.str("currency").map(str::to_ascii_lowercase);
    let product = p.str("product");
    let kind = p.str("type");
    let keys = p.list("lookup_keys");
    let items = tx.store.prices.iter().filter(|(_, pr)| {
        created.contains(pr.created)
            && pr.active == active
            && currency
                .as_deref()
                .is_none_or(|c| pr.currency.to_string() == c)
            && product.is_none_or(|want| pr.product.id().as_str() == want)
            && kind.is_none_or(|k| pr.type_.as_str() == k)
            && (keys.is_empty()
                || pr
                    .lookup_key
                    .as_ref()
                    .is_some_and(|l| keys.iter().any(|k| k == l)))
    });
    crate::store::page(items, p, "/v1/prices", json_of)
}

//! Customers: created, read, updated and listed (by email too).

use std::collections::HashMap;

use serde_json::Value;

use crate::Tx;
use crate::error::ApiError;
use crate::objects::{self, json_of};

const FIELDS: &[&str] = &[
    "email",
    "name",
    "description",
    "metadata",
    "phone",
    "preferred_locales",
];

pub fn create(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(FIELDS)?;
    let mut metadata = HashMap::new();
    p.apply_metadata(&mut metadata)?;
    let customer = objects::customer(
        p.str("email"),
        p.str("name"),
        p.str("description"),
        metadata,
    )?;
    let id = customer.id.as_str().to_string();
    tx.store.customers.insert(id, customer.clone());
    tx.emit("customer.created", json_of(&customer))?;
    Ok(json_of(&customer))
}

pub fn retrieve(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    tx.params.allow(&[])?;
    tx.store
        .customers
        .get(id)
        .map(json_of)
        .ok_or_else(|| ApiError::missing("customer", id, "id"))
}

pub fn update(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(FIELDS)?;
    let customer = tx
        .store
        .customers
        .get_mut(id)
        .ok_or_else(|| ApiError::missing("customer", id, "id"))?;
    let mut metadata = customer.metadata.clone().unwrap_or_default();
    p.apply_metadata(&mut metadata)?;
    customer.metadata = Some(metadata);
    for (field, slot) in [
        ("email", &mut customer.email),
        ("name", &mut customer.name),
        ("description", &mut customer.description),
        ("phone", &mut customer.phone),
    ] {
        if let Some(v) = p.get(field) {
            *slot = (!v.is_empty()).then(|| v.to_string());
        }
    }
    let customer = customer.clone();
    tx.emit("customer.updated", json_of(&customer))?;
    Ok(json_of(&customer))
}

pub fn list(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "email",
    ])?;
    let created = p.range("created")?;
    let email = p.str("email");
    let items = tx.store.customers.iter().filter(|(_, c)| {
        created.contains(c.created) && email.is_none_or(|e| c.email.as_deref() == Some(e))
    });
    crate::store::page(items, p, "/v1/customers", json_of)
}

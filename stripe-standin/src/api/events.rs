//! The Events API: what reconciliation pages through to catch anything a webhook missed.

use serde_json::Value;

use crate::Tx;
use crate::error::ApiError;

pub fn retrieve(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    tx.params.allow(&[])?;
    tx.store
        .events
        .get(id)
        .map(|e| e.json())
        .ok_or_else(|| ApiError::missing("event", id, "id"))
}

pub fn list(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "type",
        "types",
        "delivery_success",
    ])?;
    let created = p.range("created")?;
    let one = p.str("type");
    let many = p.list("types");
    if one.is_some() && !many.is_empty() {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: type, types.",
            Some("type"),
            None,
        ));
    }
    let matches = |t: &str| {
        let by = |pattern: &str| match pattern.strip_suffix('*') {
            Some(prefix) => t.starts_with(prefix),
            None => t == pattern,
        };
        one.is_none_or(by) && (many.is_empty() || many.iter().any(|m| by(m)))
    };
    let items = tx
        .store
        .events
        .iter()
        .filter(|(_, e)| created.contains(e.created) && matches(&e.type_));
    crate::store::page(items, p, "/v1/events", |e| e.json())
}

//! Stripe's request parameters: form-encoded pairs with bracketed keys (`metadata[order]=7`),
//! read the way Stripe reads them, with Stripe's messages for missing or malformed values.

use std::collections::{BTreeMap, HashMap};

use crate::error::ApiError;

/// The decoded pairs of one request, in the order they came.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: Option<&str>, body: &[u8]) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        pairs.extend(form_urlencoded::parse(body).into_owned());
        Self { pairs }
    }

    /// Pairs with the browser's `key` and `client_secret` taken out: what an idempotency key
    /// compares, and what unknown-parameter checks look at.
    pub fn canonical(&self) -> String {
        let mut sorted: Vec<_> = self.pairs.iter().filter(|(k, _)| k != "key").collect();
        sorted.sort();
        sorted
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The top-level names, `metadata[a]` counting as `metadata`.
    fn top_level_names(&self) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .map(|(k, _)| k.split('[').next().unwrap_or(k))
    }

    /// Stripe refuses parameters it does not know; so does the stand-in, so that a typo in the
    /// shop fails in tests rather than being silently ignored.
    pub fn allow(&self, known: &[&str]) -> Result<(), ApiError> {
        const ALWAYS: &[&str] = &["expand", "key", "client_secret", "_method"];
        for name in self.top_level_names() {
            if !known.contains(&name) && !ALWAYS.contains(&name) {
                return Err(ApiError::invalid(
                    format!("Received unknown parameter: {name}"),
                    Some(name),
                    Some("parameter_unknown"),
                ));
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A value that is present and not empty.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    pub fn require(&self, key: &str) -> Result<&str, ApiError> {
        self.str(key).ok_or_else(|| {
            ApiError::invalid(
                format!("Missing required param: {key}."),
                Some(key),
                Some("parameter_missing"),
            )
        })
    }

    pub fn i64(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.str(key) {
            None => Ok(None),
            Some(raw) => raw.parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid(
                    format!("Invalid integer: {raw}"),
                    Some(key),
                    Some("parameter_invalid_integer"),
                )
            }),
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.str(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(raw) => Err(ApiError::invalid(
                format!("Invalid boolean: {raw}"),
                Some(key),
                Some("parameter_invalid_empty"),
            )),
        }
    }

    /// `prefix[name]=value` pairs as a map; an empty value means "unset" as in Stripe.
    pub fn map(&self, prefix: &str) -> Option<BTreeMap<String, String>> {
        let open = format!("{prefix}[");
        let mut found = false;
        let mut out = BTreeMap::new();
        for (k, v) in &self.pairs {
            if k == prefix && v.is_empty() {
                found = true;
            }
            if let Some(rest) = k.strip_prefix(&open).and_then(|r| r.strip_suffix(']')) {
                found = true;
                out.insert(rest.to_string(), v.clone());
            }
        }
        found.then_some(out)
    }

    /// `prefix[]=a&prefix[]=b` or `prefix[0]=a&prefix[1]=b`.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let open = format!("{prefix}[");
        self.pairs
            .iter()
            .filter(|(k, _)| k.starts_with(&open) && k.ends_with(']'))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Metadata applied to an existing map: an empty value removes the key.
    pub fn apply_metadata(&self, target: &mut HashMap<String, String>) -> Result<(), ApiError> {
        if let Some(update) = self.map("metadata") {
            for (k, v) in update {
                if k.len() > 40 {
                    return Err(ApiError::invalid(
                        "Metadata keys can be at most 40 characters long.",
                        Some("metadata"),
                        None,
                    ));
                }
                if v.len() > 500 {
                    return Err(ApiError::invalid(
                        "Metadata values can be at most 500 characters long.",
                        Some("metadata"),
                        None,
                    ));
                }
                if v.is_empty() {
                    target.remove(&k);
                } else {
                    target.insert(k, v);
                }
            }
        }
        if target.len() > 50 {
            return Err(ApiError::invalid(
                "Metadata can have at most 50 keys.",
                Some("metadata"),
                None,
            ));
        }
        Ok(())
    }

    /// `created[gte]=…` style range filters, or a bare `created=…` for equality.
    pub fn range(&self, key: &str) -> Result<Range, ApiError> {
        let mut r = Range::default();
        if let Some(eq) = self.i64(key)? {
            r.gte = Some(eq);
            r.lte = Some(eq);
        }
        for (op, slot) in [
            ("gt", &mut r.gt),
            ("gte", &mut r.gte),
            ("lt", &mut r.lt),
            ("lte", &mut r.lte),
        ] {
            if let Some(v) = self.i64(&format!("{key}[{op}]"))? {
                *slot = Some(v);
            }
        }
        Ok(r)
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Range {
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
}

impl Range {
    pub fn contains(&self, v: i64) -> bool {
        self.gt.is_none_or(|b| v > b)
            && self.gte.is_none_or(|b| v >= b)
            && self.lt.is_none_or(|b| v < b)
            && self.lte.is_none_or(|b| v <= b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_keys_read_as_maps_and_lists() {
        let p = Params::parse(
            Some("expand[]=latest_charge"),
            b"metadata[order]=7&metadata[note]=a%20b&types[0]=x&types[1]=y",
        );
        let m = p.map("metadata").unwrap();
        assert_eq!(m["order"], "7");
        assert_eq!(m["note"], "a b");
        assert_eq!(p.list("types"), vec!["x", "y"]);
        assert_eq!(p.list("expand"), vec!["latest_charge"]);
    }

    #[test]
    fn unknown_parameters_are_refused_with_their_name() {
        let p = Params::parse(None, b"amount=1&amout=2");
        let err = p.allow(&["amount"]).unwrap_err();
        assert!(err.message().contains("amout"), "{}", err.message());
    }

    #[test]
    fn a_non_numeric_integer_is_an_error() {
        let p = Params::parse(None, b"amount=12.5");
        assert!(p.i64("amount").is_err());
    }
}

//! Disputes: opened by the 0259 test card after its payment succeeds (or by the control route),
//! read back, and closed the way Stripe's test mode closes them: evidence whose
//! `uncategorized_text` is `winning_evidence` wins, `losing_evidence` loses.

use serde_json::Value;
use stripe_shared::{Dispute, DisputeStatus};

use crate::Tx;
use crate::error::ApiError;
use crate::objects::{self, json_of};

/// Opens a dispute of a paid charge: marks the charge disputed and emits
/// `charge.dispute.created`.
pub fn open(tx: &mut Tx<'_>, charge_id: &str) -> Result<Dispute, ApiError> {
    let charge = tx
        .store
        .charges
        .get(charge_id)
        .cloned()
        .ok_or_else(|| ApiError::missing("charge", charge_id, "charge"))?;
    if !charge.paid {
        return Err(ApiError::state(
            format!("Charge {charge_id} has not succeeded and cannot be disputed."),
            "charge_not_disputable",
        ));
    }
    let dispute = objects::dispute(&charge, "fraudulent")?;
    if let Some(c) = tx.store.charges.get_mut(charge_id) {
        c.disputed = true;
    }
    tx.store
        .disputes
        .insert(dispute.id.as_str().to_string(), dispute.clone());
    tx.emit("charge.dispute.created", json_of(&dispute))?;
    Ok(dispute)
}

pub fn retrieve(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    tx.params.allow(&[])?;
    get(tx, id).map(json_of)
}

/// Submits evidence. In test mode the text decides: `winning_evidence` closes the dispute as
/// won, `losing_evidence` as lost (each emits `charge.dispute.closed`); other text leaves it
/// under review.
pub fn update(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&["evidence", "metadata", "submit"])?;
    let text = p.str("evidence[uncategorized_text]").map(str::to_string);
    let dispute = get(tx, id)?.clone();
    if matches!(dispute.status, DisputeStatus::Won | DisputeStatus::Lost) {
        return Err(ApiError::state(
            format!(
                "This dispute is already closed ({}).",
                dispute.status.as_str()
            ),
            "dispute_already_closed",
        ));
    }
    let status = match text.as_deref() {
        Some("winning_evidence") => DisputeStatus::Won,
        Some("losing_evidence") => DisputeStatus::Lost,
        _ => DisputeStatus::UnderReview,
    };
    let closed = matches!(status, DisputeStatus::Won | DisputeStatus::Lost);
    let updated = {
        let d = tx
            .store
            .disputes
            .get_mut(id)
            .ok_or_else(|| ApiError::missing("dispute", id, "dispute"))?;
        d.status = status;
        d.evidence.uncategorized_text = text;
        d.evidence_details.has_evidence = true;
        d.evidence_details.submission_count += 1;
        d.clone()
    };
    tx.emit("charge.dispute.updated", json_of(&updated))?;
    if closed {
        tx.emit("charge.dispute.closed", json_of(&updated))?;
    }
    Ok(json_of(&updated))
}

fn get<'s>(tx: &'s Tx<'_>, id: &str) -> Result<&'s Dispute, ApiError> {
    tx.store
        .disputes
        .get(id)
        .ok_or_else(|| ApiError::missing("dispute", id, "dispute"))
}

//! Settles orders from what Stripe says about their payments. The webhook and the order page
//! both come through here, so an order is settled the same way whoever learns first, and a
//! paid order is fulfilled exactly once.

use sqlx::{Postgres, Transaction};
use stripe_shared::{Charge, Dispute, PaymentIntent, PaymentIntentStatus};
use stripe_webhook::EventObject;

use crate::domain::{Currency, DisputeStatus, OrderId, OrderStatus};

#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    /// The payment names an order this database does not (yet) have. Stripe retries the event.
    #[error("no order for payment intent {0}")]
    OrderNotVisible(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What happened to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Changed {
        from: OrderStatus,
        to: OrderStatus,
    },
    Unchanged(OrderStatus),
    /// A refund arrived for an order whose payment is not settled here yet; it is kept and
    /// applied when the payment is.
    RefundRemembered(OrderStatus),
    /// The order's payment is now under dispute, or its dispute was decided.
    Disputed(DisputeStatus),
    /// The payment is not one of this shop's (no order id in its metadata): nothing to do.
    NotOurs,
}

/// An order locked for the settlement's transaction, as the settlement reads it.
pub(crate) struct LockedOrder {
    pub(crate) id: i64,
    pub(crate) product_id: i64,
    pub(crate) email: Option<String>,
    pub(crate) amount_minor: i64,
    pub(crate) currency: Currency,
    pub(crate) status: OrderStatus,
    pub(crate) amount_refunded_minor: i64,
    /// The credits a pack order adds.
    pub(crate) pack_credits: Option<i64>,
}

/// Finds the order a PaymentIntent pays for and locks it for this transaction. `None` means
/// the payment is not this shop's: the Stripe account may take other payments too, and their
/// events must be acknowledged, not retried for days.
async fn lock_order(
    tx: &mut Transaction<'_, Postgres>,
    intent_id: &str,
    order_public_id: Option<&str>,
) -> Result<Option<LockedOrder>, SettleError> {
    let order = lock_order_row(tx, intent_id, order_public_id).await?;
    found(order, intent_id, order_public_id)
}

/// [`lock_order`]'s lock, without its reading of what no order means.
async fn lock_order_row(
    tx: &mut Transaction<'_, Postgres>,
    intent_id: &str,
    order_public_id: Option<&str>,
) -> Result<Option<LockedOrder>, sqlx::Error> {
    // The inbox locks the same way (`inbox::Incoming::claim`), in the statement that claims
    // the event: keep the two alike.
    let order = sqlx::query_as!(
        LockedOrder,
        r#"select id, product_id, email, amount_minor, currency as "currency: Currency",
                  status as "status: OrderStatus", amount_refunded_minor, pack_credits
           from customer_order
           where payment_intent_id = $1 or (public_id = $2 and payment_intent_id is null)
           order by (payment_intent_id = $1) desc nulls last
           limit 1
           for no key update"#,
        intent_id,
        order_public_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(order)
}

/// What finding (or not) the order of a payment means: `None` for a payment that is not this
/// shop's; an error for one that names an order this database does not have yet.
pub(crate) fn found(
    order: Option<LockedOrder>,
    intent_id: &str,
    order_public_id: Option<&str>,
) -> Result<Option<LockedOrder>, SettleError> {
    let ours = order_public_id.is_some_and(|id| OrderId::parse(id).is_ok());
    match order {
        Some(order) => Ok(Some(order)),
        None if ours => Err(SettleError::OrderNotVisible(intent_id.to_string())),
        None => Ok(None),
    }
}

/// The shop's order a payment names in its metadata, if any.
pub(crate) fn order_ref(intent: &PaymentIntent) -> Option<&str> {
    intent.metadata.get("order_id").map(String::as_str)
}

/// The status an order moves to when Stripe reports `intent`, or `None` to leave it. Payments
/// never move an order backwards: a late `processing` or `payment_failed` after `succeeded`
/// changes nothing.
fn next_status(
    current: OrderStatus,
    intent: &PaymentIntentStatus,
    attempt_failed: bool,
) -> Option<OrderStatus> {
    use OrderStatus::*;
    match (intent, current) {
        (PaymentIntentStatus::Succeeded, Pending | Failed | Processing | Canceled) => Some(Paid),
        (PaymentIntentStatus::Processing, Pending | Failed) => Some(Processing),
        // A fresh intent also waits for a payment method; only a failed attempt fails the order.
        (PaymentIntentStatus::RequiresPaymentMethod, Pending | Processing) if attempt_failed => {
            Some(Failed)
        }
        (PaymentIntentStatus::Canceled, Pending | Failed) => Some(Canceled),
        _ => None,
    }
}

/// Applies a PaymentIntent's state to its order, fulfilling it if it is now paid. Idempotent:
/// applying the same intent twice changes nothing the second time.
pub async fn settle_intent(
    tx: &mut Transaction<'_, Postgres>,
    intent: &PaymentIntent,
) -> Result<Settled, SettleError> {
    let order = lock_order_row(tx, intent.id.as_str(), order_ref(intent)).await?;
    settle_locked_intent(tx, intent, order).await
}

/// [`settle_intent`] for an order its caller has locked already (`None`: no order was found
/// for the payment).
#[tracing::instrument(skip_all, fields(intent = %intent.id, status = ?intent.status))]
pub(crate) async fn settle_locked_intent(
    tx: &mut Transaction<'_, Postgres>,
    intent: &PaymentIntent,
    order: Option<LockedOrder>,
) -> Result<Settled, SettleError> {
    let Some(order) = found(order, intent.id.as_str(), order_ref(intent))? else {
        return Ok(Settled::NotOurs);
    };
    match plan(intent, order) {
        Plan::Unchanged(status) => Ok(Settled::Unchanged(status)),
        Plan::Move(to) => {
            let settled = to.settled();
            apply(tx, std::slice::from_ref(&to)).await?;
            Ok(settled)
        }
    }
}

/// What a PaymentIntent's state does to its locked order, decided before anything is written.
pub(crate) enum Plan {
    Unchanged(OrderStatus),
    Move(Move),
}

/// An order's move to a new status, as [`apply`] writes it.
pub(crate) struct Move {
    order: LockedOrder,
    to: OrderStatus,
    failure: Option<String>,
    intent: String,
    receipt_email: Option<String>,
    /// Whether the buyer is given what they paid for (and a receipt).
    fulfil: bool,
    /// The email the grant is kept for; unknown (never empty) when the payment had none.
    grant_email: Option<String>,
}

impl Move {
    fn settled(&self) -> Settled {
        Settled::Changed {
            from: self.order.status,
            to: self.to,
        }
    }
}

/// Decides what `intent` does to `order`. Payments never move an order backwards, and an
/// order is never called paid for another amount or currency than it costs.
pub(crate) fn plan(intent: &PaymentIntent, order: LockedOrder) -> Plan {
    let Some(mut to) = next_status(
        order.status,
        &intent.status,
        intent.last_payment_error.is_some(),
    ) else {
        return Plan::Unchanged(order.status);
    };
    if to == OrderStatus::Paid {
        let currency_matches = intent.currency.to_string() == order.currency.code();
        if !currency_matches || intent.amount_received != order.amount_minor {
            // Never call an order paid for another amount than it costs, and never call money
            // that was taken a failure. This cannot happen through the shop (it sets the
            // amount), so a person looks at it.
            tracing::error!(
                order = order.id,
                intent = %intent.id,
                received = intent.amount_received,
                received_currency = %intent.currency,
                expected = order.amount_minor,
                expected_currency = order.currency.code(),
                "payment amount or currency does not match the order; holding it for review"
            );
            to = OrderStatus::NeedsReview;
        } else if order.amount_refunded_minor >= order.amount_minor {
            // Refunded in full before the payment was known here: nothing to grant.
            to = OrderStatus::Refunded;
        } else if order.amount_refunded_minor > 0 {
            to = OrderStatus::PartiallyRefunded;
        }
    }
    let failure = match to {
        OrderStatus::Failed => Some(
            intent
                .last_payment_error
                .as_ref()
                .and_then(|e| e.message.clone())
                .unwrap_or_else(|| "The payment did not go through.".to_string()),
        ),
        _ => None,
    };
    let grant_email = order
        .email
        .as_deref()
        .or(intent.receipt_email.as_deref())
        .filter(|e| !e.is_empty())
        .map(str::to_string);
    Plan::Move(Move {
        fulfil: matches!(to, OrderStatus::Paid | OrderStatus::PartiallyRefunded),
        to,
        failure,
        intent: intent.id.as_str().to_string(),
        receipt_email: intent.receipt_email.clone(),
        grant_email,
        order,
    })
}

/// Writes `moves` (each of a different locked order), in one statement for all of them: each
/// order moves, and once paid, its buyer is given what they paid for (a grant, which starts as
/// any dispute already reported says: read in this statement, after the order's lock was
/// taken, so a dispute recorded while the settlement waited for that lock is seen), the order
/// joins the verified account its email belongs to, and the receipt goes to the outbox. A
/// settlement is then one round trip, and a batch of them one too.
pub(crate) async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    moves: &[Move],
) -> Result<(), SettleError> {
    if moves.is_empty() {
        return Ok(());
    }
    let users = write_moves(tx, moves).await?;
    if users.len() != moves.len() {
        // Each order was locked by this transaction: one missing is a fault, never skipped.
        return Err(sqlx::Error::Protocol(format!(
            "{} of {} locked orders were moved",
            users.len(),
            moves.len()
        ))
        .into());
    }
    // A pack brings its account's credit ledger up to date; a guest's pack waits for its email
    // to join an account (`accounts::claim_guest_orders`). Each account once, in order of
    // their ids (whose locks a batch then takes in one order, as it takes its orders').
    let mut pack_owners: Vec<i64> = moves
        .iter()
        .filter(|m| m.fulfil && m.order.pack_credits.is_some())
        .filter_map(|m| users.iter().find(|u| u.id == m.order.id)?.user_id)
        .collect();
    pack_owners.sort_unstable();
    pack_owners.dedup();
    for user in pack_owners {
        crate::credits::settle_packs(tx, user).await?;
    }
    for m in moves {
        if m.to.is_paid() && m.order.amount_refunded_minor > 0 {
            // Refunded (in part, or in full: then no receipt) before the payment was known
            // here.
            queue_mail(tx, Mail::Refund(m.order.amount_refunded_minor), m.order.id).await?;
        }
        tracing::info!(order = m.order.id, intent = %m.intent, from = ?m.order.status, to = ?m.to, "order settled");
    }
    Ok(())
}

/// Has `tx`'s connection parse the statement that writes moves, look up its types and load
/// what Postgres needs to plan it, by running it with nothing to write. For connections kept
/// for settling (`inbox::batch`): their first batch then costs what any other does.
pub(crate) async fn prepare(tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
    write_moves(tx, &[]).await.map(drop)
}

/// An order [`write_moves`] moved, and the account it belongs to now.
struct Moved {
    id: i64,
    user_id: Option<i64>,
}

/// The statement of [`apply`], run even with no moves.
async fn write_moves(
    tx: &mut Transaction<'_, Postgres>,
    moves: &[Move],
) -> Result<Vec<Moved>, sqlx::Error> {
    let orders: Vec<i64> = moves.iter().map(|m| m.order.id).collect();
    let statuses: Vec<OrderStatus> = moves.iter().map(|m| m.to).collect();
    let failures: Vec<Option<&str>> = moves.iter().map(|m| m.failure.as_deref()).collect();
    let intents: Vec<&str> = moves.iter().map(|m| m.intent.as_str()).collect();
    let receipt_emails: Vec<Option<&str>> =
        moves.iter().map(|m| m.receipt_email.as_deref()).collect();
    let fulfils: Vec<bool> = moves.iter().map(|m| m.fulfil).collect();
    let products: Vec<i64> = moves.iter().map(|m| m.order.product_id).collect();
    let grant_emails: Vec<Option<&str>> = moves.iter().map(|m| m.grant_email.as_deref()).collect();
    sqlx::query_as!(
        Moved,
        r#"with m as (
               select * from unnest($1::int8[], $2::order_status[], $3::text[], $4::text[], $5::text[],
                                    $6::bool[], $7::int8[], $8::text[])
                   as m(order_id, status, failure, intent, receipt_email, fulfil, product_id,
                        grant_email)
           ),
           moved as (
               update customer_order o
               set status = m.status,
                   failure_message = m.failure,
                   payment_intent_id = coalesce(o.payment_intent_id, m.intent),
                   email = coalesce(o.email, m.receipt_email),
                   paid_at = case when m.status in ('paid'::order_status, 'partially_refunded',
                                                    'refunded', 'needs_review')
                                  then coalesce(o.paid_at, now()) else o.paid_at end,
                   user_id = case when m.fulfil and o.user_id is null
                                  then (select u.id from app_user u
                                        where u.email = lower(coalesce(o.email, m.receipt_email))
                                          and u.email_verified_at is not null)
                                  else o.user_id end,
                   updated_at = now()
               from m
               where o.id = m.order_id
               returning o.id, o.user_id
           ),
           granted as (
               insert into entitlement (order_id, product_id, email, suspended_at, revoked_at)
               select m.order_id, m.product_id, m.grant_email,
                      case when dispute.status = 'open' then now() end,
                      case when dispute.status = 'lost' then now() end
               from m
               cross join lateral (select order_dispute_status(m.order_id) as status) dispute
               where m.fulfil
               on conflict on constraint entitlement_order_key do nothing
           ),
           receipt as (
               insert into outbound_email (kind, order_id, dedupe_key)
               select 'receipt', m.order_id, 'receipt:' || m.order_id
               from m
               where m.fulfil
               on conflict on constraint outbound_email_dedupe_key do nothing
           )
           select id as "id!", user_id as "user_id?" from moved"#,
        &orders as &[i64],
        &statuses as &[OrderStatus],
        &failures as &[Option<&str>],
        &intents as &[&str],
        &receipt_emails as &[Option<&str>],
        &fulfils as &[bool],
        &products as &[i64],
        &grant_emails as &[Option<&str>]
    )
    .fetch_all(&mut **tx)
    .await
}

/// [`settle_intent`] in a transaction of its own, for what Stripe said outside a webhook (the
/// order page's look, a cancellation the shop made).
pub async fn settle_intent_now(
    pool: &sqlx::PgPool,
    intent: &PaymentIntent,
) -> Result<Settled, SettleError> {
    let mut tx = pool.begin().await?;
    let settled = settle_intent(&mut tx, intent).await?;
    tx.commit().await?;
    Ok(settled)
}

/// A pack order that belongs to an account brings that account's credit ledger up to date
/// (the pack's credits added, or a refund's share taken back). A guest's pack waits for its
/// email to join an account (`accounts::claim_guest_orders`).
async fn update_ledger(
    tx: &mut Transaction<'_, Postgres>,
    order: &LockedOrder,
) -> Result<(), SettleError> {
    if order.pack_credits.is_none() {
        return Ok(());
    }
    let user = sqlx::query_scalar!("select user_id from customer_order where id = $1", order.id)
        .fetch_one(&mut **tx)
        .await?;
    if let Some(user) = user {
        crate::credits::settle_packs(tx, user).await?;
    }
    Ok(())
}

/// A message to the buyer about an order, sent by the mail job after this transaction commits.
#[derive(Debug, Clone, Copy)]
enum Mail {
    Receipt,
    /// The order's refunded total, in its minor units.
    Refund(i64),
}

/// Writes the receipt of `order`, paid without Stripe (unlocked with credits), to the outbox in
/// the caller's transaction: sent once, if and only if that transaction commits.
pub async fn queue_receipt(
    tx: &mut Transaction<'_, Postgres>,
    order: i64,
) -> Result<(), sqlx::Error> {
    queue_mail(tx, Mail::Receipt, order).await
}

/// Writes `mail` to the outbox in the settlement's transaction: it is sent if and only if the
/// settlement commits, and once however often the settlement runs (one receipt per order, one
/// notice per refunded total).
async fn queue_mail(
    tx: &mut Transaction<'_, Postgres>,
    mail: Mail,
    order: i64,
) -> Result<(), sqlx::Error> {
    let (kind, key, amount) = match mail {
        Mail::Receipt => ("receipt", format!("receipt:{order}"), None),
        Mail::Refund(total) => ("refund", format!("refund:{order}:{total}"), Some(total)),
    };
    sqlx::query!(
        "insert into outbound_email (kind, order_id, dedupe_key, amount_minor)
         values ($1, $2, $3, $4)
         on conflict on constraint outbound_email_dedupe_key do nothing",
        kind,
        order,
        key,
        amount
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a refund from the charge's running total: refunds only ever add up, so a late or
/// repeated `charge.refunded` cannot lower what was refunded.
#[tracing::instrument(skip_all, fields(charge = %charge.id, refunded = charge.amount_refunded))]
pub async fn settle_refund(
    tx: &mut Transaction<'_, Postgres>,
    charge: &Charge,
) -> Result<Settled, SettleError> {
    let Some(intent_id) = charge
        .payment_intent
        .as_ref()
        .map(|p| p.id().as_str().to_string())
    else {
        return Ok(Settled::NotOurs);
    };
    let order_ref = charge.metadata.get("order_id").map(String::as_str);
    let Some(order) = lock_order(tx, &intent_id, order_ref).await? else {
        return Ok(Settled::NotOurs);
    };
    let refunded = charge
        .amount_refunded
        .clamp(order.amount_refunded_minor, order.amount_minor);
    if !order.status.is_paid() {
        // The refund came before the payment was settled here (its event was late, or the
        // seller refunded meanwhile), or the payment is held for review. Remember it; settling
        // the payment applies it, and a full refund of a held payment settles that.
        let settles_review = order.status == OrderStatus::NeedsReview && charge.refunded;
        if refunded == order.amount_refunded_minor && !settles_review {
            return Ok(Settled::Unchanged(order.status));
        }
        remember_refund(tx, &order, refunded, charge.refunded).await?;
        return Ok(Settled::RefundRemembered(order.status));
    }
    let to = if refunded >= order.amount_minor {
        OrderStatus::Refunded
    } else if refunded > 0 {
        OrderStatus::PartiallyRefunded
    } else {
        OrderStatus::Paid
    };
    if refunded == order.amount_refunded_minor && to == order.status {
        return Ok(Settled::Unchanged(order.status));
    }
    set_refunded(tx, order.id, refunded, to).await?;
    if refunded > order.amount_refunded_minor {
        queue_mail(tx, Mail::Refund(refunded), order.id).await?;
        update_ledger(tx, &order).await?;
    }
    if to == OrderStatus::Refunded {
        sqlx::query!(
            "update entitlement set revoked_at = now() where order_id = $1 and revoked_at is null",
            order.id
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(Settled::Changed {
        from: order.status,
        to,
    })
}

async fn set_refunded(
    tx: &mut Transaction<'_, Postgres>,
    order: i64,
    refunded: i64,
    to: OrderStatus,
) -> Result<(), SettleError> {
    sqlx::query!(
        "update customer_order set amount_refunded_minor = $2, status = $3, updated_at = now()
         where id = $1",
        order,
        refunded,
        to as OrderStatus
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn remember_refund(
    tx: &mut Transaction<'_, Postgres>,
    order: &LockedOrder,
    refunded: i64,
    charge_fully_refunded: bool,
) -> Result<(), SettleError> {
    let to = match order.status {
        // A person was to look at this payment, whose amount is not the order's: only a
        // refund of all that was taken settles it.
        OrderStatus::NeedsReview if charge_fully_refunded => OrderStatus::Refunded,
        other => other,
    };
    set_refunded(tx, order.id, refunded, to).await?;
    tracing::info!(order = order.id, refunded, status = ?to, "refund remembered before settlement");
    Ok(())
}

/// Records a dispute of an order's payment. Each dispute is kept by its id and moves once,
/// from open to won or lost; a late or repeated event changes nothing. The order's grant then
/// follows all its disputes: revoked if any was lost, suspended while any is open, otherwise
/// as it was.
#[tracing::instrument(skip_all, fields(dispute = %dispute.id, status = dispute.status.as_str()))]
pub async fn settle_dispute(
    tx: &mut Transaction<'_, Postgres>,
    dispute: &Dispute,
) -> Result<Settled, SettleError> {
    use stripe_shared::DisputeStatus as Stripe;
    let Some(intent_id) = dispute.payment_intent.as_ref().map(|p| p.id().as_str()) else {
        return Ok(Settled::NotOurs);
    };
    let Some(order) = sqlx::query!(
        r#"select id, status as "status: OrderStatus", pack_credits, user_id
           from customer_order where payment_intent_id = $1 for no key update"#,
        intent_id
    )
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(Settled::NotOurs);
    };
    let to = match dispute.status {
        Stripe::Won | Stripe::WarningClosed | Stripe::Prevented => DisputeStatus::Won,
        Stripe::Lost => DisputeStatus::Lost,
        _ => DisputeStatus::Open,
    };
    let moved = sqlx::query!(
        "insert into dispute (id, order_id, status) values ($1, $2, $3)
         on conflict (id) do update set status = excluded.status, updated_at = now()
         where dispute.status = 'open' and excluded.status <> 'open'",
        dispute.id.as_str(),
        order.id,
        to as DisputeStatus
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(Settled::Unchanged(order.status));
    }
    sqlx::query!(
        "update entitlement
         set revoked_at = case when order_dispute_status($1) = 'lost'
                               then coalesce(revoked_at, now()) else revoked_at end,
             suspended_at = case when order_dispute_status($1) = 'open'
                                 then coalesce(suspended_at, now()) end
         where order_id = $1",
        order.id
    )
    .execute(&mut **tx)
    .await?;
    if let (Some(_), Some(user)) = (order.pack_credits, order.user_id) {
        // A pack's unspent credits are held while its payment is disputed, kept by the bank's
        // side if it is lost, and given back if it is won; a pack that was not in the ledger
        // yet adds its credits once no dispute holds it.
        let won = to == DisputeStatus::Won;
        crate::credits::follow_dispute(tx, user, order.id, dispute.id.as_str(), won).await?;
        crate::credits::settle_packs(tx, user).await?;
    }
    tracing::info!(order = order.id, dispute = ?to, "dispute recorded");
    Ok(Settled::Disputed(to))
}

/// The event types [`settle_event`] acts on. Every other type (Stripe sends whatever an
/// endpoint subscribes to, and types newer than async-stripe) is acknowledged and kept unread.
pub const SETTLING_EVENT_TYPES: &[&str] = &[
    "payment_intent.succeeded",
    "payment_intent.processing",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
];

/// The PaymentIntent an event reports on, for the events that settle an order from it.
pub(crate) fn intent_of(object: &EventObject) -> Option<&PaymentIntent> {
    use EventObject::*;
    match object {
        PaymentIntentSucceeded(pi)
        | PaymentIntentProcessing(pi)
        | PaymentIntentPaymentFailed(pi)
        | PaymentIntentCanceled(pi) => Some(pi),
        _ => None,
    }
}

/// Settles whatever an event is about. Types the shop does not act on are acknowledged.
pub async fn settle_event(
    tx: &mut Transaction<'_, Postgres>,
    object: &EventObject,
) -> Result<Option<Settled>, SettleError> {
    use EventObject::*;
    if let Some(intent) = intent_of(object) {
        return settle_intent(tx, intent).await.map(Some);
    }
    match object {
        ChargeRefunded(charge) => settle_refund(tx, charge).await.map(Some),
        ChargeDisputeCreated(dispute) | ChargeDisputeClosed(dispute) => {
            settle_dispute(tx, dispute).await.map(Some)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_processing_or_failure_never_unpays_an_order() {
        assert_eq!(
            next_status(OrderStatus::Paid, &PaymentIntentStatus::Processing, false),
            None
        );
        assert_eq!(
            next_status(
                OrderStatus::Paid,
                &PaymentIntentStatus::RequiresPaymentMethod,
                true
            ),
            None
        );
        assert_eq!(
            next_status(
                OrderStatus::Refunded,
                &PaymentIntentStatus::Succeeded,
                false
            ),
            None
        );
    }

    #[test]
    fn an_intent_still_waiting_for_its_first_card_leaves_the_order_pending() {
        assert_eq!(
            next_status(
                OrderStatus::Pending,
                &PaymentIntentStatus::RequiresPaymentMethod,
                false
            ),
            None
        );
        assert_eq!(
            next_status(
                OrderStatus::Pending,
                &PaymentIntentStatus::RequiresPaymentMethod,
                true
            ),
            Some(OrderStatus::Failed)
        );
    }

    #[test]
    fn a_failed_attempt_can_still_be_paid_by_the_next_one() {
        assert_eq!(
            next_status(OrderStatus::Failed, &PaymentIntentStatus::Succeeded, false),
            Some(OrderStatus::Paid)
        );
        assert_eq!(
            next_status(OrderStatus::Failed, &PaymentIntentStatus::Processing, false),
            Some(OrderStatus::Processing)
        );
    }
}

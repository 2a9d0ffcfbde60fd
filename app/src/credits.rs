//! The credit ledger. A shopper's balance is the sum of their entries, which are only ever
//! added: a paid pack adds its credits, an unlock spends, a refunded or lost-in-dispute pack
//! takes back its share. Everything that reads a balance to change it first locks the
//! shopper's account row (`lock_user`), so two tabs spending at once are served one after the
//! other and a balance never goes below zero.
//!
//! Lock order: an order's row before its owner's account row, everywhere (settling a payment,
//! a refund, a dispute; claiming guest orders). Both are `for no key update`, which the
//! foreign-key checks of new rows pointing at them (`for key share`) do not wait for.

use sqlx::PgConnection;

/// Locks `user`'s account row until the transaction ends: the one lock every ledger change
/// holds.
pub async fn lock_user(conn: &mut PgConnection, user: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "select id from app_user where id = $1 for no key update",
        user
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(())
}

/// Adds an entry to `user`'s ledger, once per `key`: `false` if an entry with that key is
/// there already.
async fn add_entry(
    conn: &mut PgConnection,
    user: i64,
    delta: i64,
    reason: &str,
    order: i64,
    key: String,
) -> Result<bool, sqlx::Error> {
    let added = sqlx::query!(
        "insert into credit_entry (user_id, delta, reason, order_id, key)
         values ($1, $2, $3, $4, $5)
         on conflict on constraint credit_entry_key do nothing",
        user,
        delta,
        reason,
        order,
        key
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(added == 1)
}

/// `user`'s balance: the sum of their ledger.
pub async fn balance(conn: &mut PgConnection, user: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select coalesce(sum(delta), 0)::bigint as "balance!" from credit_entry where user_id = $1"#,
        user
    )
    .fetch_one(&mut *conn)
    .await
}

/// Brings `user`'s ledger up to date with their pack orders: each paid pack adds its credits
/// once, and each refund of a pack takes back its share (see [`take_back`]). Run after an order
/// is settled or joins an account; running it again changes nothing.
pub async fn settle_packs(conn: &mut PgConnection, user: i64) -> Result<(), sqlx::Error> {
    lock_user(conn, user).await?;
    // A pack counts once it was granted and is not held by a dispute (paid, even if refunded
    // since: the refund's entry takes back what it refunded).
    let added = sqlx::query!(
        "insert into credit_entry (user_id, delta, reason, order_id, key)
         select o.user_id, o.pack_credits, 'pack', o.id, 'pack:' || o.id
         from customer_order o
         join entitlement e on e.order_id = o.id
         where o.user_id = $1 and o.pack_credits is not null
           and e.revoked_at is null and e.suspended_at is null
         on conflict on constraint credit_entry_key do nothing",
        user
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if added > 0 {
        tracing::info!(user, packs = added, "credit packs added to the ledger");
    }
    let owing = sqlx::query_scalar!(
        "select o.id from customer_order o
         where o.user_id = $1 and o.pack_credits is not null
           and (o.amount_refunded_minor > 0 or order_dispute_status(o.id) in ('open', 'lost'))
           and exists (select from credit_entry c where c.order_id = o.id and c.reason = 'pack')",
        user
    )
    .fetch_all(&mut *conn)
    .await?;
    for order in owing {
        take_back(conn, user, order).await?;
    }
    Ok(())
}

/// The credits a refund of `refunded` (of `amount`) takes back from a pack of `pack` credits:
/// its share, rounded up, so a refund never leaves a fraction of a credit behind.
pub fn share_of_pack(pack: i64, refunded: i64, amount: i64) -> i64 {
    if amount <= 0 {
        return 0;
    }
    let share =
        (i128::from(pack) * i128::from(refunded) + i128::from(amount) - 1) / i128::from(amount);
    i64::try_from(share.min(i128::from(pack))).unwrap_or(pack)
}

/// Takes back what pack `order` owes now, less what was taken already, and never more than
/// the balance holds (credits already spent on unlocks stay spent; a refund the shopper asks for
/// is offered only for the unspent part, see `refunds`). A pack owes the share of its credits
/// its refunds so far call for; while a dispute of its payment is open, or once one was lost,
/// it owes all of them. Nothing for a pack that never added its credits. The caller holds the
/// user's lock.
///
/// The entry's key names what it was computed from (what was owed and what was taken), so the
/// same report taken twice takes once, and a later change (credits given back by a refused
/// request, a refund after a dispute) takes again.
async fn take_back(conn: &mut PgConnection, user: i64, order: i64) -> Result<(), sqlx::Error> {
    let Some(row) = sqlx::query!(
        r#"select o.pack_credits as "pack!", o.amount_minor, o.amount_refunded_minor,
                  coalesce(order_dispute_status(o.id) in ('open', 'lost'), false) as "disputed!",
                  coalesce((select -sum(c.delta) from credit_entry c
                            where c.order_id = o.id and c.reason in ('refund', 'restore', 'dispute')), 0)::bigint
                      as "taken!"
           from customer_order o
           where o.id = $1 and o.pack_credits is not null
             and exists (select from credit_entry c where c.order_id = o.id and c.reason = 'pack')"#,
        order
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(());
    };
    let owed = if row.disputed {
        row.pack
    } else {
        share_of_pack(row.pack, row.amount_refunded_minor, row.amount_minor)
    };
    let due = owed - row.taken;
    if due <= 0 {
        return Ok(());
    }
    let take = due.min(balance(conn, user).await?);
    if take < due {
        tracing::warn!(
            user,
            order,
            due,
            take,
            "a pack's credits were already spent"
        );
    }
    if take > 0 {
        let reason = if row.disputed { "dispute" } else { "refund" };
        let key = format!("{reason}:{order}:{owed}:{}", row.taken);
        add_entry(conn, user, -take, reason, order, key).await?;
    }
    Ok(())
}

/// Takes back `credits` of pack `order` ahead of refund request `request`, so they cannot be
/// spent while Stripe answers. When Stripe then reports the refund, [`take_back`] finds the
/// pack's share taken already. The caller holds the user's lock and checked the balance.
pub async fn take_back_for_request(
    conn: &mut PgConnection,
    user: i64,
    order: i64,
    credits: i64,
    request: i64,
) -> Result<(), sqlx::Error> {
    let key = format!("request:{request}");
    add_entry(conn, user, -credits, "refund", order, key).await?;
    Ok(())
}

/// Gives back the credits refund request `request` took, when Stripe refused the refund, then
/// takes back whatever share refunds Stripe did report call for. The caller holds the user's
/// lock.
pub async fn restore(
    conn: &mut PgConnection,
    user: i64,
    order: i64,
    credits: i64,
    request: i64,
) -> Result<(), sqlx::Error> {
    add_entry(
        conn,
        user,
        credits,
        "restore",
        order,
        format!("restore:{request}"),
    )
    .await?;
    take_back(conn, user, order).await
}

/// Brings pack `order`'s credits in line with its disputes: while one is open, or once one was
/// lost, what is left of the pack is held (taken back, as far as the balance holds it); when the
/// dispute `dispute` is won, what disputes held is given back. The caller holds the order's
/// lock; this takes the user's.
pub async fn follow_dispute(
    conn: &mut PgConnection,
    user: i64,
    order: i64,
    dispute: &str,
    won: bool,
) -> Result<(), sqlx::Error> {
    lock_user(conn, user).await?;
    if won {
        let held = sqlx::query_scalar!(
            r#"select coalesce(-sum(delta), 0)::bigint as "held!" from credit_entry
               where order_id = $1 and (reason = 'dispute' or key like 'release:%')"#,
            order
        )
        .fetch_one(&mut *conn)
        .await?;
        if held > 0 {
            add_entry(
                conn,
                user,
                held,
                "restore",
                order,
                format!("release:{dispute}"),
            )
            .await?;
        }
    }
    take_back(conn, user, order).await
}

/// Where pack `order` stands: how many of its credits are still in it (not taken back by a
/// refund), and how many of those are unspent, counting spends against other packs first (as
/// far as the balance holds them). The caller holds the user's lock.
pub async fn pack_position(
    conn: &mut PgConnection,
    user: i64,
    order: i64,
) -> Result<(i64, i64), sqlx::Error> {
    let left = sqlx::query_scalar!(
        r#"select coalesce(sum(delta), 0)::bigint as "left!" from credit_entry
           where order_id = $1 and user_id = $2 and reason in ('pack', 'refund', 'restore', 'dispute')"#,
        order,
        user
    )
    .fetch_one(&mut *conn)
    .await?;
    let unspent = left.min(balance(conn, user).await?).max(0);
    Ok((left, unspent))
}

#[cfg(test)]
mod tests {
    use super::share_of_pack;

    #[test]
    fn a_refund_takes_back_its_share_of_the_pack_rounded_up() {
        assert_eq!(share_of_pack(1000, 900, 900), 1000);
        assert_eq!(share_of_pack(1000, 450, 900), 500);
        assert_eq!(share_of_pack(1000, 1, 900), 2);
        assert_eq!(share_of_pack(1000, 0, 900), 0);
    }

    #[test]
    fn a_refund_never_takes_back_more_than_the_pack() {
        assert_eq!(share_of_pack(3, 1000, 900), 3);
    }
}

//! How a purchase settles. The provider describes one payment in many events (a checkout
//! session and its payment intent both say "paid"), delivers each at least once, in any order.
//! So events are not applied as deltas: each is merged into [`PaymentFacts`], a summary that
//! ends the same whatever the order or the repetitions (flags only turn on, the refunded amount
//! only grows, a dispute only moves forward), and the ledger is then moved from what the
//! purchase has settled so far to what the facts make due. Redelivered or reordered events
//! find nothing left to do.

use crate::credits::Credits;
use crate::store::PurchaseStatus;

/// One provider event, reduced to what it says about the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentEvent {
    /// The money arrived (`checkout.session.completed` with `payment_status=paid`,
    /// `…async_payment_succeeded`, `payment_intent.succeeded`).
    Paid,
    /// The attempt failed (`…async_payment_failed`, `payment_intent.payment_failed`).
    Failed,
    /// The session expired or the intent was canceled.
    Canceled,
    /// `charge.refunded`: the total refunded so far, in cents.
    Refunded { amount_refunded_cents: i64 },
    /// `charge.dispute.created`.
    DisputeOpened,
    /// `charge.dispute.closed`.
    DisputeClosed { won: bool },
}

/// A dispute only moves forward: none → open → won or lost. If a payment's events ever said
/// both won and lost, lost stands, so that the merge stays the same in any order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum DisputeState {
    #[default]
    None,
    Open,
    Won,
    Lost,
}

/// Everything the provider has said about one payment, merged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaymentFacts {
    pub paid: bool,
    pub failed: bool,
    pub canceled: bool,
    /// The largest cumulative refunded amount seen.
    pub amount_refunded_cents: i64,
    pub dispute: DisputeState,
}

impl PaymentFacts {
    /// The facts once `event` is known too. Commutative and idempotent.
    pub fn merge(mut self, event: PaymentEvent) -> Self {
        match event {
            PaymentEvent::Paid => self.paid = true,
            PaymentEvent::Failed => self.failed = true,
            PaymentEvent::Canceled => self.canceled = true,
            PaymentEvent::Refunded { amount_refunded_cents } => {
                self.amount_refunded_cents = self.amount_refunded_cents.max(amount_refunded_cents.max(0));
            }
            PaymentEvent::DisputeOpened => self.dispute = self.dispute.max(DisputeState::Open),
            PaymentEvent::DisputeClosed { won } => {
                self.dispute = self.dispute.max(if won { DisputeState::Won } else { DisputeState::Lost });
            }
        }
        self
    }
}

/// What was bought: the credits of the package and the amount charged for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub credits: Credits,
    pub amount_cents: i64,
}

impl Terms {
    /// The credits a refund of `refunded_cents` takes back: pro rata, rounded down (a partial
    /// refund never takes more than its share), all of them once everything is refunded.
    pub fn refunded_credits(&self, refunded_cents: i64) -> Credits {
        if refunded_cents <= 0 {
            return Credits::ZERO;
        }
        if refunded_cents >= self.amount_cents || self.amount_cents <= 0 {
            return self.credits;
        }
        let share = i128::from(self.credits.0) * i128::from(refunded_cents) / i128::from(self.amount_cents);
        Credits(i64::try_from(share).unwrap_or(self.credits.0))
    }

    /// What the purchase should have given its buyer, given the facts.
    pub fn credits_due(&self, facts: &PaymentFacts) -> Credits {
        if !facts.paid || matches!(facts.dispute, DisputeState::Open | DisputeState::Lost) {
            return Credits::ZERO;
        }
        Credits(self.credits.0 - self.refunded_credits(facts.amount_refunded_cents).0)
    }

    /// The status the API shows.
    pub fn status(&self, facts: &PaymentFacts) -> PurchaseStatus {
        if !facts.paid {
            return if facts.canceled {
                PurchaseStatus::Canceled
            } else if facts.failed {
                PurchaseStatus::Failed
            } else {
                PurchaseStatus::Pending
            };
        }
        if matches!(facts.dispute, DisputeState::Open | DisputeState::Lost) {
            PurchaseStatus::Disputed
        } else if facts.amount_refunded_cents >= self.amount_cents {
            PurchaseStatus::Refunded
        } else if facts.amount_refunded_cents > 0 {
            PurchaseStatus::PartiallyRefunded
        } else {
            PurchaseStatus::Succeeded
        }
    }
}

/// What a purchase has moved in the ledger so far, each as a positive number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    /// By the purchase itself (once, the package's credits).
    pub granted: Credits,
    /// By refunds and disputes.
    pub reversed: Credits,
    /// By won disputes giving back.
    pub restored: Credits,
}

/// One ledger movement of a purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettlementStep {
    /// The package's credits, when the payment first counts as paid.
    Grant(Credits),
    TakeBack(Credits),
    Restore(Credits),
}

impl Settled {
    /// What the buyer holds from this purchase now.
    pub fn held(&self) -> Credits {
        Credits(self.granted.0 - self.reversed.0 + self.restored.0)
    }

    /// The next movement towards what `facts` make due, if any. A payment is granted whole
    /// first, then what it lost is taken back, so that the buyer's history shows both.
    pub fn next_step(&self, terms: &Terms, facts: &PaymentFacts) -> Option<SettlementStep> {
        if facts.paid && self.granted == Credits::ZERO {
            return Some(SettlementStep::Grant(terms.credits));
        }
        let (due, held) = (terms.credits_due(facts), self.held());
        if due > held {
            Some(SettlementStep::Restore(Credits(due.0 - held.0)))
        } else if due < held {
            Some(SettlementStep::TakeBack(Credits(held.0 - due.0)))
        } else {
            None
        }
    }

    pub fn after(mut self, step: SettlementStep) -> Self {
        match step {
            SettlementStep::Grant(n) => self.granted = Credits(self.granted.0 + n.0),
            SettlementStep::TakeBack(n) => self.reversed = Credits(self.reversed.0 + n.0),
            SettlementStep::Restore(n) => self.restored = Credits(self.restored.0 + n.0),
        }
        self
    }

    /// Every step from here to what is due.
    pub fn steps_to(self, terms: &Terms, facts: &PaymentFacts) -> Vec<SettlementStep> {
        let mut settled = self;
        let mut steps = Vec::new();
        // At most a grant and one correction; the bound only guards against a logic error.
        while let Some(step) = settled.next_step(terms, facts) {
            steps.push(step);
            settled = settled.after(step);
            if steps.len() > 3 {
                break;
            }
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TERMS: Terms = Terms { credits: Credits(1100), amount_cents: 1000 };

    fn settle(events: &[PaymentEvent]) -> (PaymentFacts, Settled, Vec<SettlementStep>) {
        let (mut facts, mut settled, mut all) = (PaymentFacts::default(), Settled::default(), Vec::new());
        for event in events {
            facts = facts.merge(*event);
            for step in settled.steps_to(&TERMS, &facts) {
                settled = settled.after(step);
                all.push(step);
            }
        }
        (facts, settled, all)
    }

    #[test]
    fn a_payment_described_twice_is_granted_once() {
        let (facts, settled, steps) = settle(&[PaymentEvent::Paid, PaymentEvent::Paid]);
        assert_eq!(steps, [SettlementStep::Grant(Credits(1100))]);
        assert_eq!(TERMS.status(&facts), PurchaseStatus::Succeeded);
        assert_eq!(settled.held(), Credits(1100));
    }

    #[test]
    fn only_the_new_part_of_a_cumulative_refund_is_taken_back() {
        let (facts, _, steps) = settle(&[
            PaymentEvent::Paid,
            PaymentEvent::Refunded { amount_refunded_cents: 300 },
            PaymentEvent::Refunded { amount_refunded_cents: 300 },
            PaymentEvent::Refunded { amount_refunded_cents: 500 },
        ]);
        assert_eq!(
            steps,
            [
                SettlementStep::Grant(Credits(1100)),
                SettlementStep::TakeBack(Credits(330)),
                SettlementStep::TakeBack(Credits(220)),
            ]
        );
        assert_eq!(TERMS.status(&facts), PurchaseStatus::PartiallyRefunded);
    }

    #[test]
    fn a_refund_that_arrives_before_the_payment_is_applied_when_it_is_paid() {
        let (facts, settled, steps) =
            settle(&[PaymentEvent::Refunded { amount_refunded_cents: 1000 }, PaymentEvent::Paid]);
        assert_eq!(steps, [SettlementStep::Grant(Credits(1100)), SettlementStep::TakeBack(Credits(1100))]);
        assert_eq!((TERMS.status(&facts), settled.held()), (PurchaseStatus::Refunded, Credits::ZERO));
    }

    #[test]
    fn a_dispute_takes_what_is_left_and_a_won_one_gives_it_back() {
        let (facts, settled, steps) = settle(&[
            PaymentEvent::Paid,
            PaymentEvent::Refunded { amount_refunded_cents: 100 },
            PaymentEvent::DisputeOpened,
        ]);
        assert_eq!(steps[1..], [SettlementStep::TakeBack(Credits(110)), SettlementStep::TakeBack(Credits(990))]);
        assert_eq!((TERMS.status(&facts), settled.held()), (PurchaseStatus::Disputed, Credits::ZERO));
        let won = facts.merge(PaymentEvent::DisputeClosed { won: true });
        assert_eq!(settled.steps_to(&TERMS, &won), [SettlementStep::Restore(Credits(990))]);
        assert_eq!(TERMS.status(&won), PurchaseStatus::PartiallyRefunded);
        let lost = facts.merge(PaymentEvent::DisputeClosed { won: false });
        assert_eq!(settled.steps_to(&TERMS, &lost), []);
    }

    #[test]
    fn unpaid_purchases_show_why_and_move_nothing() {
        assert_eq!(settle(&[PaymentEvent::Failed]).2, []);
        assert_eq!(TERMS.status(&settle(&[PaymentEvent::Failed]).0), PurchaseStatus::Failed);
        assert_eq!(TERMS.status(&settle(&[PaymentEvent::Failed, PaymentEvent::Canceled]).0), PurchaseStatus::Canceled);
        assert_eq!(TERMS.status(&PaymentFacts::default()), PurchaseStatus::Pending);
        // A failed first attempt, then a successful one: paid wins.
        assert_eq!(TERMS.status(&settle(&[PaymentEvent::Failed, PaymentEvent::Paid]).0), PurchaseStatus::Succeeded);
    }

    fn event() -> impl Strategy<Value = PaymentEvent> {
        prop_oneof![
            Just(PaymentEvent::Paid),
            Just(PaymentEvent::Failed),
            Just(PaymentEvent::Canceled),
            (0i64..=1200).prop_map(|amount_refunded_cents| PaymentEvent::Refunded { amount_refunded_cents }),
            Just(PaymentEvent::DisputeOpened),
            any::<bool>().prop_map(|won| PaymentEvent::DisputeClosed { won }),
        ]
    }

    /// What the events say, computed directly from the whole set, without any order.
    fn model(events: &[PaymentEvent]) -> Credits {
        let paid = events.contains(&PaymentEvent::Paid);
        let refunded = events
            .iter()
            .filter_map(|e| match e {
                PaymentEvent::Refunded { amount_refunded_cents } => Some(*amount_refunded_cents),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let lost = events.contains(&PaymentEvent::DisputeClosed { won: false });
        let won = events.contains(&PaymentEvent::DisputeClosed { won: true });
        let open = events.contains(&PaymentEvent::DisputeOpened);
        if !paid || lost || (open && !won) {
            return Credits::ZERO;
        }
        let taken = if refunded >= 1000 { 1100 } else { 1100 * refunded / 1000 };
        Credits(1100 - taken)
    }

    proptest! {
        #[test]
        fn any_order_and_any_repetition_of_events_settles_to_what_they_say(
            events in prop::collection::vec(event(), 0..12),
            repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
            seed in any::<u64>(),
        ) {
            let (_, settled, steps) = settle(&events);
            prop_assert_eq!(settled.held(), model(&events));
            prop_assert!(steps.iter().filter(|s| matches!(s, SettlementStep::Grant(_))).count() <= 1);
            prop_assert!(settled.reversed.0 <= settled.granted.0 + settled.restored.0);

            // Redelivered and reordered: the same end, never a second grant.
            let mut delivered = events.clone();
            if !events.is_empty() {
                delivered.extend(repeats.iter().map(|i| events[i.index(events.len())]));
            }
            let mut state = seed;
            for i in (1..delivered.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                delivered.swap(i, (state >> 33) as usize % (i + 1));
            }
            let (facts, again, _) = settle(&delivered);
            prop_assert_eq!(again.held(), settled.held());
            prop_assert_eq!(TERMS.status(&facts), TERMS.status(&settle(&events).0));
            prop_assert!(again.granted == Credits::ZERO || again.granted == TERMS.credits);
        }
    }
}

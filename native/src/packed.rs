//! What eval's per-contract cache keeps, packed: a full view in 96 bytes (208 unpacked) and a
//! memoized assessment in 40 (96): one of each per contract at least, for as long as the
//! contract does not change. Unpacked they are exactly what was packed.

use crate::model::Contract;
use crate::rules::{exits_of, rule_set_number, Assessment, Cut, Outcome, RuleSet, View};

// which options of the view are there, and its flags
const CLOSED_AT: u16 = 1;
const SETTLED_AT: u16 = 1 << 1;
const FIRST_PAID: u16 = 1 << 2;
const LAST_PAID: u16 = 1 << 3;
const CLIENT_STARS: u16 = 1 << 4;
const CLIENT_RECOMMEND: u16 = 1 << 5;
const CLIENT_REMOVED: u16 = 1 << 6;
const FREELANCER_STARS: u16 = 1 << 7;
const FREELANCER_REMOVED: u16 = 1 << 8;
const SCALED_BEYOND6: u16 = 1 << 9;
const CLOSED_BY_CLIENT_OR_PLATFORM: u16 = 1 << 10;
const CLIENT_END_REASON: u16 = 1 << 11;
const BOTH_PUBLIC: u16 = 1 << 12;

/// A view without its contract's index (the cache is the contract's own).
pub struct PackedView {
    closed_at: i64,
    settled_at: i64,
    earnings: i64,
    first_paid: i64,
    last_paid: i64,
    client_stars: f64,
    client_scaled: [u64; 2],
    client_recommend: i64,
    freelancer_stars: f64,
    client_removed: u32,
    freelancer_removed: u32,
    bits: u16,
}

fn put<T: Default>(bits: &mut u16, bit: u16, x: Option<T>) -> T {
    match x {
        Some(x) => {
            *bits |= bit;
            x
        }
        None => T::default(),
    }
}

fn index(i: usize) -> u32 {
    u32::try_from(i).expect("a contract has fewer than 2^32 removals")
}

impl PackedView {
    pub fn pack(v: &View) -> PackedView {
        let mut bits = 0;
        for (bit, on) in [
            (SCALED_BEYOND6, v.client_scaled.1),
            (CLOSED_BY_CLIENT_OR_PLATFORM, v.closed_by_client_or_platform),
            (CLIENT_END_REASON, v.client_end_reason),
            (BOTH_PUBLIC, v.both_public),
        ] {
            if on {
                bits |= bit;
            }
        }
        let b = &mut bits;
        let scaled = v.client_scaled.0;
        PackedView {
            closed_at: put(b, CLOSED_AT, v.closed_at),
            settled_at: put(b, SETTLED_AT, v.settled_at),
            earnings: v.earnings,
            first_paid: put(b, FIRST_PAID, v.first_paid),
            last_paid: put(b, LAST_PAID, v.last_paid),
            client_stars: put(b, CLIENT_STARS, v.client_stars),
            client_scaled: [scaled as u64, (scaled >> 64) as u64],
            client_recommend: put(b, CLIENT_RECOMMEND, v.client_recommend),
            freelancer_stars: put(b, FREELANCER_STARS, v.freelancer_stars),
            client_removed: put(b, CLIENT_REMOVED, v.client_removed.map(index)),
            freelancer_removed: put(b, FREELANCER_REMOVED, v.freelancer_removed.map(index)),
            bits,
        }
    }

    pub fn unpack(&self, ci: usize) -> View {
        let has = |bit: u16| self.bits & bit != 0;
        let opt = |bit: u16, x: i64| has(bit).then_some(x);
        View {
            ci,
            closed_at: opt(CLOSED_AT, self.closed_at),
            closed_by_client_or_platform: has(CLOSED_BY_CLIENT_OR_PLATFORM),
            settled_at: opt(SETTLED_AT, self.settled_at),
            earnings: self.earnings,
            first_paid: opt(FIRST_PAID, self.first_paid),
            last_paid: opt(LAST_PAID, self.last_paid),
            client_stars: has(CLIENT_STARS).then_some(self.client_stars),
            client_scaled: ((i128::from(self.client_scaled[1] as i64) << 64) | i128::from(self.client_scaled[0]), has(SCALED_BEYOND6)),
            client_recommend: opt(CLIENT_RECOMMEND, self.client_recommend),
            client_end_reason: has(CLIENT_END_REASON),
            client_removed: has(CLIENT_REMOVED).then_some(self.client_removed as usize),
            freelancer_stars: has(FREELANCER_STARS).then_some(self.freelancer_stars),
            freelancer_removed: has(FREELANCER_REMOVED).then_some(self.freelancer_removed as usize),
            both_public: has(BOTH_PUBLIC),
        }
    }
}

/// An assessment of the full view under `rules`, for a client `flagged` or not, `settled` or
/// not; its contract, flag and window exits are the cache's own.
#[derive(Clone, Copy)]
pub struct Memo {
    cut: Cut,
    weight4: i64,
    rules: u8, // index into rules::RULE_SETS
    flagged: bool,
    settled: bool,
    counted: bool,
    outcome: Option<Outcome>,
}

impl Memo {
    pub fn pack(rules: &'static RuleSet, settled: bool, a: &Assessment) -> Memo {
        let rules = rule_set_number(rules);
        Memo { rules, cut: a.cut, weight4: a.weight4, flagged: a.flagged, settled, counted: a.counted, outcome: a.outcome }
    }
    pub fn of(&self, rules: u8, flagged: bool, settled: bool) -> bool {
        self.rules == rules && self.flagged == flagged && self.settled == settled
    }

    /// `v`: the full view it assessed (rules::assess gives a counted contract its exits).
    pub fn unpack(&self, c: &Contract, v: &View) -> Assessment {
        let exits = if self.counted { exits_of(c, v.closed_at.expect("a settled contract is closed")) } else { [0; 3] };
        Assessment {
            ci: v.ci,
            cut: self.cut,
            flagged: self.flagged,
            counted: self.counted,
            outcome: self.outcome,
            weight4: self.weight4,
            exits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PackedView;
    use crate::rules::View;

    fn fields(v: &View) -> String {
        format!(
            "{} {:?} {} {:?} {} {:?} {:?} {:?} {:?} {:?} {} {:?} {:?} {:?} {}",
            v.ci,
            v.closed_at,
            v.closed_by_client_or_platform,
            v.settled_at,
            v.earnings,
            v.first_paid,
            v.last_paid,
            v.client_stars.map(f64::to_bits),
            v.client_scaled,
            v.client_recommend,
            v.client_end_reason,
            v.client_removed,
            v.freelancer_stars.map(f64::to_bits),
            v.freelancer_removed,
            v.both_public
        )
    }

    /// Every option present and absent, the flags each way, extreme values (seeded: 7).
    #[test]
    fn a_view_unpacks_to_what_was_packed() {
        let mut seed: u64 = 7;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed
        };
        for _ in 0..2000 {
            let r = next();
            let bit = |i: u32| r >> i & 1 == 1;
            let x = next() as i64;
            let pick = |i: u32, v: i64| bit(i).then_some(v);
            let v = View {
                ci: (next() % 1000) as usize,
                closed_at: pick(0, x),
                closed_by_client_or_platform: bit(1),
                settled_at: pick(2, i64::MIN),
                earnings: x.wrapping_neg(),
                first_paid: pick(3, i64::MAX),
                last_paid: pick(4, 0),
                client_stars: bit(5).then_some(f64::from_bits(next())),
                client_scaled: ((i128::from(x) << 40) - 3, bit(6)),
                client_recommend: pick(7, -1),
                client_end_reason: bit(8),
                client_removed: bit(9).then_some(0),
                freelancer_stars: bit(10).then_some(-0.0),
                freelancer_removed: bit(11).then_some(u32::MAX as usize),
                both_public: bit(12),
            };
            assert_eq!(fields(&PackedView::pack(&v).unpack(v.ci)), fields(&v));
        }
    }
}

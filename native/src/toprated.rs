//! projections/toprated.py (the rule, its words) and projections/badges.py (the projector's
//! part): the Top Rated badge, evaluated every Monday 00:00 UTC. Same order, same words.

use std::cmp::Reverse;

use crate::event::Recorded;
use crate::ledger::Cause;
use crate::model::{Contracts, Freelancer};
use crate::projector::{Projector, Res, Table, Trigger};
use crate::time::{add_months, format_time, published_at, DAY};

pub const WEEK: i64 = 7 * DAY;
const MONDAY: i64 = 4 * DAY; // 1970-01-05T00:00:00Z

/// reputation/rulesets.py TopRated; every rule set has the same thresholds (rules.md).
#[derive(Clone, Copy)]
pub struct TopRated {
    pub jss: i64,
    pub weeks: usize,
    pub of: i64,
    pub earnings: i64, // cents
    pub months: i64,
}

pub fn rule_at(_at: i64) -> TopRated {
    TopRated { jss: 90, weeks: 13, of: 16, earnings: 1000_00, months: 12 }
}

pub fn monday_at_or_before(t: i64) -> i64 {
    t - (t - MONDAY).rem_euclid(WEEK)
}

pub fn monday_at_or_after(t: i64) -> i64 {
    t + (MONDAY - t).rem_euclid(WEEK)
}

/// A payment (+) or refund (-) as toprated.money_of has it: occurred at, cents, and the first
/// Monday at which it no longer counts (the Monday at or after add_months(at, months)) as a day
/// number; ordered as (at, cents, until), as `until` follows from `at`. In 16 bytes (three i64:
/// 24): cents past an i32 come as several items of the same time (the sums are all that is read).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money {
    pub at: i64,
    pub cents: i32,
    until_day: i32,
}

impl Money {
    pub fn until(&self) -> i64 {
        i64::from(self.until_day) * DAY
    }
}

pub fn money_items(at: i64, cents: i64) -> impl Iterator<Item = Money> {
    let until = monday_at_or_after(add_months(at, rule_at(at).months));
    // a Monday's midnight, a whole day; within i32 days (5.8 million years) of 1970
    let until_day = i32::try_from(until / DAY).expect("a time within 5.8 million years of 1970");
    let mut rest = cents;
    std::iter::from_fn(move || {
        let piece = i32::try_from(rest).unwrap_or(if rest < 0 { -i32::MAX } else { i32::MAX });
        rest -= i64::from(piece);
        (piece != 0).then_some(Money { at, cents: piece, until_day })
    })
}

pub fn money_of(contracts: &Contracts, ids: &[usize]) -> Vec<Money> {
    let mut out = vec![];
    for &ci in ids {
        let c = &contracts[ci];
        out.extend(c.payments.iter().flat_map(|m| money_items(m.at, m.cents)));
        out.extend(c.refunds.iter().flat_map(|m| money_items(m.at, -m.cents)));
    }
    out.sort_unstable();
    out.shrink_to_fit(); // kept while the freelancer is (Projector::money)
    out
}

/// toprated.earnings at a Monday: cents moved at t with t <= m < add_months(t, months).
pub fn earnings(money: &[Money], m: i64) -> i64 {
    let mut i = money.partition_point(|x| x.at <= m);
    let mut total = 0;
    while i > 0 && money[i - 1].until() > m {
        i -= 1;
        total += i64::from(money[i].cents);
    }
    total
}

pub struct Week {
    pub at: i64,
    pub jss: Option<i64>,
    pub counted: bool,
}

pub struct Evaluation {
    pub at: i64,
    pub rule: TopRated,
    pub weeks: Vec<Week>,
    pub earnings: i64,
    pub top: bool,
}

impl Evaluation {
    pub fn counted(&self) -> usize {
        self.weeks.iter().filter(|w| w.counted).count()
    }
}

/// The badge at Monday `at`: each week reads the JSS published then (at published_at(days, w)).
pub fn evaluate(f: &Freelancer, money: &[Money], at: i64, days: &[i64]) -> Evaluation {
    let rule = rule_at(at);
    let start = at - (rule.of - 1) * WEEK;
    let mut jss = [None; 64];
    weekly_jss(f, start, days, &mut jss[..rule.of as usize]);
    let weeks: Vec<Week> = (0..rule.of as usize)
        .map(|k| Week { at: start + k as i64 * WEEK, jss: jss[k], counted: jss[k].is_some_and(|j| j >= rule.jss) })
        .collect();
    let cents = earnings(money, at);
    let n = weeks.iter().filter(|w| w.counted).count();
    Evaluation { at, rule, weeks, earnings: cents, top: n >= rule.weeks && cents >= rule.earnings }
}

/// toprated.weekly_jss: the JSS published at n Mondays from `start`, in one walk of the timeline.
fn weekly_jss(f: &Freelancer, start: i64, days: &[i64], out: &mut [Option<i64>]) {
    let tl = &f.timeline;
    let first = published_at(days, start);
    let mut i = tl.partition_point(|e| e.at <= first);
    for (k, jss) in out.iter_mut().enumerate() {
        let t = published_at(days, start + k as i64 * WEEK);
        while i < tl.len() && tl[i].at <= t {
            i += 1;
        }
        *jss = if i > 0 { tl[i - 1].jss() } else { None };
    }
}

/// toprated.next_flip: the first Monday after `after` at which the badge would not be `top`.
pub fn next_flip(f: &Freelancer, money: &[Money], after: i64, top: bool, days: &[i64]) -> Option<i64> {
    let first = monday_at_or_after(after + 1);
    let rule = rule_at(first);
    let of = rule.of as usize;
    let mut jss = [None; 64];
    weekly_jss(f, first - (rule.of - 1) * WEEK, days, &mut jss[..2 * of - 1]);
    let all = jss.map(|j| j.is_some_and(|j| j >= rule.jss));
    let ok = &all[..2 * of - 1];
    let mut n = ok[..of - 1].iter().filter(|&&b| b).count();
    for i in 0..of {
        n += usize::from(ok[i + of - 1]);
        let m = first + i as i64 * WEEK;
        if (n >= rule.weeks && earnings(money, m) >= rule.earnings) != top {
            return Some(m);
        }
        n -= usize::from(ok[i]);
    }
    if !ok[ok.len() - 1] {
        return None; // no week counts any more: the badge stays off
    }
    // every week counts from here on: the badge is the earnings, which move only when a movement
    // (all made by `after`) stops counting, from the Monday at or after its 12 months (its third
    // field, in order like the movements)
    let last = first + (rule.of - 1) * WEEK;
    let mut j = money.partition_point(|x| x.until() <= last);
    let mut left: i64 = money[j..].iter().map(|x| i64::from(x.cents)).sum();
    while j < money.len() {
        let m = money[j].until();
        while j < money.len() && money[j].until() <= m {
            left -= i64::from(money[j].cents);
            j += 1;
        }
        if (left >= rule.earnings) != top {
            return Some(m);
        }
    }
    None
}

pub fn dollars(cents: i64) -> String {
    let a = cents.unsigned_abs();
    let whole = (a / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{}${grouped}.{:02}", if cents < 0 { "-" } else { "" }, a % 100)
}

fn day(t: i64) -> String {
    format_time(t)[..10].to_string()
}

/// badges.badge_causes: the words as ledger causes.
pub fn badge_causes(e: &Evaluation) -> Vec<Cause> {
    let at = format_time(e.at);
    words(e)
        .into_iter()
        .map(|(kind, text)| Cause {
            at: at.clone(),
            kind,
            text,
            contract_id: None,
            client_id: None,
            event_id: None,
            jss_before: None,
            jss_after: None,
            jss_delta: None,
            private: false,
        })
        .collect()
}

pub fn words(e: &Evaluation) -> Vec<(&'static str, String)> {
    let r = e.rule;
    let short: Vec<String> = e
        .weeks
        .iter()
        .filter(|w| !w.counted)
        .map(|w| {
            let j = w.jss.map_or_else(|| "not shown".to_string(), |j| j.to_string());
            format!("{} ({j})", day(w.at))
        })
        .collect();
    let mut weeks = format!("JSS {} or more in {} of the last {} weekly evaluations ({} needed)", r.jss, e.counted(), r.of, r.weeks);
    if !short.is_empty() {
        weeks.push_str(&format!("; below {}: {}", r.jss, short.join(", ")));
    }
    let money = format!("earnings {} in the {} months to {}", dollars(e.earnings), r.months, day(e.at));
    if e.top {
        let head = format!("Top Rated gained at the evaluation of {}: ", day(e.at));
        return vec![("top_rated_gained", format!("{head}{weeks}; {money} (at least {})", dollars(r.earnings)))];
    }
    let head = format!("Top Rated lost at the evaluation of {}: ", day(e.at));
    let mut out = vec![];
    if e.counted() < r.weeks {
        out.push(("top_rated_lost", format!("{head}{weeks}")));
    }
    if e.earnings < r.earnings {
        out.push(("top_rated_lost", format!("{head}{money} < {}", dollars(r.earnings))));
    }
    out
}

impl Projector {
    /// badges._badge_deadline: the clock reached a deadline of the freelancer at `at`.
    pub fn badge_deadline(&mut self, fi: usize, at: i64, grown: bool, pos: i64, rec: &Recorded) -> Res<()> {
        if grown || at == monday_at_or_before(at) {
            self.badges(fi, at, at, pos, rec, None, grown)?;
        }
        Ok(())
    }

    /// badges._badges: the ledger's badge made to agree with the rule over [lo, hi].
    #[allow(clippy::too_many_arguments)]
    pub fn badges(&mut self, fi: usize, lo: i64, hi: i64, pos: i64, rec: &Recorded, late: Option<&Trigger>, predict: bool) -> Res<()> {
        let money = self.take_money(fi);
        let grown = self.freelancers[fi].timeline.len();
        let first = monday_at_or_after(lo); // the badge of an earlier Monday does not depend on what changed
        let mut points: Vec<i64> = vec![];
        let mut m = first;
        while m <= hi {
            points.push(m);
            m += WEEK;
        }
        let tl = &self.freelancers[fi].timeline;
        points.extend(tl[tl.partition_point(|e| e.at < first)..].iter().take_while(|e| e.at <= hi).map(|e| e.at));
        points.sort_unstable();
        points.dedup();
        let mut last: Option<Evaluation> = None; // points in order: one evaluation per Monday
        for x in points {
            let m = monday_at_or_before(x);
            if last.as_ref().map_or(true, |e| e.at != m) {
                last = Some(evaluate(&self.freelancers[fi], &money, m, &self.days));
            }
            let e = last.as_ref().unwrap();
            let Some(prev) = self.freelancers[fi].lookup(x).copied() else { continue };
            if prev.top == e.top {
                continue;
            }
            self.seq += 1;
            let mut entry = prev;
            entry.at = x;
            entry.seq = self.seq;
            entry.top = e.top;
            self.freelancers[fi].record(entry);
            self.dirty.mark(Table::Freelancers, fi);
            let mut causes: Vec<Cause> = late.filter(|t| t.at < x).map(|t| self.late_cause(t, None)).into_iter().collect();
            causes.extend(badge_causes(e));
            self.push_change(fi, Some(prev), entry, pos, rec, causes);
        }
        if predict || self.freelancers[fi].timeline.len() != grown {
            let f = &self.freelancers[fi];
            let top = f.lookup(hi).is_some_and(|e| e.top);
            if let Some(flip) = next_flip(f, &money, hi, top, &self.days) {
                if self.scheduled.insert(fi, flip) != Some(flip) {
                    let fid = f.id.clone();
                    self.schedule(flip, fid.to_string());
                }
            }
        }
        self.money.insert(fi, money);
        Ok(())
    }

    /// The freelancer's money, out of the cache (put it back after use).
    fn take_money(&mut self, fi: usize) -> Vec<Money> {
        self.money.remove(&fi).unwrap_or_else(|| money_of(&self.contracts, &self.freelancers[fi].contracts))
    }

    /// badges._badge_at: the badge at `at` (its Monday's evaluation), the timeline as it stands.
    pub fn badge_at(&mut self, fi: usize, at: i64) -> Evaluation {
        let money = self.take_money(fi);
        let e = evaluate(&self.freelancers[fi], &money, monday_at_or_before(at), &self.days);
        self.money.insert(fi, money);
        e
    }

    fn schedule(&mut self, at: i64, fid: String) {
        if at <= self.target {
            self.due.push(Reverse((at, fid))); // the clock is moving past it now
        } else {
            self.push_deadline(at, fid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_time;

    /// Amounts past an i32 of cents (the store takes up to $1e9, 1e11 cents) come as pieces of
    /// the same time whose earnings are the amount's, and items sort as the tuples they stand for.
    #[test]
    fn money_items_hold_any_amount_in_16_bytes() {
        assert_eq!(std::mem::size_of::<Money>(), 16);
        let t = |s: &str| parse_time(s).unwrap();
        let at = t("2024-02-29T10:00:00.123456Z");
        let until = t("2025-03-03T00:00:00Z");
        for cents in [1, -1, i64::from(i32::MAX), i64::from(i32::MAX) + 1, -i64::from(i32::MAX) - 5, 100_000_000_000, -100_000_000_000] {
            let items: Vec<Money> = money_items(at, cents).collect();
            assert!(items.iter().all(|m| m.at == at && m.until() == until), "{cents}");
            assert_eq!(items.iter().map(|m| i64::from(m.cents)).sum::<i64>(), cents);
            assert!(items.len() <= 1 + (cents.unsigned_abs() / i32::MAX as u64) as usize, "{cents}: {} items", items.len());
            for m in [at, until - 1] {
                assert_eq!(earnings(&items, m), cents, "{cents} at {m}");
            }
            assert_eq!(earnings(&items, until), 0);
        }
        // (at, cents, until) order: by time first, then by amount
        let mut seed: u64 = 5; // an LCG, seeded
        let mut items = vec![];
        for _ in 0..500 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let at = at + (seed >> 40) as i64 % 40 * DAY;
            items.extend(money_items(at, (seed >> 20) as i64 % 2001 - 1000));
        }
        let mut tuples: Vec<(i64, i64, i64)> = items.iter().map(|m| (m.at, i64::from(m.cents), m.until())).collect();
        items.sort_unstable();
        tuples.sort_unstable();
        assert!(items.iter().map(|m| (m.at, i64::from(m.cents), m.until())).eq(tuples));
    }

    #[test]
    fn mondays_and_dollars() {
        let t = |s: &str| parse_time(s).unwrap();
        assert_eq!(monday_at_or_before(t("2024-01-03T12:00:00Z")), t("2024-01-01T00:00:00Z"));
        assert_eq!(monday_at_or_after(t("2024-01-03T12:00:00Z")), t("2024-01-08T00:00:00Z"));
        assert_eq!(monday_at_or_after(t("2024-01-08T00:00:00Z")), t("2024-01-08T00:00:00Z"));
        // the 12 months of a payment on 2024-02-29: until 2025-02-28, then the Monday after
        assert_eq!(money_items(t("2024-02-29T10:00:00Z"), 1).next().unwrap().until(), t("2025-03-03T00:00:00Z"));
        let d: Vec<String> = [0, 99_999, 100_000, 123_456_789, -1].map(dollars).to_vec();
        // the published JSS of a Monday: 2024-01-15 00:00 is a publication instant (and a Monday)
        let days = [1, 15];
        assert_eq!(published_at(&days, t("2024-01-15T00:00:00Z")), t("2024-01-15T00:00:00Z"));
        assert_eq!(published_at(&days, t("2024-01-14T23:59:59Z")), t("2024-01-01T00:00:00Z"));
        assert_eq!(published_at(&days, t("2024-01-01T00:00:00Z") - 1), t("2023-12-15T00:00:00Z"));
        assert_eq!(published_at(&[28], t("2024-03-27T00:00:00Z")), t("2024-02-28T00:00:00Z"));
        assert_eq!(d, ["$0.00", "$999.99", "$1,000.00", "$1,234,567.89", "-$0.01"]);
    }
}

//! projections/rules.py: the rule sets, a contract's view and assessment at a cut, the
//! window tallies, the JSS and the feedback score. Same order of checks, same words.

use crate::model::{Contract, Removal};
use crate::outcome::{outcome, signals, Signals, Usual};
use crate::reason::{NoWords, Reason, Why};
use crate::time::{DAY, FEEDBACK_WINDOW, INF};

pub const LONG_TERM: i64 = 90 * DAY;
pub const WINDOWS: [i64; 3] = [6, 12, 24];

pub struct RuleSet {
    pub name: &'static str,
    pub starts: i64,
    pub windows: &'static [usize], // indexes into WINDOWS
    pub neutral_reasons: bool,
    pub weighted: bool,
    pub zero_only_if_negative: bool,
    pub needs_signal_or_long_term: bool,
    pub ignores_flagged_clients: bool,
    pub min_contracts: i64,
    pub min_clients: usize,
    // fair-2026 only (rules.md, "fair-2026"): never in force, chosen by name
    pub engagements: bool,
    pub neutral_closes: bool,
    pub lenient_raters: bool,
}

pub static JSS_2016: RuleSet = JSS_2016_FIELDS;
const JSS_2016_FIELDS: RuleSet = RuleSet {
    name: "jss-2016",
    starts: -INF,
    windows: &[0, 1, 2],
    neutral_reasons: false,
    weighted: false,
    zero_only_if_negative: false,
    needs_signal_or_long_term: false,
    ignores_flagged_clients: false,
    min_contracts: 4,
    min_clients: 2,
    engagements: false,
    neutral_closes: false,
    lenient_raters: false,
};
pub static JSS_2020: RuleSet = RuleSet {
    name: "jss-2020",
    starts: 1_583_020_800_000_000,
    neutral_reasons: true,
    weighted: true,
    zero_only_if_negative: true,
    ..JSS_2016_FIELDS
};
pub static JSS_2024: RuleSet = JSS_2024_FIELDS;
/// A proposal, never in force (no switch leads to it): chosen by name only.
pub static FAIR_2026: RuleSet =
    RuleSet { name: "fair-2026", starts: INF, engagements: true, neutral_closes: true, lenient_raters: true, ..JSS_2024_FIELDS };
const JSS_2024_FIELDS: RuleSet = RuleSet {
    name: "jss-2024",
    starts: 1_725_321_600_000_000,
    windows: &[2],
    neutral_reasons: true,
    weighted: true,
    zero_only_if_negative: true,
    needs_signal_or_long_term: true,
    ignores_flagged_clients: true,
    min_contracts: 2,
    min_clients: 2,
    engagements: false,
    neutral_closes: false,
    lenient_raters: false,
};
pub static SWITCHES: [i64; 2] = [JSS_2020.starts, JSS_2024.starts];

pub fn in_force(at: i64) -> &'static RuleSet {
    if at >= JSS_2024.starts {
        &JSS_2024
    } else if at >= JSS_2020.starts {
        &JSS_2020
    } else {
        &JSS_2016
    }
}

pub static RULE_SETS: [&RuleSet; 4] = [&JSS_2016, &JSS_2020, &JSS_2024, &FAIR_2026];

/// A rule set's index in RULE_SETS.
pub fn rule_set_number(rules: &'static RuleSet) -> u8 {
    RULE_SETS.iter().position(|r| std::ptr::eq(*r, rules)).expect("a rule set of rules::RULE_SETS") as u8
}

pub fn rule_set_named(name: &str) -> Result<&'static RuleSet, String> {
    RULE_SETS.into_iter().find(|r| r.name == name).ok_or_else(|| format!("unknown rule set {name:?}"))
}

#[derive(Clone, Copy)]
pub struct Cut {
    pub at: i64,
    pub pos: i64,
    pub known: i64,
}

impl Cut {
    pub fn new(at: i64, pos: i64, known: i64) -> Cut {
        Cut { at, pos, known }
    }
    #[inline]
    pub fn sees(&self, at: i64, pos: i64) -> bool {
        pos <= self.known && (at < self.at || (at == self.at && pos <= self.pos))
    }
}

/// The facts of one contract visible at a cut. Strings are the contract's (index `ci`).
#[derive(Clone, Copy)]
pub struct View {
    pub ci: usize,
    pub closed_at: Option<i64>,
    pub closed_by_client_or_platform: bool,
    pub settled_at: Option<i64>,
    pub earnings: i64,
    pub first_paid: Option<i64>,
    pub last_paid: Option<i64>,
    pub client_stars: Option<f64>,
    pub client_scaled: (i128, bool),
    pub client_recommend: Option<i64>,
    pub client_end_reason: bool,       // the client's private feedback has an end reason (visible)
    pub client_removed: Option<usize>, // index into contract.removals of the latest of the client
    pub freelancer_stars: Option<f64>,
    pub freelancer_removed: Option<usize>,
    pub both_public: bool,
}

impl View {
    pub fn revealed_client(&self, at: i64) -> bool {
        self.client_stars.is_some() && (self.both_public || at >= self.closed_at.unwrap_or(INF) + FEEDBACK_WINDOW)
    }
    pub fn long_term(&self) -> bool {
        matches!((self.first_paid, self.last_paid), (Some(f), Some(l)) if l - f >= LONG_TERM)
    }
}

pub fn view(c: &Contract, ci: usize, cut: Cut) -> Option<View> {
    if !cut.sees(c.opened_at, c.opened_pos) {
        return None;
    }
    let closed = c.closed.as_ref().filter(|x| cut.sees(x.at, x.pos));
    let mut paid = c.payments.iter().filter(|m| cut.sees(m.at, m.pos));
    let first = paid.next();
    let (mut earnings, mut last) = (first.map_or(0, |m| m.cents), first);
    for m in paid {
        earnings += m.cents;
        last = Some(m);
    }
    earnings -= c.refunds.iter().filter(|m| cut.sees(m.at, m.pos)).map(|m| m.cents).sum::<i64>();
    fn first_last(list: &[crate::model::Stars], cut: Cut) -> (Option<&crate::model::Stars>, Option<&crate::model::Stars>) {
        let mut it = list.iter().filter(|s| cut.sees(s.at, s.pos));
        let first = it.next();
        (first, it.next_back().or(first))
    }
    let (cfirst, clast) = first_last(&c.client_public, cut);
    let (ffirst, flast) = first_last(&c.freelancer_public, cut);
    let cpriv = c.client_private.as_ref().filter(|p| cut.sees(p.at, p.pos));
    let (mut client_removed, mut freelancer_removed) = (None, None);
    for (i, r) in c.removals.iter().enumerate() {
        if cut.sees(r.at, r.pos) {
            if r.of == "client" {
                client_removed = Some(i)
            } else {
                freelancer_removed = Some(i)
            }
        }
    }
    let settled_at = closed.map(|x| {
        let end = x.at + FEEDBACK_WINDOW;
        match (cfirst, ffirst) {
            (Some(a), Some(b)) => a.at.max(b.at).min(end),
            _ => end,
        }
    });
    Some(View {
        ci,
        closed_at: closed.map(|x| x.at),
        closed_by_client_or_platform: closed.is_some_and(|x| x.by == "client" || x.by == "platform"),
        settled_at,
        earnings,
        first_paid: first.map(|m| m.at),
        last_paid: last.map(|m| m.at),
        client_stars: clast.map(|s| s.stars),
        client_scaled: clast.map_or((0, false), |s| s.scaled.get(s.stars)),
        client_recommend: cpriv.map(|p| p.recommend),
        client_end_reason: cpriv.is_some_and(|p| p.end_reason.is_some()),
        client_removed,
        freelancer_stars: flast.map(|s| s.stars),
        freelancer_removed,
        both_public: cfirst.is_some() && ffirst.is_some(),
    })
}

/// The last position of any fact of the contract (rules._max_pos).
pub fn max_pos(c: &Contract) -> i64 {
    let mut pos = c.opened_pos;
    let all = c
        .payments
        .iter()
        .chain(&c.refunds)
        .map(|m| m.pos)
        .chain(c.client_public.iter().chain(&c.freelancer_public).map(|s| s.pos))
        .chain(c.removals.iter().map(|r| r.pos))
        .chain(c.scope_changes.iter().map(|m| m.pos))
        .chain(c.closed.iter().map(|x| x.pos))
        .chain(c.client_private.iter().chain(&c.freelancer_private).map(|p| p.pos))
        .chain(c.edit_allowed.iter().map(|(_, m)| m.pos));
    for p in all {
        pos = pos.max(p);
    }
    pos
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    Negative,
    Positive,
    Neutral,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Negative => "negative",
            Outcome::Positive => "positive",
            Outcome::Neutral => "neutral",
        }
    }
}

fn weight4(v: &View, rules: &RuleSet) -> i64 {
    if !rules.weighted {
        return 4;
    }
    let e = v.earnings.max(0);
    let mut base = if e <= 250_00 {
        4
    } else if e <= 1000_00 {
        5
    } else {
        6
    };
    if let (Some(f), Some(l)) = (v.first_paid, v.last_paid) {
        base += 4 * (l - f).div_euclid(LONG_TERM);
    }
    base.min(32)
}

#[derive(Clone, Copy)]
pub struct Assessment {
    pub ci: usize,
    pub cut: Cut, // the view it assessed is the contract's at this cut
    pub flagged: bool,
    pub counted: bool,
    pub outcome: Option<Outcome>,
    pub weight4: i64,
    pub exits: [i64; 3],
}

/// A what-if on one contract (explain's counterfactuals, `overrides` in Python).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Override {
    As(Outcome),
    Exclude,
}

/// What fair-2026 gives `assess` besides the view (projections.rules.fair reads more than
/// one contract): the engagement's signals, its removal and the client's usual answers.
#[derive(Default)]
pub struct Extra<'a> {
    pub what_if: Option<Override>,
    pub signals: Option<Signals<'a>>,
    pub removed: Option<Option<&'a Removal>>, // an engagement's removal, instead of the view's
    pub usual: Option<Usual>,
}

pub fn assess(c: &Contract, v: &View, cut: Cut, rules: &RuleSet, flagged: bool, extra: Extra, why: &mut impl Why) -> Assessment {
    let at = cut.at;
    let mut a = Assessment { ci: v.ci, cut, flagged, counted: false, outcome: None, weight4: 0, exits: [0; 3] };
    match v.settled_at {
        Some(s) if at >= s => {}
        _ => {
            why.push(|| if v.closed_at.is_none() { Reason::Open } else { Reason::NotSettled });
            return a;
        }
    }
    let s = extra.signals.unwrap_or_else(|| signals(c, v, rules, flagged));
    let removed = extra.removed.unwrap_or_else(|| v.client_removed.map(|i| &c.removals[i]));
    let mut result = outcome(v, &s, rules, extra.usual, why);
    if let Some(stripped) = s.stripped.clone() {
        why.insert_first(stripped);
    }
    if let Some(note) = s.note.clone() {
        why.push(|| note);
    }
    if let Some(Override::As(o)) = extra.what_if {
        result = o;
        why.replace(Reason::WhatIf(o.as_str()));
    }
    let mut counted = true;
    let long = v.long_term();
    if removed.is_some_and(|r| r.basis == "top_rated_perk") {
        counted = false;
        why.replace(Reason::ExcludedPerk);
    } else if extra.what_if == Some(Override::Exclude) {
        counted = false;
        why.replace(Reason::WhatIfLeftOut);
    } else if rules.needs_signal_or_long_term && !(s.any() || long) {
        counted = false;
        why.push(|| Reason::ExcludedNoSignal(rules.name));
    } else if !rules.needs_signal_or_long_term && !(v.earnings > 0 || s.any()) {
        counted = false;
        why.push(|| Reason::ExcludedZeroNoSignal);
    }
    if counted && rules.zero_only_if_negative && v.earnings <= 0 && result != Outcome::Negative {
        counted = false;
        why.push(|| Reason::ExcludedZeroNotNegative(rules.name));
    }
    a.outcome = Some(result);
    a.counted = counted;
    if counted {
        let closed_at = v.closed_at.expect("a settled contract is closed");
        a.exits = exits_of(c, closed_at);
        a.weight4 = weight4(v, rules);
    }
    a
}

/// The reasons of an assessment (recomputed: assessing is deterministic) in the trust words,
/// and whether any rests on a private answer.
pub fn why_of(c: &Contract, a: &Assessment, rules: &RuleSet) -> (Vec<String>, bool) {
    let mut why = vec![];
    let v = view(c, a.ci, a.cut).expect("an assessed contract is visible");
    assess(c, &v, a.cut, rules, a.flagged, Extra::default(), &mut why);
    (why.iter().map(Reason::text).collect(), why.iter().any(Reason::private))
}

/// The window exits of a counted contract whose view closed at `closed_at`.
pub fn exits_of(c: &Contract, closed_at: i64) -> [i64; 3] {
    match c.closed.as_ref() {
        Some(x) if x.at == closed_at => x.exits(),                    // computed once per contract
        _ => WINDOWS.map(|m| crate::time::window_exit(closed_at, m)), // an engagement closes with its last
    }
}

pub fn assess_fast(c: &Contract, v: &View, cut: Cut, rules: &RuleSet, flagged: bool) -> Assessment {
    assess(c, v, cut, rules, flagged, Extra::default(), &mut NoWords)
}

pub fn flagged_at(flags: &[(i64, i64, bool)], cut: Cut) -> bool {
    let mut state = false;
    for &(at, pos, value) in flags {
        if cut.sees(at, pos) {
            state = value;
        }
    }
    state
}

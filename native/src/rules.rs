//! projections/rules.py: the rule sets, a contract's view and assessment at a cut, the
//! window tallies, the JSS and the feedback score. Same order of checks, same words.

use crate::model::Contract;
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
}

pub static JSS_2016: RuleSet = RuleSet {
    name: "jss-2016", starts: -INF, windows: &[0, 1, 2], neutral_reasons: false, weighted: false,
    zero_only_if_negative: false, needs_signal_or_long_term: false, ignores_flagged_clients: false,
    min_contracts: 4, min_clients: 2,
};
pub static JSS_2020: RuleSet = RuleSet {
    name: "jss-2020", starts: 1_583_020_800_000_000, windows: &[0, 1, 2], neutral_reasons: true, weighted: true,
    zero_only_if_negative: true, needs_signal_or_long_term: false, ignores_flagged_clients: false,
    min_contracts: 4, min_clients: 2,
};
pub static JSS_2024: RuleSet = RuleSet {
    name: "jss-2024", starts: 1_725_321_600_000_000, windows: &[2], neutral_reasons: true, weighted: true,
    zero_only_if_negative: true, needs_signal_or_long_term: true, ignores_flagged_clients: true,
    min_contracts: 2, min_clients: 2,
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

pub fn rule_set_named(name: &str) -> Result<&'static RuleSet, String> {
    [&JSS_2016, &JSS_2020, &JSS_2024].into_iter().find(|r| r.name == name).ok_or_else(|| format!("unknown rule set {name:?}"))
}

fn reason_is_negative(reason: Option<&str>, rules: &RuleSet) -> bool {
    match reason {
        None => false,
        Some("freelancer_unresponsive" | "freelancer_lacked_skills" | "completed_unsuccessfully") => true,
        Some(r) => !rules.neutral_reasons && r != "completed_successfully",
    }
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
    pub client_end_reason: bool, // the client's private feedback has an end reason (visible)
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
            if r.of == "client" { client_removed = Some(i) } else { freelancer_removed = Some(i) }
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
        client_scaled: clast.map_or((0, false), |s| s.scaled),
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
    let all = c.payments.iter().chain(&c.refunds).map(|m| m.pos)
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

/// Where an assessment's reasons go: words for the ledger's causes, or nowhere (the hot path).
pub trait Why {
    fn push(&mut self, f: impl FnOnce() -> String);
    fn any(&self) -> bool;
    fn insert_first(&mut self, s: String);
    fn replace(&mut self, s: String);
    /// The reason just pushed rests on a private answer (projections.audiences' `private`).
    fn private(&mut self) {}
}

pub struct NoWords(bool);
impl Why for NoWords {
    fn push(&mut self, _: impl FnOnce() -> String) {
        self.0 = true;
    }
    fn any(&self) -> bool {
        self.0
    }
    fn insert_first(&mut self, _: String) {}
    fn replace(&mut self, _: String) {}
}

pub struct Words(pub Vec<String>, pub bool);
impl Why for Words {
    fn push(&mut self, f: impl FnOnce() -> String) {
        self.0.push(f());
    }
    fn any(&self) -> bool {
        !self.0.is_empty()
    }
    fn insert_first(&mut self, s: String) {
        self.0.insert(0, s);
    }
    fn replace(&mut self, s: String) {
        self.0 = vec![s];
        self.1 = false;
    }
    fn private(&mut self) {
        self.1 = true;
    }
}

/// Python's `format(x, "g")`.
pub fn fmt_g(x: f64) -> String {
    let sci = format!("{x:.5e}");
    let (_, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    let strip = |s: String| if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if !(-4..6).contains(&exp) {
        let (m, _) = sci.split_once('e').unwrap();
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", strip(m.to_string()), sign, exp.abs())
    } else {
        strip(format!("{:.*}", (5 - exp) as usize, x))
    }
}

pub struct Signals<'a> {
    reason: Option<&'a str>,
    private_reason: bool,
    recommend: Option<i64>,
    stars: Option<f64>,
    stripped: Option<String>,
}

impl Signals<'_> {
    fn any(&self) -> bool {
        self.reason.is_some() || self.recommend.is_some() || self.stars.is_some()
    }
}

fn signals<'a>(c: &'a Contract, v: &View, rules: &RuleSet, flagged: bool, words: bool) -> Signals<'a> {
    let none = |stripped| Signals { reason: None, private_reason: false, recommend: None, stars: None, stripped };
    if let Some(i) = v.client_removed {
        return none(Some(if words { format!("client feedback removed ({})", c.removals[i].basis) } else { String::new() }));
    }
    if flagged && rules.ignores_flagged_clients {
        return none(Some(format!("client is flagged; its feedback does not count under {}", rules.name)));
    }
    // the client's reason: the private end_reason, else the close reason when the client or
    // the platform closed, else none
    let reason = if v.client_end_reason {
        c.client_private.as_ref().and_then(|p| p.end_reason.as_deref())
    } else if v.closed_by_client_or_platform {
        c.closed.as_ref().map(|x| x.reason.as_str())
    } else {
        None
    };
    Signals { reason, private_reason: v.client_end_reason, recommend: v.client_recommend, stars: v.client_stars, stripped: None }
}

fn outcome(v: &View, s: &Signals, rules: &RuleSet, why: &mut impl Why) -> Outcome {
    if reason_is_negative(s.reason, rules) {
        let source = if s.private_reason { "private end reason" } else { "client reason" };
        why.push(|| format!("{source} {} is negative under {}", s.reason.unwrap_or(""), rules.name));
        if s.private_reason {
            why.private();
        }
    }
    if let Some(r) = s.recommend.filter(|&r| r <= 6) {
        why.push(|| format!("private recommend {r} <= 6"));
        why.private();
    }
    if let Some(x) = s.stars.filter(|&x| x < 3.0) {
        why.push(|| format!("public stars {} < 3.0", fmt_g(x)));
    }
    if why.any() {
        return Outcome::Negative;
    }
    if let Some(r) = s.recommend.filter(|&r| r >= 9) {
        why.push(|| format!("private recommend {r} >= 9"));
        why.private();
    }
    if let Some(x) = s.stars.filter(|&x| x >= 4.5 && s.recommend.is_none()) {
        why.push(|| format!("public stars {} >= 4.5 with no private feedback", fmt_g(x)));
        why.private(); // the absence of a private answer decides
    }
    if v.long_term() {
        why.push(|| "long-term: payments span 90 days or more".to_string());
    }
    if why.any() {
        return Outcome::Positive;
    }
    if let Some(r) = s.recommend {
        why.push(|| format!("private recommend {r} is neither <= 6 nor >= 9"));
        why.private();
    } else if s.any() {
        why.push(|| "client signals are neither negative nor positive".to_string());
    } else {
        why.push(|| "no client feedback".to_string());
    }
    Outcome::Neutral
}

fn weight4(v: &View, rules: &RuleSet) -> i64 {
    if !rules.weighted {
        return 4;
    }
    let e = v.earnings.max(0);
    let mut base = if e <= 250_00 { 4 } else if e <= 1000_00 { 5 } else { 6 };
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

pub fn assess(c: &Contract, v: &View, cut: Cut, rules: &RuleSet, flagged: bool, why: &mut impl Why) -> Assessment {
    let at = cut.at;
    let mut a = Assessment { ci: v.ci, cut, flagged, counted: false, outcome: None, weight4: 0, exits: [0; 3] };
    match v.settled_at {
        Some(s) if at >= s => {}
        _ => {
            why.push(|| (if v.closed_at.is_none() { "open" } else { "not settled yet (feedback window open)" }).to_string());
            return a;
        }
    }
    let s = signals(c, v, rules, flagged, true);
    let result = outcome(v, &s, rules, why);
    if let Some(stripped) = s.stripped.clone() {
        why.insert_first(stripped);
    }
    let mut counted = true;
    let long = v.long_term();
    if v.client_removed.is_some_and(|i| c.removals[i].basis == "top_rated_perk") {
        counted = false;
        why.replace("excluded: client feedback removed by the top-rated perk".to_string());
    } else if rules.needs_signal_or_long_term && !(s.any() || long) {
        counted = false;
        why.push(|| format!("excluded under {}: no client signal and not long-term", rules.name));
    } else if !rules.needs_signal_or_long_term && !(v.earnings > 0 || s.any()) {
        counted = false;
        why.push(|| "excluded: $0 and no client signal".to_string());
    }
    if counted && rules.zero_only_if_negative && v.earnings <= 0 && result != Outcome::Negative {
        counted = false;
        why.push(|| format!("excluded under {}: $0 contracts count only when negative", rules.name));
    }
    a.outcome = Some(result);
    a.counted = counted;
    if counted {
        a.exits = c.closed.as_ref().map_or([0; 3], |x| x.exits); // the view's close is the contract's
        a.weight4 = weight4(v, rules);
    }
    a
}

/// The reasons of an assessment (recomputed: assessing is deterministic), and whether any
/// rests on a private answer.
pub fn why_of(c: &Contract, a: &Assessment, rules: &RuleSet) -> (Vec<String>, bool) {
    let mut w = Words(vec![], false);
    let v = view(c, a.ci, a.cut).expect("an assessed contract is visible");
    assess(c, &v, a.cut, rules, a.flagged, &mut w);
    (w.0, w.1)
}

pub fn assess_fast(c: &Contract, v: &View, cut: Cut, rules: &RuleSet, flagged: bool) -> Assessment {
    assess(c, v, cut, rules, flagged, &mut NoWords(false))
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

//! projections/explain.py's walk over (T1, T2]: the steps (deadlines at an instant first, then
//! the events at it, one log position at a time), each glanced at under a rule set, and the
//! ones that move the score (its exact value, the displayed JSS or the displayed feedback
//! score). The words of each move are Python's (projections.timeline.describe).

use crate::ratio::{half_up, Ratio};
use crate::reason::NoWords;
use crate::rules::{Cut, Override, RuleSet, SWITCHES};
use crate::score::{evaluate, Facts, Judged};
use crate::time::INF;
use crate::timeline::{contract_happenings, flag_happenings, inert, switch, Happening};

/// What a step compares: the scores without the assessments.
#[derive(Clone, Copy)]
pub struct Glance {
    pub rules: &'static RuleSet,
    pub jss: Option<i64>,
    pub exact: Option<Ratio>,
    pub fb: Option<Ratio>,
    pub fb_hundredths: Option<i64>, // the feedback score as shown: rounded half up to 2 decimals
}

pub fn glance(f: &Facts, cut: Cut, rules: Option<&'static RuleSet>, what_if: Option<(usize, Override)>) -> Result<Glance, String> {
    let j: Judged<NoWords> = evaluate(f, cut, rules, what_if)?;
    let fb_hundredths = j.fb.map(|r| half_up(r.n * 100, r.d));
    Ok(Glance { rules: j.rules, jss: j.jss.shown, exact: j.jss.exact, fb: j.fb, fb_hundredths })
}

pub struct Move<'a> {
    pub happenings: Vec<Happening<'a>>,
    pub before: (Cut, Glance),
    pub after: (Cut, Glance),
}

/// The score-moving happenings with t1 < at <= t2 in (at, pos, kind, contract) order, grouped
/// into steps: the deadlines at an instant, then each log position at it.
pub fn steps<'a>(f: &'a Facts, t1: i64, t2: i64, known: i64) -> Vec<(Cut, Vec<Happening<'a>>)> {
    let mut hs: Vec<Happening<'a>> = vec![];
    let mut keep = |h: Happening<'a>| {
        if t1 < h.at && h.at <= t2 && !inert(h.kind) {
            hs.push(h);
        }
    };
    let mut clients: Vec<&str> = vec![];
    for (ci, c) in f.contracts.iter().enumerate() {
        contract_happenings(c, ci, known, &mut keep);
        if !clients.contains(&c.client.as_str()) {
            clients.push(&c.client);
        }
    }
    for k in clients {
        flag_happenings(k, f.flags(k), known, &mut keep);
    }
    for s in SWITCHES {
        keep(switch(s));
    }
    hs.sort_by(|a, b| (a.at, a.pos, a.kind, a.contract_id.unwrap_or("")).cmp(&(b.at, b.pos, b.kind, b.contract_id.unwrap_or(""))));
    let mut out: Vec<(Cut, Vec<Happening>)> = vec![];
    for h in hs {
        match out.last_mut() {
            Some((cut, group)) if cut.at == h.at && cut.pos == h.pos => group.push(h),
            _ => out.push((Cut::new(h.at, h.pos, known), vec![h])),
        }
    }
    out
}

fn zero(x: Option<Ratio>) -> Ratio {
    x.unwrap_or(Ratio::new(0, 1))
}

/// The steps of (t1, t2] that move the score, with the glances just before and after each.
pub fn moves<'a>(f: &'a Facts, t1: i64, t2: i64, known: i64, rules: Option<&'static RuleSet>) -> Result<Vec<Move<'a>>, String> {
    let mut out = vec![];
    let mut before = (Cut::new(t1, INF, known), glance(f, Cut::new(t1, INF, known), rules, None)?);
    for (cut, happenings) in steps(f, t1, t2, known) {
        let after = glance(f, cut, rules, None)?;
        let (b, a) = (&before.1, &after);
        if zero(a.exact) != zero(b.exact) || a.jss != b.jss || a.fb_hundredths != b.fb_hundredths {
            out.push(Move { happenings, before, after: (cut, after) });
        }
        before = (cut, after);
    }
    Ok(out)
}

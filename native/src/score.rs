//! projections/rules/score.py `evaluate`: one freelancer's scores at a cut under any rule set
//! (fair-2026 included), from the stored state, with each assessment's reasons: what `score`
//! and `explain` read. (The projector's own evaluation, in force only, is eval.rs.)

use crate::hash::Map;
use crate::model::Contract;
use crate::ratio::Ratio;
use crate::reason::Why;
use crate::rules::{assess, flagged_at, in_force, view, Assessment, Cut, Extra, Override, RuleSet};
use crate::tally::{jss, FbSum, Jss};

/// A freelancer's contracts (in the caller's order), its clients' flag histories, and, for
/// fair-2026's rater leniency, every contract of those clients (with any freelancer).
#[derive(Default)]
pub struct Facts {
    pub contracts: Vec<Contract>,
    pub flags: Map<String, Vec<(i64, i64, bool)>>,
    pub clients: Map<String, Vec<Contract>>,
}

impl Facts {
    pub fn flags(&self, client: &str) -> &[(i64, i64, bool)] {
        self.flags.get(client).map_or(&[], Vec::as_slice)
    }
    pub fn contracts_of(&self, client: &str) -> Result<&[Contract], String> {
        self.clients
            .get(client)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("fair-2026 reads each client's other ratings: the contracts of client {client} were not given"))
    }
    pub fn index_of(&self, contract_id: &str) -> Option<usize> {
        self.contracts.iter().position(|c| c.id == contract_id)
    }
}

/// An assessment with what Python's Assessment carries besides (its view's dates, earnings).
pub struct Assessed<W> {
    pub a: Assessment,
    pub why: W,
    pub closed_at: Option<i64>,
    pub settled_at: Option<i64>,
    pub earnings: i64,
}

pub struct Judged<W> {
    pub rules: &'static RuleSet,
    pub jss: Jss,
    pub fb: Option<Ratio>,
    pub assessed: Vec<Assessed<W>>,
}

/// The scores at `cut` under `rules` (None: the rule set in force at the cut), with one
/// contract's outcome what-if'd. `W`: the reasons (Vec<Reason>) or none (NoWords).
pub fn evaluate<W: Why + Default>(
    f: &Facts,
    cut: Cut,
    rules: Option<&'static RuleSet>,
    what_if: Option<(usize, Override)>,
) -> Result<Judged<W>, String> {
    let rules = rules.unwrap_or_else(|| in_force(cut.at));
    let mut fb = FbSum::default();
    let mut views = Vec::with_capacity(f.contracts.len());
    for (ci, c) in f.contracts.iter().enumerate() {
        if let Some(v) = view(c, ci, cut) {
            fb.add(c, &v, cut.at);
            views.push(v);
        }
    }
    let assessed = if rules.engagements || rules.lenient_raters {
        crate::fair::assess_all(f, &views, cut, rules, what_if)?
    } else {
        views
            .iter()
            .map(|v| {
                let c = &f.contracts[v.ci];
                let flagged = rules.ignores_flagged_clients && flagged_at(f.flags(&c.client), cut);
                let what_if = what_if.filter(|w| w.0 == v.ci).map(|w| w.1);
                let mut why = W::default();
                let a = assess(c, v, cut, rules, flagged, Extra { what_if, ..Extra::default() }, &mut why);
                Assessed { a, why, closed_at: v.closed_at, settled_at: v.settled_at, earnings: v.earnings }
            })
            .collect()
    };
    let list: Vec<Assessment> = assessed.iter().map(|x| x.a).collect();
    Ok(Judged { rules, jss: jss(&f.contracts, &list, cut.at, rules), fb: fb.value(), assessed })
}

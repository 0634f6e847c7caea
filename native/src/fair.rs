//! projections/rules/fair.py: fair-2026's assessments. Engagements (contracts linked by
//! `continues`) and rater leniency look beyond one contract, so every contract of the
//! freelancer is assessed here at once; the rest is rules::assess and outcome::outcome.

use crate::hash::{Map, Set};
use crate::model::{Contract, Removal};
use crate::outcome::{client_reason, Signals, Usual};
use crate::reason::{Reason, Why};
use crate::rules::{assess, flagged_at, view, Assessment, Cut, Extra, Override, RuleSet, View};
use crate::score::{Assessed, Facts};
use crate::time::INF;

pub const LENIENT_MIN_HISTORY: usize = 5;
pub const HARSH_RECOMMEND: i64 = 6;
pub const HARSH_STARS: f64 = 4.0;

/// The views grouped by `continues` chains among the contracts seen at the cut (root first,
/// groups in order of their first member), and the ids continued by a contract seen.
fn engagements<'a>(contracts: &'a [Contract], views: &[View]) -> (Vec<Vec<View>>, Set<&'a str>) {
    let seen: Set<&str> = views.iter().map(|v| contracts[v.ci].id.as_str()).collect();
    let parent: Map<&str, &str> = views
        .iter()
        .filter_map(|v| {
            let c = &contracts[v.ci];
            c.continues().filter(|p| seen.contains(p)).map(|p| (c.id.as_str(), p))
        })
        .collect();
    let root = |mut id: &'a str| {
        while let Some(p) = parent.get(id) {
            id = p;
        }
        id
    };
    let mut index: Map<&str, usize> = Map::default();
    let mut groups: Vec<(&str, Vec<View>)> = vec![];
    for v in views {
        let r = root(contracts[v.ci].id.as_str());
        let g = *index.entry(r).or_insert_with(|| {
            groups.push((r, vec![]));
            groups.len() - 1
        });
        groups[g].1.push(*v);
    }
    let continued = parent.values().copied().collect();
    let out = groups
        .into_iter()
        .map(|(r, mut members)| {
            members.sort_by_key(|v| contracts[v.ci].id != r); // stable: the root first
            members
        })
        .collect();
    (out, continued)
}

fn latest<'a>(contracts: &'a [Contract], v: &View) -> (i64, i64, &'a str) {
    let c = &contracts[v.ci];
    (v.closed_at.unwrap_or(INF), c.opened_at, c.id.as_str())
}

/// One engagement as one contract: it settles when all its contracts have, closes with the
/// last, earns their total, its payments span all of them; the client's reason is the one of
/// the latest-closed contract not continued by another, recommend and stars the latest given
/// (a contract whose client feedback was removed gives none). -> (view, signals, removal)
fn merged<'a>(
    contracts: &'a [Contract],
    members: &[View],
    continued: &Set<&str>,
    rules: &RuleSet,
    flagged: bool,
) -> (View, Signals<'a>, Option<&'a Removal>) {
    let removal = |v: &View| v.client_removed.map(|i| &contracts[v.ci].removals[i]);
    let mut order: Vec<&View> = members.iter().collect();
    order.sort_by(|a, b| latest(contracts, a).cmp(&latest(contracts, b)));
    let all = |f: fn(&View) -> Option<i64>| members.iter().map(f).collect::<Option<Vec<i64>>>().and_then(|x| x.into_iter().max());
    let mut v = members[0];
    v.closed_at = all(|m| m.closed_at);
    v.settled_at = all(|m| m.settled_at);
    v.earnings = members.iter().map(|m| m.earnings).sum();
    v.first_paid = members.iter().filter_map(|m| m.first_paid).min();
    v.last_paid = members.iter().filter(|m| m.first_paid.is_some()).filter_map(|m| m.last_paid).max();
    v.client_removed = None; // the engagement's removal is returned on its own
    let perk = members.iter().filter_map(removal).find(|r| r.basis == "top_rated_perk");
    let live: Vec<&View> = order.iter().copied().filter(|m| m.client_removed.is_none()).collect();
    let removed = perk.or_else(|| if live.is_empty() { removal(order[order.len() - 1]) } else { None });
    if flagged && rules.ignores_flagged_clients {
        return (v, Signals::stripped(Reason::ClientFlagged(rules.name)), removed);
    }
    if live.is_empty() {
        let basis = removed.map_or(String::new(), |r| r.basis.to_string());
        return (v, Signals::stripped(Reason::ClientFeedbackRemoved(basis)), removed);
    }
    let said = live.iter().rev().find(|m| !continued.contains(contracts[m.ci].id.as_str()));
    let s = Signals {
        reason: said.and_then(|m| client_reason(&contracts[m.ci], m)),
        private_reason: said.is_some_and(|m| m.client_end_reason),
        recommend: live.iter().rev().find_map(|m| m.client_recommend),
        stars: live.iter().rev().find_map(|m| m.client_stars),
        stripped: None,
        note: None,
    };
    (v, s.neutral_close(rules), removed)
}

type Rated<'a> = (&'a str, Option<i64>, Option<f64>);

/// The client's rated, settled contracts at the cut (with any freelancer) whose client
/// feedback was not removed.
fn history(contracts: &[Contract], cut: Cut) -> Vec<Rated<'_>> {
    let mut out = vec![];
    for (i, c) in contracts.iter().enumerate() {
        let Some(v) = view(c, i, cut) else { continue };
        if !v.settled_at.is_some_and(|s| cut.at >= s) || v.client_removed.is_some() {
            continue;
        }
        if v.client_recommend.is_some() || v.client_stars.is_some() {
            out.push((c.id.as_str(), v.client_recommend, v.client_stars));
        }
    }
    out
}

fn lower_median<T: Copy + PartialOrd>(mut xs: Vec<T>) -> T {
    xs.sort_by(|a, b| a.partial_cmp(b).expect("answers are numbers"));
    xs[(xs.len() - 1) / 2]
}

/// A harsh client's usual answers, read from its *other* contracts (not this engagement's).
fn usual(rated: &[Rated], engagement: &Set<&str>) -> Option<Usual> {
    let other: Vec<&Rated> = rated.iter().filter(|r| !engagement.contains(r.0)).collect();
    if other.len() < LENIENT_MIN_HISTORY {
        return None;
    }
    let recs: Vec<i64> = other.iter().filter_map(|r| r.1).collect();
    let stars: Vec<f64> = other.iter().filter_map(|r| r.2).collect();
    let harsh_rec = recs.iter().max().is_some_and(|&m| m <= HARSH_RECOMMEND);
    let harsh_stars = !stars.is_empty() && stars.iter().all(|&s| s < HARSH_STARS);
    let u = Usual { recommend: harsh_rec.then(|| lower_median(recs)), stars: harsh_stars.then(|| lower_median(stars)) };
    (u.recommend.is_some() || u.stars.is_some()).then_some(u)
}

/// Every contract's assessment under fair-2026: an engagement is assessed once, as its first
/// contract; the others say they are part of it and do not count.
pub fn assess_all<W: Why + Default>(
    f: &Facts,
    views: &[View],
    cut: Cut,
    rules: &RuleSet,
    what_if: Option<(usize, Override)>,
) -> Result<Vec<Assessed<W>>, String> {
    let contracts = &f.contracts;
    let (groups, continued) =
        if rules.engagements { engagements(contracts, views) } else { (views.iter().map(|v| vec![*v]).collect(), Set::default()) };
    let mut histories: Map<&str, Vec<Rated>> = Map::default();
    let mut out = Vec::with_capacity(views.len());
    for members in &groups {
        let root = &contracts[members[0].ci];
        let client = root.client.as_str();
        let flagged = rules.ignores_flagged_clients && flagged_at(f.flags(client), cut);
        let (v, s, removed) = merged(contracts, members, &continued, rules, flagged);
        let ids: Set<&str> = members.iter().map(|m| contracts[m.ci].id.as_str()).collect();
        let mut lenient = None;
        if rules.lenient_raters && s.stripped.is_none() {
            if !histories.contains_key(client) {
                histories.insert(client, history(f.contracts_of(client)?, cut));
            }
            lenient = usual(&histories[client], &ids);
        }
        let what_if = what_if.filter(|w| w.0 == members[0].ci).map(|w| w.1);
        let extra = Extra { what_if, signals: Some(s), removed: Some(removed), usual: lenient };
        let mut why = W::default();
        let a = assess(root, &v, cut, rules, flagged, extra, &mut why);
        if members.len() > 1 {
            let mut rest: Vec<String> = ids.iter().filter(|&&i| i != root.id).map(|i| i.to_string()).collect();
            rest.sort();
            why.push(|| Reason::Engagement(rest));
        }
        out.push(Assessed { a, why, closed_at: v.closed_at, settled_at: v.settled_at, earnings: v.earnings });
        for m in &members[1..] {
            let mut why = W::default();
            why.push(|| Reason::EngagementPart(root.id.to_string()));
            let a = Assessment { ci: m.ci, cut, flagged, counted: false, outcome: None, weight4: 0, exits: [0; 3] };
            out.push(Assessed { a, why, closed_at: m.closed_at, settled_at: m.settled_at, earnings: m.earnings });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rated(recs: &[i64]) -> Vec<Rated<'static>> {
        const IDS: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];
        recs.iter().zip(IDS).map(|(&r, id)| (id, Some(r), None)).collect()
    }

    #[test]
    fn a_harsh_client_needs_five_other_rated_contracts() {
        let none = Set::default();
        assert!(usual(&rated(&[3, 4, 5, 6]), &none).is_none());
        assert_eq!(usual(&rated(&[3, 4, 5, 6, 6]), &none).unwrap().recommend, Some(5));
        assert_eq!(usual(&rated(&[3, 4, 5, 6, 6, 6]), &none).unwrap().recommend, Some(5)); // lower median
        assert!(usual(&rated(&[3, 4, 5, 6, 7]), &none).is_none()); // one 7: not harsh
        let this: Set<&str> = ["a"].into_iter().collect(); // this engagement's own rating is not history
        assert!(usual(&rated(&[3, 4, 5, 6, 6]), &this).is_none());
    }

    #[test]
    fn harsh_stars_are_all_under_four() {
        let stars = |xs: &[f64]| -> Vec<Rated<'static>> { xs.iter().map(|&s| ("x", None, Some(s))).collect() };
        let none = Set::default();
        assert_eq!(usual(&stars(&[2.5, 2.9, 2.9, 3.0, 3.9]), &none).unwrap().stars, Some(2.9));
        assert!(usual(&stars(&[2.5, 2.9, 2.9, 3.0, 4.0]), &none).is_none());
    }
}

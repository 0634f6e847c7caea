//! rules.evaluate with the projector's shortcuts: per-contract full views and assessments
//! (rules.Cache) and the archive of contracts out of every window (rules.Archive).

use crate::away::AWAY;
use crate::model::{Clients, Contract, Contracts};
use crate::packed::{Memo, PackedView};
use crate::ratio::Ratio;
use crate::rules::{assess_fast, flagged_at, in_force, max_pos, view, Assessment, Cut, RuleSet, View};
use crate::tally::{jss, FbSum};
use crate::time::{FEEDBACK_WINDOW, INF};

/// (112 bytes: mimalloc's size class of that; the contract's last_at is its own.)
pub struct CacheEntry {
    pub max_pos: i64,
    full: PackedView,
    pub(crate) memo: crate::model::List<Memo>,
}

impl CacheEntry {
    pub fn full(&self, ci: usize) -> View {
        self.full.unpack(ci)
    }
}

fn full_view(c: &Contract, ci: usize) -> View {
    view(c, ci, Cut::new(INF, INF, INF)).expect("a contract is visible at the end of time")
}

fn entry(contracts: &mut Contracts, ci: usize) -> &mut CacheEntry {
    let c = &mut contracts[ci];
    if c.cache.is_none() {
        let full = PackedView::pack(&full_view(c, ci));
        c.cache = Some(Box::new(CacheEntry { max_pos: max_pos(c), full, memo: Default::default() }));
    }
    c.cache.as_mut().unwrap()
}

pub struct Score {
    pub rules: &'static RuleSet,
    pub jss: Option<i64>,
    pub exact: Option<Ratio>,
    pub fb: Option<Ratio>,
    pub assessments: Vec<Assessment>,
}

pub struct Archive {
    pub(crate) since: i64,
    pub(crate) known: i64,
    len: usize,                // the freelancer's contracts when it was built (later ones are live)
    pub(crate) live: Vec<u32>, // the positions below `len` of the contracts not archived
    pub(crate) fb: FbSum,
}

impl Archive {
    /// What stands for the contracts put away (`ids`: the freelancer's, AWAY at theirs).
    pub fn of_away(ids: &[usize], since: i64, known: i64, fb: FbSum) -> Archive {
        let live = (0..ids.len()).filter(|&i| ids[i] != AWAY).map(|i| i as u32).collect();
        Archive { since, known, len: ids.len(), live, fb }
    }

    /// Whether the contract `ci` is archived (`ids`: the freelancer's contracts it was built of).
    pub fn holds(&self, ids: &[usize], ci: usize) -> bool {
        ids[..self.len].iter().enumerate().any(|(i, &c)| c == ci && self.live.binary_search(&(i as u32)).is_err())
    }

    pub fn applies(&self, cut: Cut) -> bool {
        cut.at >= self.since && cut.known >= self.known
    }
}

pub fn evaluate(contracts: &mut Contracts, ids: &[usize], clients: &Clients, cut: Cut, archive: Option<&Archive>) -> Score {
    let rules = in_force(cut.at);
    let number = crate::rules::rule_set_number(rules);
    let skip = archive.filter(|a| a.applies(cut));
    let mut fb = skip.map_or(FbSum::default(), |a| a.fb);
    let (live, rest): (&[u32], &[usize]) = match skip {
        Some(a) => (&a.live, &ids[a.len..]),
        None => (&[], ids),
    };
    let mut assessments = Vec::with_capacity(live.len() + rest.len());
    for ci in live.iter().map(|&i| ids[i as usize]).chain(rest.iter().copied()) {
        let flagged = rules.ignores_flagged_clients && flagged_at(clients.flags(&contracts[ci].client), cut);
        let last_at = contracts[ci].last_at;
        let e = entry(contracts, ci);
        let full = cut.known >= e.max_pos && (cut.at > last_at || (cut.at == last_at && cut.pos >= e.max_pos));
        let a = if full {
            let v = e.full(ci);
            let settled = v.settled_at.is_some_and(|s| cut.at >= s);
            match e.memo.iter().find(|m| m.of(number, flagged, settled)).copied() {
                Some(m) => {
                    let a = m.unpack(&contracts[ci], &v);
                    fb.add(&contracts[ci], &v, cut.at);
                    a
                }
                None => {
                    let a = assess_fast(&contracts[ci], &v, cut, rules, flagged);
                    crate::model::push(&mut entry(contracts, ci).memo, Memo::pack(rules, settled, &a));
                    fb.add(&contracts[ci], &v, cut.at);
                    a
                }
            }
        } else {
            let c = &contracts[ci];
            let Some(v) = view(c, ci, cut) else { continue };
            fb.add(c, &v, cut.at);
            assess_fast(c, &v, cut, rules, flagged)
        };
        assessments.push(a);
    }
    let j = jss(contracts, &assessments, cut.at, rules);
    Score { rules, jss: j.shown, exact: j.exact, fb: fb.value(), assessments }
}

/// An archived contract of `archive_of` (`i`: its position in the freelancer's contracts), with
/// what the archive took of it.
pub struct Put {
    pub i: usize,
    pub done: i64,
    pub mp: i64,
    pub fb: FbSum,
}

/// The contracts that left the 24-month window (and whose last fact is) before `at`, those put
/// away (`away`: what stands for them) among them; -> the archive and the contracts it holds
/// that are still in memory.
pub fn archive_of(contracts: &mut Contracts, ids: &[usize], at: i64, known: i64, away: Option<&Archive>) -> (Option<Archive>, Vec<Put>) {
    let mut out = Archive { since: -INF, known: -INF, len: ids.len(), live: vec![], fb: FbSum::default() };
    let mut put = vec![];
    if let Some(a) = away {
        (out.since, out.known, out.fb) = (a.since, a.known, a.fb);
    }
    for (i, &ci) in ids.iter().enumerate() {
        if ci == AWAY {
            continue;
        }
        let last_at = contracts[ci].last_at;
        let (v, mp) = match &contracts[ci].cache {
            Some(e) => (e.full(ci), e.max_pos),
            None => (full_view(&contracts[ci], ci), max_pos(&contracts[ci])),
        };
        let exit24 = contracts[ci].closed.as_ref().map_or(0, |x| x.exits()[2]);
        let done = v.closed_at.map(|closed_at| exit24.max(last_at).max(closed_at + FEEDBACK_WINDOW));
        if mp > known || done.is_none_or(|d| d > at) {
            out.live.push(i as u32);
            continue;
        }
        let done = done.unwrap();
        // the evaluations the archive applies to skip it: its cache would only take room
        contracts[ci].cache = None;
        out.since = out.since.max(done);
        out.known = out.known.max(mp);
        let mut part = FbSum::default();
        part.add(&contracts[ci], &v, INF);
        out.fb.merge(&part);
        put.push(Put { i, done, mp, fb: part });
    }
    if put.is_empty() && away.is_none() {
        return (None, put);
    }
    (Some(out), put)
}

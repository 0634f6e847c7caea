//! Contracts put away: a held freelancer's contracts out of every window live in the projection
//! store, not in memory. An archive (eval.rs) already stands for them in evaluations; once their
//! state is committed they leave their slots, and the freelancer keeps their ids, their clients'
//! ids (whose flags still name change points) and the archive's sums for them. Anything that
//! reads them again (a late fact on one, a score asked before they left every window) loads them
//! all back first (`bring_back`), so what the core writes never depends on what it put away.

use crate::compact::Id;
use crate::eval::{Archive, Put};
use crate::model::Freelancer;
use crate::projector::{Projector, Res, Table};
use crate::tally::FbSum;
use crate::time::{DAY, INF};

/// A position of `Freelancer::contracts` whose contract was put away.
pub const AWAY: usize = usize::MAX;

/// Put away only contracts out of every window this long before the event being projected: a
/// fact arriving a little late does not have to bring them back.
const AWAY_AFTER: i64 = 90 * DAY;

pub struct Away {
    pub ids: Vec<(u32, Id, Id)>, // (position in the freelancer's contracts, contract, client), by position
    pub archive: Archive,        // stands for them in evaluations (and for nothing else)
}

impl Away {
    pub fn id_at(&self, i: usize) -> &Id {
        let k = self.ids.partition_point(|x| (x.0 as usize) < i);
        &self.ids[k].1
    }
    pub fn has(&self, contract_id: &str) -> bool {
        self.ids.iter().any(|x| x.1 == contract_id)
    }
    /// Whether what was put away has nothing at or after `at` and is all known at `known`.
    pub fn covers(&self, at: i64, known: i64) -> bool {
        at > self.archive.since && known >= self.archive.known
    }
}

impl Projector {
    /// Put away the archived contracts `put` of freelancer `fi` done well before `now`, whose
    /// state the store has: none written in the batch before this one (its commit may be in
    /// flight) or in this one.
    pub(crate) fn put_away(&mut self, fi: usize, now: i64, put: Vec<Put>) {
        let put: Vec<Put> = put.into_iter().filter(|p| p.mp <= self.committed && p.done + AWAY_AFTER <= now).collect();
        if put.is_empty() || !self.reloadable {
            return;
        }
        if !self.money.contains_key(&fi) {
            // the Top Rated earnings read every contract's payments: keep them first
            let money = crate::toprated::money_of(&self.contracts, &self.freelancers[fi].contracts);
            self.money.insert(fi, money);
        }
        let f = &mut self.freelancers[fi];
        let (mut ids, mut since, mut known, mut fb) = match f.away.take() {
            Some(a) => (a.ids, a.archive.since, a.archive.known, a.archive.fb),
            None => (vec![], -INF, -INF, FbSum::default()),
        };
        for p in put {
            let ci = f.contracts[p.i];
            let c = std::mem::take(&mut self.contracts[ci]);
            self.contract_index.remove(&c.id, ci);
            self.let_go.insert(&c.id);
            self.missing[Table::Contracts as usize].remove(c.id.as_str());
            self.vacant_contracts.push(ci);
            f.contracts[p.i] = AWAY;
            ids.push((p.i as u32, c.id, c.client));
            fb.merge(&p.fb);
            since = since.max(p.done);
            known = known.max(p.mp);
        }
        ids.sort_unstable_by_key(|x| x.0);
        f.away = Some(Box::new(Away { ids, archive: Archive::of_away(&f.contracts, since, known, fb) }));
    }

    /// Bring back what freelancer `fi` put away if contract `cid` is among it (a new fact on it,
    /// or it is opened again: in the place it had).
    pub(crate) fn bring_back_for(&mut self, fi: usize, cid: &str) -> Res<()> {
        if self.let_go.may_hold(cid) && self.freelancers[fi].away.as_ref().is_some_and(|a| a.has(cid)) {
            return self.bring_back(fi);
        }
        Ok(())
    }

    /// Load back what freelancer `fi` put away, into the places it had (its archive goes too:
    /// the next evaluation builds one from all of them).
    pub(crate) fn bring_back(&mut self, fi: usize) -> Res<()> {
        let Some(away) = self.freelancers[fi].away.take() else { return Ok(()) };
        self.load(Table::Contracts, away.ids.iter().map(|x| x.1.to_string()))?;
        for (i, id, _) in away.ids {
            let ci = self
                .contract_index
                .get(&id, &self.contracts)
                .ok_or_else(|| format!("freelancer {}: contract {id} is not in the projection store", self.freelancers[fi].id))?;
            self.freelancers[fi].contracts[i as usize] = ci;
        }
        self.archives.remove(&fi);
        self.archive_built.remove(&fi);
        Ok(())
    }

    /// Bring back what freelancer `fi` put away unless it has nothing at or after `at` and is
    /// all known at `known`.
    pub(crate) fn cover(&mut self, fi: usize, at: i64, known: i64) -> Res<()> {
        match &self.freelancers[fi].away {
            Some(a) if !a.covers(at, known) => self.bring_back(fi),
            _ => Ok(()),
        }
    }
}

/// The contracts of a freelancer in memory (what was put away skipped).
pub fn held(ids: &[usize]) -> impl Iterator<Item = usize> + '_ {
    ids.iter().copied().filter(|&ci| ci != AWAY)
}

impl Freelancer {
    /// The ids of the clients of its contracts put away.
    pub fn away_clients(&self) -> impl Iterator<Item = &str> {
        self.away.iter().flat_map(|a| a.ids.iter().map(|x| x.2.as_str()))
    }
}

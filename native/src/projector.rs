//! projections/projector.py: the fold, the deadline queue and the batch's changes. The state
//! stays here between batches; what the projection store does not have yet is asked of a
//! `Repo` (the Python store) by id, as the Python projector does.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use crate::hash::{Map as HashMap, Set as HashSet};

use crate::eval::Archive;
use crate::event::{decode_recorded, Event, Kind, Recorded};
use crate::ledger::ScoreChange;
use crate::model::{Client, Clients, Contract, Freelancer, Id};
use crate::rules::SWITCHES;
use crate::time::{window_exit, DAY, FEEDBACK_WINDOW, INF};
use crate::timeline::any_deadline_at;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Res<T> = Result<T, Error>;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Contracts,
    Freelancers,
    Clients,
}

/// What the projection store already holds (msgpack state by id).
pub trait Repo {
    fn load(&mut self, table: Table, ids: &[String]) -> Res<Vec<(String, Vec<u8>)>>;
    fn due_deadlines(&mut self, after: i64, upto: i64) -> Res<Vec<(i64, String)>>;
    fn freelancer_ids(&mut self) -> Res<Vec<String>>;
}

/// A store that is empty when the projector starts: everything it holds later was
/// written by this projector, which keeps all of it in memory.
struct Empty;

impl Repo for Empty {
    fn load(&mut self, _: Table, _: &[String]) -> Res<Vec<(String, Vec<u8>)>> {
        Ok(vec![])
    }
    fn due_deadlines(&mut self, _: i64, _: i64) -> Res<Vec<(i64, String)>> {
        Ok(vec![])
    }
    fn freelancer_ids(&mut self) -> Res<Vec<String>> {
        Ok(vec![])
    }
}

/// The event that moved a score (timeline.Happening of the trigger).
#[derive(Clone)]
pub struct Trigger {
    pub at: i64,
    pub pos: i64,
    pub contract: Option<usize>,
    pub client_id: String,
    pub event_id: String,
}

#[derive(Default)]
pub struct Dirty {
    pub contracts: Vec<usize>,
    pub freelancers: Vec<usize>,
    pub clients: Vec<usize>,
    seen: HashSet<(u8, usize)>,
}

impl Dirty {
    pub fn mark(&mut self, table: Table, i: usize) {
        let (tag, list) = match table {
            Table::Contracts => (0, &mut self.contracts),
            Table::Freelancers => (1, &mut self.freelancers),
            Table::Clients => (2, &mut self.clients),
        };
        if self.seen.insert((tag, i)) {
            list.push(i);
        }
    }
}

/// Rows decoded and looked up at a time within a batch (`Projector::run`).
const DECODED: usize = 20_000;

pub struct Projector {
    pub position: i64,
    pub clock: i64,
    pub seq: i64,
    pub contracts: crate::model::Contracts,
    pub(crate) contract_index: crate::hash::Index, // into `contracts`
    pub freelancers: Vec<Freelancer>,
    pub(crate) freelancer_index: HashMap<crate::model::Id, usize>,
    pub clients: Clients,
    pub(crate) missing: [HashSet<String>; 3], // asked this batch, not in the store
    empty: bool,                              // the store had nothing at start: ask it only for what this projector let go
    // what it holds (crate::hold)
    pub hold: usize,
    pub(crate) reloadable: bool, // a store to load back from
    pub(crate) batch: u64,
    pub(crate) committed: i64, // the store has every state up to this log position (away.rs)
    last_start: i64,
    pub(crate) touched: Vec<u64>, // per freelancer slot: the batch that last used it
    pub vacant_contracts: Vec<usize>,
    pub(crate) vacant_freelancers: Vec<usize>,
    pub(crate) let_go: crate::hold::LetGo,
    all_freelancers: Option<BTreeSet<String>>,
    pub archives: HashMap<usize, Option<Archive>>,
    pub archive_built: HashMap<usize, i64>,
    pub(crate) heap: BinaryHeap<Reverse<(i64, u32)>>, // deadlines: (at, the freelancer's number in `names`)
    pub(crate) names: crate::hash::Names,
    horizon: i64,
    pub due: BinaryHeap<Reverse<(i64, String)>>, // while the clock moves: the deadlines up to `target`
    pub target: i64,
    pub money: HashMap<usize, Vec<crate::toprated::Money>>, // per freelancer: toprated::money_of, kept sorted
    pub scheduled: HashMap<usize, i64>,                     // per freelancer: the badge deadline last scheduled
    pub days: Vec<i64>,                                     // the publication days (sorted) whose published JSS the Top Rated weeks read
    pub repo: Box<dyn Repo + Send + Sync>,
    // the batch
    pub dirty: Dirty,
    pub ledger: Vec<ScoreChange>,
    pub new_deadlines: Vec<(i64, String)>,
    pub n: i64,
}

impl Projector {
    /// `repo`: the projection store (None: one that stays empty); `fresh`: it was empty when
    /// the projector started, so everything it has was written by this projector.
    pub fn new(position: i64, clock: i64, seq: i64, repo: Option<Box<dyn Repo + Send + Sync>>, days: Vec<i64>, fresh: bool) -> Projector {
        crate::keep_freed_memory();
        let reloadable = repo.is_some();
        let empty = fresh || repo.is_none();
        let repo = repo.unwrap_or_else(|| Box::new(Empty));
        Projector {
            position,
            clock,
            seq,
            repo,
            contracts: Default::default(),
            contract_index: Default::default(),
            freelancers: vec![],
            freelancer_index: HashMap::default(),
            clients: Clients::default(),
            missing: Default::default(),
            empty,
            all_freelancers: None,
            archives: HashMap::default(),
            archive_built: HashMap::default(),
            heap: BinaryHeap::new(),
            names: Default::default(),
            horizon: clock,
            due: BinaryHeap::new(),
            target: -INF,
            money: HashMap::default(),
            scheduled: HashMap::default(),
            days,
            dirty: Dirty::default(),
            ledger: vec![],
            new_deadlines: vec![],
            n: 0,
            hold: 0,
            reloadable,
            batch: 0,
            committed: position,
            last_start: position,
            touched: vec![],
            vacant_contracts: vec![],
            vacant_freelancers: vec![],
            let_go: Default::default(),
        }
    }

    // -- state access (lazy, cached) ----------------------------------------------

    fn wanted(&self, table: Table, ids: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut need: Vec<String> = vec![];
        let missing = &self.missing[table as usize];
        let mut asked: HashSet<String> = HashSet::default();
        for id in ids {
            let cached = match table {
                Table::Contracts => self.contract_index.get(&id, &self.contracts).is_some(),
                Table::Freelancers => self.freelancer_index.contains_key(id.as_str()),
                Table::Clients => self.clients.index.contains_key(id.as_str()),
            };
            let stored = !self.empty || self.let_go.may_hold(&id);
            if !cached && stored && !missing.contains(&id) && asked.insert(id.clone()) {
                need.push(id);
            }
        }
        need
    }

    /// Load the ids not cached from the repo, remembering those it does not have.
    pub(crate) fn load(&mut self, table: Table, ids: impl IntoIterator<Item = String>) -> Res<()> {
        let need = self.wanted(table, ids);
        if need.is_empty() {
            return Ok(());
        }
        let got = self.repo.load(table, &need)?;
        let mut found: HashSet<String> = HashSet::default();
        let mut contract_ids: Vec<String> = vec![];
        for (id, data) in got {
            match table {
                Table::Contracts => {
                    let c = Contract::decode(&data)?;
                    self.place_contract(c);
                }
                Table::Clients => {
                    let k = Client::decode(&data)?;
                    self.clients.index.insert(Id::from(id.as_str()), self.clients.list.len());
                    self.clients.list.push(k);
                }
                Table::Freelancers => {
                    let (fid, cids, timeline) = Freelancer::decode(&data)?;
                    self.load(Table::Contracts, cids.clone())?; // a score needs all its contracts
                    let contracts = cids
                        .iter()
                        .map(|c| {
                            self.contract_index
                                .get(c, &self.contracts)
                                .ok_or_else(|| format!("freelancer {fid}: contract {c} is not in the projection store"))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    contract_ids.extend(cids);
                    self.place_freelancer(Freelancer { id: fid, contracts, timeline, away: None });
                }
            }
            found.insert(id);
        }
        for id in need {
            if !found.contains(&id) {
                self.missing[table as usize].insert(id);
            }
        }
        Ok(())
    }

    pub fn contract(&mut self, id: &str) -> Res<Option<usize>> {
        if let Some(i) = self.contract_index.get(id, &self.contracts) {
            return Ok(Some(i));
        }
        self.load(Table::Contracts, [id.to_string()])?;
        Ok(self.contract_index.get(id, &self.contracts))
    }

    pub fn freelancer(&mut self, fid: &str) -> Res<usize> {
        if let Some(&i) = self.freelancer_index.get(fid) {
            self.touched[i] = self.batch;
            return Ok(i);
        }
        self.load(Table::Freelancers, [fid.to_string()])?;
        if let Some(&i) = self.freelancer_index.get(fid) {
            return Ok(i);
        }
        let i = self.place_freelancer(Freelancer { id: Id::from(fid), contracts: vec![], timeline: vec![], away: None });
        if let Some(all) = self.all_freelancers.as_mut() {
            all.insert(fid.to_string());
        }
        Ok(i)
    }

    pub fn client(&mut self, kid: &str) -> Res<usize> {
        if let Some(&i) = self.clients.index.get(kid) {
            return Ok(i);
        }
        self.load(Table::Clients, [kid.to_string()])?;
        if let Some(&i) = self.clients.index.get(kid) {
            return Ok(i);
        }
        let i = self.clients.list.len();
        self.clients.list.push(Client::new(Id::from(kid), vec![], 0, vec![]));
        self.clients.index.insert(Id::from(kid), i);
        Ok(i)
    }

    /// projector.flags_of: the clients of a freelancer's contracts, loaded.
    pub fn load_clients_of(&mut self, fi: usize) -> Res<()> {
        if self.empty {
            return Ok(()); // every client is in memory (an unknown one has no flags either way)
        }
        let index = &self.clients.index;
        let f = &self.freelancers[fi];
        let kids: Vec<String> = crate::away::held(&f.contracts)
            .map(|c| self.contracts[c].client.as_str())
            .chain(f.away_clients())
            .filter(|k| !index.contains_key(*k))
            .map(str::to_string)
            .collect();
        for k in kids {
            self.client(&k)?;
        }
        Ok(())
    }

    fn all_freelancers(&mut self) -> Res<Vec<String>> {
        if self.all_freelancers.is_none() {
            // a fresh store has only what this projector holds, unless it let some go
            let stored = if self.empty && self.let_go.is_empty() { vec![] } else { self.repo.freelancer_ids()? };
            let mut all: BTreeSet<String> = stored.into_iter().collect();
            all.extend(self.freelancer_index.keys().map(|k| k.to_string()));
            self.all_freelancers = Some(all);
        }
        Ok(self.all_freelancers.as_ref().unwrap().iter().cloned().collect())
    }

    // -- the fold --------------------------------------------------------------------

    /// Project a batch of log rows; the changes wait in `dirty`, `ledger`, `new_deadlines`.
    /// The rows are decoded and looked up a slice of DECODED at a time: a 100,000-row batch
    /// decoded at once took about 25 MB more at the peak (a Recorded is large).
    pub fn run(&mut self, rows: &[(i64, &[u8])]) -> Res<()> {
        let after = self.position;
        if rows.iter().all(|&(pos, _)| pos <= after) {
            return Ok(());
        }
        self.batch += 1;
        // the batch before this one may still be committing: only what came before it is stored
        (self.committed, self.last_start) = (self.last_start, self.position);
        self.missing = Default::default(); // the store may have them now; and it stays small
        self.let_go_idle();
        for slice in rows.chunks(DECODED) {
            crate::pool_freed_pages();
            let mut recorded = Vec::with_capacity(slice.len()); // sized once: a Recorded is large
            for &(pos, data) in slice.iter().filter(|&&(pos, _)| pos > after) {
                recorded.push((pos, decode_recorded(data).map_err(|e| format!("position {pos}: {e}"))?));
            }
            self.prefetch(&recorded)?;
            for (pos, rec) in &recorded {
                self.apply(*pos, rec)?;
            }
        }
        Ok(())
    }

    /// projector._prefetch: one look-up per table for a batch.
    fn prefetch(&mut self, recorded: &[(i64, Recorded)]) -> Res<()> {
        if self.empty {
            return Ok(());
        }
        let events: Vec<&Recorded> = recorded.iter().map(|(_, r)| r).collect();
        let cids: Vec<String> = events.iter().filter_map(|r| r.event.contract_id.as_deref().map(str::to_string)).collect();
        self.load(Table::Contracts, cids.clone())?;
        let known: Vec<usize> = cids.iter().filter_map(|c| self.contract_index.get(c, &self.contracts)).collect();
        let mut fids: Vec<String> = known.iter().map(|&c| self.contracts[c].freelancer.to_string()).collect();
        let mut kids: Vec<String> = known.iter().map(|&c| self.contracts[c].client.to_string()).collect();
        for r in &events {
            if let Kind::Opened { freelancer, .. } = &r.event.kind {
                fids.push(freelancer.to_string());
            }
            kids.extend(r.event.client_id.as_deref().map(str::to_string));
        }
        self.load(Table::Freelancers, fids)?;
        self.load(Table::Clients, kids)
    }

    fn apply(&mut self, pos: i64, rec: &Recorded) -> Res<()> {
        let e: &Event = &rec.event;
        let at = e.at;
        self.n = 0;
        let target = if let Kind::Clock { to } = e.kind { at.max(to) } else { at };
        if target > self.clock {
            self.advance(target, pos, rec)?;
        }
        let mut affected: Vec<Id> = vec![];
        let mut trigger: Option<Trigger> = None;
        let mut earner: Option<(usize, Trigger)> = None; // a payment or refund: the earnings move
        match &e.kind {
            Kind::Opened { .. } => {
                let c = Contract::open(e, pos);
                if self.let_go.may_hold(&c.id) {
                    let fi = self.freelancer(&c.freelancer)?;
                    self.bring_back_for(fi, &c.id)?;
                }
                let (fid, kid) = (c.freelancer.clone(), c.client.clone());
                let ci = match self.contract_index.get(&c.id, &self.contracts) {
                    Some(ci) => {
                        self.contracts[ci] = c;
                        ci
                    }
                    None => self.place_contract(c),
                };
                self.dirty.mark(Table::Contracts, ci);
                let fi = self.freelancer(&fid)?;
                crate::compact::push_vec(&mut self.freelancers[fi].contracts, ci);
                self.dirty.mark(Table::Freelancers, fi);
                let ki = self.client(&kid)?;
                let k = &mut self.clients.list[ki];
                if k.hire(&fid) {
                    self.dirty.mark(Table::Clients, ki);
                }
            }
            Kind::Flagged | Kind::Unflagged => {
                let kid = e.client_id.as_deref().unwrap_or_default();
                let ki = self.client(kid)?;
                let k = &mut self.clients.list[ki];
                k.flags.push((at, pos, matches!(e.kind, Kind::Flagged)));
                k.last_at = k.last_at.max(at);
                self.dirty.mark(Table::Clients, ki);
                affected = k.freelancers.clone();
                trigger = Some(Trigger { at, pos, contract: None, client_id: k.id.to_string(), event_id: e.event_id.to_string() });
            }
            Kind::Clock { .. } => {}
            _ => {
                let cid = e.contract_id.as_deref().unwrap_or_default();
                let Some(ci) = self.contract(cid)? else {
                    return Err(format!("position {pos}: unknown contract {cid}").into());
                };
                let c = &mut self.contracts[ci];
                c.apply(e, at, pos);
                c.cache = None;
                let (fid, kid, open) = (c.freelancer.clone(), c.client.clone(), c.closed.is_none());
                let fi = self.freelancer(&fid)?;
                self.bring_back_for(fi, cid)?;
                // a new fact on an archived contract: rebuild it next time (on a live one the
                // archive still holds: its contracts and sums did not change)
                if self.archives.get(&fi).and_then(Option::as_ref).is_some_and(|a| a.holds(&self.freelancers[fi].contracts, ci)) {
                    self.archives.remove(&fi);
                    self.archive_built.remove(&fi);
                }
                self.dirty.mark(Table::Contracts, ci);
                if let Kind::Payment(cents) | Kind::Refund(cents) = e.kind {
                    let cents = if matches!(e.kind, Kind::Payment(_)) { cents } else { -cents };
                    if let Some(v) = self.money.get_mut(&fi) {
                        for item in crate::toprated::money_items(at, cents) {
                            crate::compact::insert(v, v.partition_point(|x| *x <= item), item);
                        }
                    }
                    earner =
                        Some((fi, Trigger { at, pos, contract: Some(ci), client_id: kid.to_string(), event_id: e.event_id.to_string() }));
                }
                let mut late_close = false;
                if matches!(e.kind, Kind::Closed { .. }) {
                    for d in [at + FEEDBACK_WINDOW, window_exit(at, 6), window_exit(at, 12), window_exit(at, 24)] {
                        if d > self.clock {
                            self.push_deadline(d, fid.to_string());
                        } else {
                            late_close = true; // its deadlines already passed: reconcile them now
                        }
                    }
                }
                let still = matches!(e.kind, Kind::ScopeChanged | Kind::EditAllowed { .. } | Kind::Closed { .. });
                let unsettled_money = matches!(e.kind, Kind::Payment(_) | Kind::Refund(_)) && open;
                if late_close || (!still && !unsettled_money) {
                    affected = vec![fid];
                    trigger = Some(Trigger { at, pos, contract: Some(ci), client_id: kid.to_string(), event_id: e.event_id.to_string() });
                }
            }
        }
        self.position = pos;
        let clock = self.clock;
        for fid in &affected {
            let fi = self.freelancer(fid)?;
            let grown = self.freelancers[fi].timeline.len();
            self.reconcile(fid, at, clock, pos, rec, trigger.as_ref())?;
            if self.freelancers[fi].timeline.len() != grown || earner.is_some() {
                let late = trigger.as_ref().or(earner.as_ref().map(|e| &e.1));
                self.badges(fi, at, clock, pos, rec, late, true)?;
            }
        }
        if let Some((fi, t)) = earner.filter(|_| affected.is_empty()) {
            self.badges(fi, at, clock, pos, rec, Some(&t), true)?;
        }
        Ok(())
    }

    pub fn push_deadline(&mut self, at: i64, fid: String) {
        let n = self.names.number(&fid);
        self.heap.push(Reverse((at, n)));
        self.new_deadlines.push((at, fid));
    }

    /// Move the clock to `target`; deadlines passed take effect at their own times.
    fn advance(&mut self, target: i64, pos: i64, rec: &Recorded) -> Res<()> {
        if target > self.horizon {
            let upto = target.max(self.horizon + 60 * DAY);
            if !self.empty {
                // (a fresh store has only deadlines this projector pushed: they are all here)
                for (at, fid) in self.repo.due_deadlines(self.horizon, upto)? {
                    let n = self.names.number(&fid);
                    self.heap.push(Reverse((at, n)));
                }
            }
            self.horizon = upto;
        }
        let mut due: BTreeSet<(i64, String)> = BTreeSet::new();
        while self.heap.peek().is_some_and(|Reverse(d)| d.0 <= target) {
            let Reverse((at, n)) = self.heap.pop().unwrap();
            if at > self.clock {
                due.insert((at, self.names.name(n).to_string()));
            }
        }
        for s in SWITCHES {
            if self.clock < s && s <= target {
                for fid in self.all_freelancers()? {
                    due.insert((s, fid));
                }
            }
        }
        if !due.is_empty() {
            let fids: Vec<String> = due.iter().map(|d| d.1.clone()).collect();
            self.load(Table::Freelancers, fids)?;
        }
        // in time order; a badge flip found on the way (toprated::schedule) joins the queue
        self.due = due.into_iter().map(Reverse).collect();
        self.target = target;
        let mut done: HashSet<(i64, String)> = HashSet::default();
        while let Some(Reverse(d)) = self.due.pop() {
            if !done.insert(d.clone()) {
                continue;
            }
            let (at, fid) = d;
            let fi = self.freelancer(&fid)?;
            let grown = self.freelancers[fi].timeline.len();
            self.cover(fi, at, pos - 1)?;
            // nothing of the freelancer's happens at a badge's own deadline: its JSS stands
            if any_deadline_at(&self.contracts, &self.freelancers[fi].contracts, at, pos - 1) {
                self.reconcile_at(fi, at, pos - 1, pos, rec, None)?;
            }
            let grown = self.freelancers[fi].timeline.len() != grown;
            self.badge_deadline(fi, at, grown, pos, rec)?;
        }
        self.target = -INF;
        self.clock = target;
        Ok(())
    }
}

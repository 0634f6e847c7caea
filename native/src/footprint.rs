//! Where the projector's heap goes, part by part (examples/replay.rs prints it): each
//! allocation counted at the size mimalloc gives it (its size class), maps at their buckets.

use std::mem::size_of;

use crate::model::{Contract, Id, Word};
use crate::projector::Projector;

/// The bytes mimalloc hands out for a request of `n` (none for an empty one).
pub(crate) fn alloc(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        unsafe { libmimalloc_sys::mi_good_size(n) }
    }
}

fn vec<T>(v: &Vec<T>) -> usize {
    alloc(v.capacity() * size_of::<T>())
}

/// A ThinVec: its length and capacity on the heap before the items.
fn list<T>(v: &crate::model::List<T>) -> usize {
    if v.capacity() == 0 {
        0
    } else {
        alloc(16 + v.capacity() * size_of::<T>())
    }
}

fn string(s: &str) -> usize {
    alloc(s.len())
}

/// An EcoString: inline up to 15 bytes, else its counts and bytes on the heap.
fn id(s: &Id) -> usize {
    if s.len() <= Id::INLINE_LIMIT {
        0
    } else {
        alloc(16 + s.len())
    }
}

fn word(w: &Word) -> usize {
    match w {
        Word::Known(_) => 0,
        Word::Other(s) => string(s),
    }
}

/// A hashbrown table of `capacity` (usable) slots: a power of two of buckets, each one
/// entry and a control byte.
fn table<T>(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 { capacity + 1 } else { (capacity * 8 / 7).next_power_of_two() };
    alloc(buckets * size_of::<T>() + buckets + 16)
}

#[derive(Default)]
pub struct Parts {
    pub parts: Vec<(&'static str, usize)>,
}

impl Parts {
    fn add(&mut self, name: &'static str, n: usize) {
        match self.parts.iter_mut().find(|p| p.0 == name) {
            Some(p) => p.1 += n,
            None => self.parts.push((name, n)),
        }
    }
    pub fn total(&self) -> usize {
        self.parts.iter().map(|p| p.1).sum()
    }
}

fn contract(c: &Contract, out: &mut Parts) {
    let ids = [&c.id, &c.freelancer, &c.client].map(id).iter().sum::<usize>();
    out.add("contract: own, freelancer, client ids", ids);
    out.add("contract: pricing, continues", word(&c.pricing) + c.continues.as_deref().map_or(0, string));
    let mut events = id(&c.opened_event);
    let mut words = 0;
    if let Some(x) = &c.closed {
        events += id(&x.event_id);
        words += word(&x.by) + word(&x.reason);
    }
    for m in c.payments.iter().chain(&c.refunds) {
        events += id(&m.event_id);
    }
    for s in c.client_public.iter().chain(&c.freelancer_public) {
        events += id(&s.event_id);
    }
    for p in [&c.client_private, &c.freelancer_private].into_iter().flatten() {
        out.add("contract: private feedback", alloc(size_of::<crate::model::Private>()));
        events += id(&p.event_id);
        words += p.end_reason.as_ref().map_or(0, word);
    }
    for (side, m) in &c.edit_allowed {
        events += id(&m.event_id);
        words += word(side);
    }
    for r in &c.removals {
        events += id(&r.event_id);
        words += word(&r.of) + word(&r.basis) + word(&r.scope);
    }
    for m in &c.scope_changes {
        events += id(&m.event_id);
    }
    out.add("contract: event ids", events);
    out.add("contract: by, reason, of, basis, scope, side", words);
    let lists = list(&c.payments)
        + list(&c.refunds)
        + list(&c.client_public)
        + list(&c.freelancer_public)
        + list(&c.edit_allowed)
        + list(&c.removals)
        + list(&c.scope_changes);
    out.add("contract: fact vectors", lists);
    if let Some(e) = &c.cache {
        out.add("contract: cache", alloc(size_of::<crate::eval::CacheEntry>()) + list(&e.memo));
    }
}

impl Projector {
    /// The heap the projector's state holds, by part (an estimate: what each allocation
    /// gets from mimalloc, not mimalloc's own pages and slack).
    pub fn footprint(&self) -> Parts {
        let mut out = Parts::default();
        out.add("contracts: slots", vec(&self.contracts));
        for c in &self.contracts {
            contract(c, &mut out);
        }
        out.add("contracts: index", table::<u32>(self.contract_index.capacity()));
        out.add("freelancers: slots", vec(&self.freelancers));
        for f in &self.freelancers {
            out.add("freelancers: ids", id(&f.id));
            out.add("freelancers: contract lists", vec(&f.contracts));
            out.add("freelancers: timelines", vec(&f.timeline));
        }
        out.add("freelancers: index", table::<(Id, usize)>(self.freelancer_index.capacity()));
        out.add("freelancers: index keys", self.freelancer_index.keys().map(id).sum());
        let k = &self.clients;
        out.add("clients", vec(&k.list) + table::<(Id, usize)>(k.index.capacity()));
        out.add("clients", k.index.keys().map(id).sum());
        for c in &k.list {
            out.add("clients", id(&c.id) + vec(&c.flags) + vec(&c.freelancers));
            out.add("clients: freelancer ids", c.freelancers.iter().map(id).sum());
            out.add("clients: freelancer sets", table::<Id>(c.members.capacity()));
            out.add("clients: freelancer ids", c.members.iter().map(id).sum());
        }
        out.add("archives", table::<(usize, Option<crate::eval::Archive>)>(self.archives.capacity()));
        out.add("archives", self.archives.values().flatten().map(|a| vec(&a.live)).sum());
        out.add("archives", table::<(usize, i64)>(self.archive_built.capacity()));
        out.add("earnings", table::<(usize, Vec<crate::toprated::Money>)>(self.money.capacity()));
        out.add("earnings", self.money.values().map(vec).sum());
        out.add("deadlines", table::<(usize, i64)>(self.scheduled.capacity()) + alloc(self.heap.capacity() * 16));
        let names = &self.names;
        out.add("deadlines", vec(&names.list) + table::<(String, u32)>(names.index.capacity()));
        out.add("deadlines", names.list.iter().map(|n| 2 * string(n)).sum());
        out
    }
}

//! Where the projector's heap goes, part by part (examples/replay.rs prints it): each
//! allocation counted at the size mimalloc gives it (its size class), maps at their buckets.

use std::mem::size_of;

use crate::model::{Contract, Id};
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
    out.add("contract: continues", c.continues().map_or(0, |s| alloc(size_of::<String>()) + string(s)));
    let mut events = id(&c.opened_event);
    if let Some(x) = &c.closed {
        events += id(&x.event_id);
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
    }
    for (_, m) in &c.edit_allowed {
        events += id(&m.event_id);
    }
    for r in &c.removals {
        events += id(&r.event_id);
    }
    for m in &c.scope_changes {
        events += id(&m.event_id);
    }
    out.add("contract: event ids", events);
    out.add("contract: fact vectors: payments, refunds", list(&c.payments) + list(&c.refunds));
    out.add("contract: fact vectors: public feedback", list(&c.client_public) + list(&c.freelancer_public));
    out.add("contract: fact vectors: other", list(&c.edit_allowed) + list(&c.removals) + list(&c.scope_changes));
    if let Some(e) = &c.cache {
        out.add("contract: cache", alloc(size_of::<crate::eval::CacheEntry>()) + list(&e.memo));
    }
}

impl Projector {
    /// The heap the projector's state holds, by part (an estimate: what each allocation
    /// gets from mimalloc, not mimalloc's own pages and slack).
    pub fn footprint(&self) -> Parts {
        let mut out = Parts::default();
        let (chunks, list) = self.contracts.allocations();
        out.add("contracts: slots", chunks.map(alloc).sum::<usize>() + alloc(list));
        for c in &self.contracts {
            contract(c, &mut out);
        }
        out.add("contracts: index", table::<u32>(self.contract_index.capacity()));
        out.add("contracts: let go, put away", table::<u64>(self.let_go.capacity()) + vec(&self.vacant_contracts));
        out.add("freelancers: slots", vec(&self.freelancers));
        for f in &self.freelancers {
            out.add("freelancers: ids", id(&f.id));
            out.add("freelancers: contract lists", vec(&f.contracts));
            out.add("freelancers: timelines", vec(&f.timeline));
            if let Some(a) = &f.away {
                let ids: usize = a.ids.iter().map(|x| id(&x.1) + id(&x.2)).sum();
                out.add(
                    "freelancers: contracts put away",
                    alloc(size_of::<crate::away::Away>()) + vec(&a.ids) + ids + vec(&a.archive.live),
                );
            }
        }
        out.add("freelancers: index", table::<(Id, usize)>(self.freelancer_index.capacity()));
        out.add("freelancers: index keys", self.freelancer_index.keys().map(id).sum());
        let k = &self.clients;
        out.add("clients", vec(&k.list) + table::<(Id, usize)>(k.index.capacity()));
        out.add("clients", k.index.keys().map(id).sum());
        for c in &k.list {
            out.add("clients", id(&c.id) + vec(&c.flags) + vec(&c.freelancers));
            out.add("clients: freelancer ids", c.freelancers.iter().map(id).sum());
            out.add("clients: freelancer index", table::<u32>(c.index_capacity()));
        }
        out.add("archives", table::<(usize, Option<crate::eval::Archive>)>(self.archives.capacity()));
        out.add("archives", self.archives.values().flatten().map(|a| vec(&a.live)).sum());
        out.add("archives", table::<(usize, i64)>(self.archive_built.capacity()));
        out.add("earnings", table::<(usize, Vec<crate::toprated::Money>)>(self.money.capacity()));
        out.add("earnings", self.money.values().map(vec).sum());
        out.add("deadlines", table::<(usize, i64)>(self.scheduled.capacity()) + alloc(self.heap.capacity() * 16));
        let names = &self.names;
        out.add("deadlines", vec(&names.list) + table::<u32>(names.index.capacity()));
        out.add("deadlines", names.list.iter().map(id).sum());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Closed, Mark, Money, Private, Removal, Stars, Word};
    use crate::msgpack::Writer;

    /// What every contract holds inline (the budget is 1 KB of heap per contract):
    /// growing one of these grows them all.
    #[test]
    fn per_contract_structs_stay_small() {
        assert!(size_of::<Contract>() <= 232, "Contract: {} bytes", size_of::<Contract>());
        assert!(size_of::<crate::eval::CacheEntry>() <= 112, "CacheEntry: {} bytes", size_of::<crate::eval::CacheEntry>());
        assert!(size_of::<crate::packed::Memo>() <= 40, "Memo: {} bytes", size_of::<crate::packed::Memo>());
        assert!(size_of::<crate::model::Stars>() <= 48, "Stars: {} bytes", size_of::<crate::model::Stars>());
        assert!(size_of::<crate::model::Entry>() <= 40, "Entry: {} bytes", size_of::<crate::model::Entry>());
    }

    fn encoded(c: &Contract) -> Vec<u8> {
        let mut w = Writer(vec![]);
        c.encode(&mut w);
        w.0
    }

    /// Words of no vocabulary and ids too long to sit inline come back as they were, byte for
    /// byte (a state written by another build); known words are kept as numbers.
    #[test]
    fn a_contract_with_unknown_words_and_long_ids_round_trips() {
        let long = "e-".repeat(40);
        let mark = |at| Mark { at, pos: at, event_id: Id::from(long.as_str()) };
        let mut c = Contract {
            id: Id::from("c-1234567890123456"),
            freelancer: Id::from("f"),
            client: Id::from(""),
            pricing: Word::new("weekly"),
            continues: Some(Box::new("c-0".into())),
            opened_at: 1,
            opened_pos: 2,
            opened_event: Id::from("e-1"),
            last_at: 9,
            closed: Some(Closed::new(5, 6, Word::new("platform"), Word::new("a reason of its own"), Id::from("e-5"))),
            ..Contract::default()
        };
        c.payments.push(Money { at: 3, pos: 3, cents: 100, event_id: Id::from(long.as_str()) });
        c.client_public.push(Stars { at: 7, pos: 7, stars: 4.25, event_id: Id::from("e-7"), scaled: crate::model::Scaled::of(4.25) });
        c.client_private =
            Some(Box::new(Private { at: 7, pos: 8, recommend: 9, end_reason: Some(Word::new("")), event_id: Id::from("e-8") }));
        c.freelancer_private = Some(Box::new(Private { at: 7, pos: 9, recommend: 1, end_reason: None, event_id: Id::from("e-9") }));
        c.edit_allowed.push((Word::new("nobody"), mark(10)));
        c.removals.push(Removal {
            at: 11,
            pos: 11,
            of: Word::new("client"),
            basis: Word::new("x"),
            scope: Word::new("jss_only"),
            event_id: Id::from("e-11"),
        });
        c.scope_changes.push(mark(12));
        let bytes = encoded(&c);
        let back = Contract::decode(&bytes).unwrap();
        assert_eq!(encoded(&back), bytes);
        assert!(back.closed.as_ref().unwrap().by.is_known());
        assert!(!back.closed.as_ref().unwrap().reason.is_known());
        assert_eq!(size_of::<Word>(), 4);
        assert!(Word::new("a reason of its own") == back.closed.as_ref().unwrap().reason, "kept once");
        let closed = back.closed.as_ref().unwrap();
        assert_eq!(closed.exits(), crate::rules::WINDOWS.map(|m| crate::time::window_exit(closed.at, m)));
        assert_eq!(back.closed.unwrap().reason.as_str(), "a reason of its own");
        assert_eq!(back.client_private.unwrap().end_reason.as_deref(), Some(""));
        assert_eq!(back.pricing.as_str(), "weekly");
        assert_eq!(back.payments[0].event_id, long);
    }
}

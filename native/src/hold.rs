//! What the projector holds in memory: at most `hold` contracts (0: no limit). Past it, the
//! freelancers touched least recently let go of their state (their contracts with them), which
//! the projection store already has; a later event, deadline or flag loads them back, as a
//! projector started on a non-empty store does. Clients stay (a few flags and ids each).

use std::hash::BuildHasher;

use crate::hash::Set as HashSet;
use crate::model::{Contract, Freelancer};
use crate::projector::Projector;

/// The ids let go, by hash: a false match only asks the store for an id it does not have.
#[derive(Default)]
pub struct LetGo(HashSet<u64>);

impl LetGo {
    fn key(id: &str) -> u64 {
        crate::hash::Build::default().hash_one(id)
    }
    pub fn insert(&mut self, id: &str) {
        self.0.insert(Self::key(id));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }
    pub fn may_hold(&self, id: &str) -> bool {
        !self.is_empty() && self.0.contains(&Self::key(id))
    }
}

impl Projector {
    /// Contracts held in memory.
    pub fn held(&self) -> usize {
        self.contract_index.len()
    }

    /// A slot for a contract (a vacated one first); -> its index.
    pub fn place_contract(&mut self, c: Contract) -> usize {
        let id = c.id.clone();
        let ci = match self.vacant_contracts.pop() {
            Some(ci) => {
                self.contracts[ci] = c;
                ci
            }
            None => {
                self.contracts.push(c);
                self.contracts.len() - 1
            }
        };
        self.contract_index.insert(&id, ci, &self.contracts);
        ci
    }

    /// A slot for a freelancer (a vacated one first); -> its index.
    pub fn place_freelancer(&mut self, f: Freelancer) -> usize {
        let id = f.id.clone();
        let fi = match self.vacant_freelancers.pop() {
            Some(fi) => {
                self.freelancers[fi] = f;
                fi
            }
            None => {
                self.freelancers.push(f);
                self.touched.push(0);
                self.freelancers.len() - 1
            }
        };
        self.touched[fi] = self.batch;
        self.freelancer_index.insert(id, fi);
        fi
    }

    /// At the start of a batch: let go of idle freelancers while more than `hold` contracts
    /// are held, down to three quarters of it (not at every batch). Only state the store
    /// has: a freelancer the last batch touched may still be in a commit in flight
    /// (projections/native.py commits batch N while the core projects N + 1).
    pub fn let_go_idle(&mut self) {
        if self.hold == 0 || !self.reloadable || self.contract_index.len() <= self.hold {
            return;
        }
        let goal = self.hold - self.hold / 4;
        let batch = self.batch;
        let mut idle: Vec<(u64, usize)> =
            self.freelancer_index.values().map(|&fi| (self.touched[fi], fi)).filter(|&(t, _)| t + 2 <= batch).collect();
        idle.sort_unstable();
        for (_, fi) in idle {
            if self.contract_index.len() <= goal {
                break;
            }
            self.let_go(fi);
        }
    }

    fn let_go(&mut self, fi: usize) {
        let f = std::mem::replace(&mut self.freelancers[fi], Freelancer::default());
        for ci in crate::away::held(&f.contracts) {
            if self.contracts[ci].id.is_empty() {
                continue; // listed twice
            }
            let c = std::mem::replace(&mut self.contracts[ci], Contract::default());
            self.contract_index.remove(&c.id, ci);
            self.let_go.insert(&c.id);
            self.vacant_contracts.push(ci);
        }
        self.freelancer_index.remove(&f.id);
        self.let_go.insert(&f.id);
        self.vacant_freelancers.push(fi);
        self.archives.remove(&fi);
        self.archive_built.remove(&fi);
        self.money.remove(&fi);
        self.scheduled.remove(&fi); // scheduled again when it comes back (the store keeps it once)
    }
}

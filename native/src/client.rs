//! A client's state: its flags and the freelancers it hired (projector.Client).

use crate::model::Id;
use crate::msgpack::{Reader, Writer, R};

pub struct Client {
    pub id: Id,
    pub flags: Vec<(i64, i64, bool)>,
    pub last_at: i64,
    pub freelancers: Vec<Id>,
    /// `freelancers` by id, once there are more than FEW (a scan of a few is as quick, and most
    /// clients hire a few: a set of the ids took 22 bytes a contract)
    members: crate::hash::Index,
}

const FEW: usize = 16;

impl Client {
    pub fn new(id: Id, flags: Vec<(i64, i64, bool)>, last_at: i64, freelancers: Vec<Id>) -> Client {
        let mut k = Client { id, flags, last_at, freelancers, members: Default::default() };
        if k.freelancers.len() > FEW {
            k.index_from(0);
        }
        k
    }

    /// Index `freelancers` from slot `start` on.
    fn index_from(&mut self, start: usize) {
        for (i, f) in self.freelancers.iter().enumerate().skip(start) {
            self.members.insert(f, i, &self.freelancers);
        }
    }

    /// Add a freelancer not listed yet; -> whether it was added.
    pub fn hire(&mut self, fid: &Id) -> bool {
        let listed =
            if self.freelancers.len() <= FEW { self.freelancers.contains(fid) } else { self.members.get(fid, &self.freelancers).is_some() };
        if listed {
            return false;
        }
        crate::compact::push_vec(&mut self.freelancers, fid.clone());
        let n = self.freelancers.len();
        if n > FEW {
            self.index_from(if n == FEW + 1 { 0 } else { n - 1 }); // all of them once there are more than a few
        }
        true
    }

    pub fn index_capacity(&self) -> usize {
        self.members.capacity()
    }
}

impl crate::hash::Keyed for Id {
    fn key(&self) -> &str {
        self
    }
}

impl Client {
    pub fn encode(&self, w: &mut Writer) {
        w.array(4);
        w.str(&self.id);
        w.flags(&self.flags);
        w.int(self.last_at);
        w.array(self.freelancers.len());
        for f in &self.freelancers {
            w.str(f);
        }
    }

    pub fn decode(data: &[u8]) -> R<Client> {
        let r = &mut Reader::new(data);
        r.array()?;
        let id = r.id()?;
        let flags = r.list(|r| {
            r.array()?;
            Ok((r.int()?, r.int()?, r.bool()?))
        })?;
        let last_at = r.int()?;
        Ok(Client::new(id, flags, last_at, r.list(|r| r.id())?))
    }
}

/// Clients by id (flags are looked up by the contract's client id).
#[derive(Default)]
pub struct Clients {
    pub index: crate::hash::Map<Id, usize>,
    pub list: Vec<Client>,
}

impl Clients {
    pub fn flags(&self, id: &str) -> &[(i64, i64, bool)] {
        self.index.get(id).map_or(&[], |&i| &self.list[i].flags)
    }
}

#[cfg(test)]
mod tests {
    use super::{Client, FEW};
    use crate::model::Id;

    /// Past FEW freelancers (when the index is built) and from a stored list of many, a client
    /// lists each freelancer once, in the order hired, as a set would tell (seeded: 9).
    #[test]
    fn a_client_hires_each_freelancer_once() {
        let mut seed: u64 = 9;
        let mut k = Client::new(Id::from("k"), vec![], 0, vec![]);
        let mut set = std::collections::HashSet::new();
        let mut order = vec![];
        for _ in 0..2000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let f = Id::from(format!("f-{}", (seed >> 33) % 300).as_str());
            let new = set.insert(f.clone());
            if new {
                order.push(f.clone());
            }
            assert_eq!(k.hire(&f), new, "{f}");
            if order.len() == FEW {
                assert_eq!(k.index_capacity(), 0, "no index for a few");
            }
        }
        assert!(order.len() > FEW && k.index_capacity() > 0);
        assert_eq!(k.freelancers, order);
        // as loaded back: all of them, or a few and the rest hired again
        let mut all = Client::new(Id::from("k"), vec![], 0, order.clone());
        let mut few = Client::new(Id::from("k"), vec![], 0, order[..3].to_vec());
        for (i, f) in order.iter().enumerate() {
            assert!(!all.hire(f));
            assert_eq!(few.hire(f), i >= 3);
        }
        assert_eq!((all.freelancers, few.freelancers), (order.clone(), order));
    }
}

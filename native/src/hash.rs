//! A fast hasher for the projector's id maps (FxHash, as rustc uses): ids are not
//! attacker-chosen keys here, and SipHash showed in profiles.

use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default, Clone, Copy)]
pub struct Fx(u64);

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Fx {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap()));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    /// The state mixed (murmur3's fmix64): hashbrown picks buckets by the low bits, and
    /// the multiply leaves them depending on the low bytes only ("c-00" of "c-001234"),
    /// which piled every id into a few dozen buckets and made look-ups linear in the map.
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

pub type Build = BuildHasherDefault<Fx>;
pub type Map<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<Fx>>;
pub type Set<K> = std::collections::HashSet<K, BuildHasherDefault<Fx>>;

/// Slots by id, the ids read from the slots themselves: 4 bytes and a control byte a bucket
/// (a map from ids to indexes: 24 and their heap), hashed as the maps here.
#[derive(Default)]
pub struct Index(hashbrown::HashTable<u32>);

/// What an Index finds its slots' ids by.
pub trait Keyed {
    fn key(&self) -> &str;
}

fn hash(id: &str) -> u64 {
    use std::hash::BuildHasher;
    Build::default().hash_one(id)
}

impl Index {
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }
    pub fn get<T: Keyed, S: std::ops::Index<usize, Output = T> + ?Sized>(&self, id: &str, slots: &S) -> Option<usize> {
        self.0.find(hash(id), |&i| slots[i as usize].key() == id).map(|&i| i as usize)
    }
    /// Slot `i` (which holds `id` already) under `id`.
    pub fn insert<T: Keyed, S: std::ops::Index<usize, Output = T> + ?Sized>(&mut self, id: &str, i: usize, slots: &S) {
        let i = u32::try_from(i).expect("fewer than 2^32 slots");
        match self.0.entry(hash(id), |&j| slots[j as usize].key() == id, |&j| hash(slots[j as usize].key())) {
            hashbrown::hash_table::Entry::Occupied(mut e) => *e.get_mut() = i,
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(i);
            }
        }
    }
    /// Forget slot `i`, filed under `id` (the slot may hold something else by now).
    pub fn remove(&mut self, id: &str, i: usize) {
        if let Ok(e) = self.0.find_entry(hash(id), |&j| j as usize == i) {
            e.remove();
        }
    }
}

/// Ids as small numbers (each id kept once, inline when short), for queues that compare them often.
#[derive(Default)]
pub struct Names {
    pub(crate) list: Vec<crate::model::Id>,
    pub(crate) index: Index, // into `list`
}

impl Names {
    pub fn number(&mut self, id: &str) -> u32 {
        if let Some(n) = self.index.get(id, &self.list) {
            return n as u32;
        }
        let n = self.list.len();
        self.list.push(crate::model::Id::from(id));
        self.index.insert(id, n, &self.list);
        n as u32
    }
    pub fn name(&self, n: u32) -> &str {
        &self.list[n as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::{Fx, Index, Keyed};

    struct Slot(String);
    impl Keyed for Slot {
        fn key(&self) -> &str {
            &self.0
        }
    }

    /// Through its growth (rehashing reads the slots), slots let go and reused, against a map.
    #[test]
    fn an_index_finds_what_a_map_does() {
        let (mut slots, mut index, mut map) = (vec![], Index::default(), std::collections::HashMap::new());
        for n in 0..5000 {
            let id = format!("c-{n:06}");
            if n % 3 == 2 {
                // let go of an earlier one, and put this one in its slot
                let old = format!("c-{:06}", n / 2);
                if let Some(i) = map.remove(&old) {
                    index.remove(&old, i);
                    slots[i] = Slot(id.clone());
                    index.insert(&id, i, &slots);
                    map.insert(id, i);
                    continue;
                }
            }
            slots.push(Slot(id.clone()));
            index.insert(&id, slots.len() - 1, &slots);
            map.insert(id, slots.len() - 1);
        }
        assert_eq!(index.len(), map.len());
        for n in 0..5000 {
            let id = format!("c-{n:06}");
            assert_eq!(index.get(&id, &slots), map.get(&id).copied(), "{id}");
        }
    }
    use std::hash::{BuildHasher, BuildHasherDefault};

    /// Each id gets one number, the same each time, and its number gives it back.
    #[test]
    fn names_number_each_id_once() {
        let mut names = super::Names::default();
        let ids: Vec<String> =
            (0..3000).map(|i| format!("f-{:06}{}", i % 1000, if i % 7 == 0 { "-with-a-long-tail" } else { "" })).collect();
        let numbers: Vec<u32> = ids.iter().map(|id| names.number(id)).collect();
        for (id, &n) in ids.iter().zip(&numbers) {
            assert_eq!(names.number(id), n);
            assert_eq!(names.name(n), id);
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(names.list.len(), distinct.len());
    }

    /// Ids that differ only in their last digits spread over the low bits (hashbrown's
    /// bucket index): before the final mix, 100,000 contract ids fell into 32 buckets.
    #[test]
    fn sequential_ids_spread_over_the_low_bits() {
        let build = BuildHasherDefault::<Fx>::default();
        for prefix in ["c-", "f-", "k-", "contract:c-"] {
            let mut buckets = std::collections::HashSet::new();
            for i in 0..100_000 {
                buckets.insert(build.hash_one(format!("{prefix}{i:06}")) & 0xffff);
            }
            // 100,000 random keys in 65,536 buckets fill about 51,000 of them
            assert!(buckets.len() > 45_000, "{prefix}: {} buckets of 65,536", buckets.len());
        }
    }
}

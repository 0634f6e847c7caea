//! The deadlines to come (window ends, window exits), in buckets of an hour of their time,
//! instead of a binary heap sifted through cold memory at every pop: an 11M-event rebuild
//! holds about 5M deadlines, the heap's pops showed as up to a tenth of the core's samples
//! there, and the buckets took its replay from 238 to 230 s. A bucket is sorted when the
//! clock first reaches it and then popped from its end.

use std::collections::BTreeMap;

use crate::time::MICROS;

const BUCKET: i64 = 3_600 * MICROS;

#[derive(Default)]
struct Bucket {
    items: Vec<(i64, u32)>, // (at, the freelancer's number); latest first once sorted
    sorted: bool,
}

#[derive(Default)]
pub struct Deadlines {
    buckets: BTreeMap<i64, Bucket>,
}

impl Deadlines {
    pub fn push(&mut self, at: i64, n: u32) {
        let b = self.buckets.entry(at.div_euclid(BUCKET)).or_default();
        b.items.push((at, n));
        b.sorted = false;
    }

    /// Take every deadline at or before `upto`, in time order (then by number).
    pub fn pop_until(&mut self, upto: i64, mut f: impl FnMut(i64, u32)) {
        let last = upto.div_euclid(BUCKET);
        while let Some(mut e) = self.buckets.first_entry() {
            if *e.key() > last {
                break;
            }
            let b = e.get_mut();
            if !b.sorted {
                b.items.sort_unstable_by(|x, y| y.cmp(x));
                b.sorted = true;
            }
            while b.items.last().is_some_and(|d| d.0 <= upto) {
                let (at, n) = b.items.pop().unwrap();
                f(at, n);
            }
            if !b.items.is_empty() {
                break; // the rest of this bucket is after `upto`
            }
            e.remove();
        }
    }

    /// The heap its buckets take (crate::footprint).
    pub fn bytes(&self) -> usize {
        let node = std::mem::size_of::<(i64, Bucket)>();
        self.buckets.values().map(|b| node + b.items.capacity() * 16).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::{Deadlines, BUCKET};

    /// Popped up to a time, the queue gives what a sorted list of the same deadlines gives,
    /// whatever the order of pushes and pops (seeded: 7).
    #[test]
    fn pops_what_a_sorted_list_would() {
        let mut seed: u64 = 7;
        let mut next = |m: i64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as i64).rem_euclid(m)
        };
        let mut q = Deadlines::default();
        let mut all: Vec<(i64, u32)> = vec![];
        let mut clock = -5 * BUCKET;
        for _ in 0..2_000 {
            if next(3) == 0 {
                clock += next(2 * BUCKET);
                let mut got = vec![];
                q.pop_until(clock, |at, n| got.push((at, n)));
                all.sort_unstable();
                let split = all.partition_point(|d| d.0 <= clock);
                assert_eq!(got, all.drain(..split).collect::<Vec<_>>());
            } else {
                let d = (clock + next(10 * BUCKET) - BUCKET, next(50) as u32); // some already due
                q.push(d.0, d.1);
                all.push(d);
            }
        }
    }
}

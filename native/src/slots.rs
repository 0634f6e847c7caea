//! The projector's contract slots, in chunks of a fixed size. A Vec of them doubles as it grows:
//! while it copies, the old buffer and the new one are both held (the peak), and afterwards up to
//! half of the new one is unused. Chunks never move what they hold, and all but the last are full.

use std::ops::{Index, IndexMut};

/// A chunk's bytes: one of mimalloc's size classes (296 x 1024 bytes would be rounded up by 8%),
/// and one that fills its 4 MiB pages (12 a page; 256 KiB fit 15, 512 KiB 7): of the sizes
/// tried, the lowest peak on a 1M-event replay (1,478 bytes a contract; 1,530 to 1,567 else).
const CHUNK_BYTES: usize = 5 << 16;

pub struct Chunked<T> {
    chunks: Vec<Vec<T>>, // each allocated at CHUNK slots once, never grown
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: vec![], len: 0 }
    }
}

impl<T> Chunked<T> {
    /// Slots a chunk (a constant: an index splits with a multiply and shifts).
    pub const CHUNK: usize = if size_of::<T>() == 0 || size_of::<T>() > CHUNK_BYTES { 1 } else { CHUNK_BYTES / size_of::<T>() };

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, x: T) {
        if self.len % Self::CHUNK == 0 {
            self.chunks.push(Vec::with_capacity(Self::CHUNK));
        }
        self.chunks.last_mut().unwrap().push(x);
        self.len += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    /// The bytes asked of the allocator for each chunk, and the chunks' own list.
    pub fn allocations(&self) -> (impl Iterator<Item = usize> + '_, usize) {
        (self.chunks.iter().map(|c| c.capacity() * size_of::<T>()), self.chunks.capacity() * size_of::<Vec<T>>())
    }
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        &self.chunks[i / Self::CHUNK][i % Self::CHUNK]
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i / Self::CHUNK][i % Self::CHUNK]
    }
}

impl<'a, T> IntoIterator for &'a Chunked<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<T>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::{Chunked, CHUNK_BYTES};

    const CHUNK: usize = Chunked::<String>::CHUNK;

    /// Through pushes across chunk borders, slots let go and reused (as crate::hold does), the
    /// same as a Vec; no chunk ever grows past its size (which would move its slots).
    #[test]
    fn chunked_slots_behave_as_a_vec() {
        let (mut slots, mut v) = (Chunked::default(), vec![]);
        let mut vacant = vec![];
        let mut seed: u64 = 11; // an LCG, seeded
        for n in 0..(3 * CHUNK + 17) {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            match seed >> 61 {
                0 if !v.is_empty() => {
                    let i = (seed as usize >> 8) % v.len();
                    slots[i] = String::new(); // let go
                    v[i] = String::new();
                    vacant.push(i);
                }
                1 if !vacant.is_empty() => {
                    let i = vacant.pop().unwrap();
                    slots[i] = format!("again {n}");
                    v[i] = format!("again {n}");
                }
                _ => {
                    slots.push(format!("c-{n}"));
                    v.push(format!("c-{n}"));
                }
            }
            assert_eq!(slots.len(), v.len());
        }
        assert!(slots.len() > 2 * CHUNK, "the test crosses chunk borders");
        for (i, x) in v.iter().enumerate() {
            assert_eq!(&slots[i], x, "slot {i}");
        }
        assert!(slots.iter().eq(v.iter()));
        assert!((&slots).into_iter().eq(v.iter()));
        let (chunks, _) = slots.allocations();
        let chunks: Vec<usize> = chunks.collect();
        assert_eq!(chunks.len(), v.len().div_ceil(CHUNK));
        assert!(chunks.iter().all(|&n| n == CHUNK * size_of::<String>() && n > CHUNK_BYTES - size_of::<String>()), "{chunks:?}");
    }

    #[test]
    #[should_panic]
    fn a_slot_past_the_end_is_out_of_bounds() {
        let mut slots = Chunked::default();
        slots.push(1u8);
        let _ = slots[1];
    }
}

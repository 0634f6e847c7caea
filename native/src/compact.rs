//! The compact forms of what the projector keeps per contract: ids inline, words of a closed
//! vocabulary as numbers, fact lists one pointer wide and grown without slack.

/// An id (of an event, contract, freelancer or client): up to 15 bytes inline, without a heap
/// allocation of its own.
pub type Id = ecow::EcoString;

/// A fact list: one pointer in the contract, nothing on the heap while empty.
pub type List<T> = thin_vec::ThinVec<T>;

/// A word of a closed vocabulary (reputation/events.py's Literals) as a number, in 4 bytes (an
/// enum of a number or a boxed text: 16): 1 + its index in WORDS, or past them any other text (a
/// state this build did not write) kept once for the process in OTHER.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Word(std::num::NonZeroU32);

/// The other words met, each kept once (a handful at most: events hold only known words).
static OTHER: std::sync::RwLock<Vec<&'static str>> = std::sync::RwLock::new(vec![]);

const WORDS: [&str; 19] = [
    "",
    "client",
    "freelancer",
    "platform",
    "fixed",
    "hourly",
    "completed_successfully",
    "no_longer_needed",
    "freelancer_unresponsive",
    "freelancer_lacked_skills",
    "completed_unsuccessfully",
    "hired_someone_else",
    "client_unresponsive",
    "other",
    "policy_violation",
    "dispute_upheld",
    "top_rated_perk",
    "jss_only",
    "jss_and_profile",
];

impl Word {
    fn of(i: usize) -> Word {
        Word(std::num::NonZeroU32::new(u32::try_from(i + 1).expect("fewer than 2^32 words")).unwrap())
    }
    pub fn new(s: &str) -> Word {
        if let Some(i) = WORDS.iter().position(|w| *w == s) {
            return Word::of(i);
        }
        let known = OTHER.read().unwrap().iter().position(|w| *w == s);
        let i = known.unwrap_or_else(|| {
            let mut other = OTHER.write().unwrap();
            other.iter().position(|w| *w == s).unwrap_or_else(|| {
                other.push(Box::leak(s.into()));
                other.len() - 1
            })
        });
        Word::of(WORDS.len() + i)
    }
    pub fn as_str(&self) -> &'static str {
        let i = self.0.get() as usize - 1;
        match WORDS.get(i) {
            Some(w) => w,
            None => OTHER.read().unwrap()[i - WORDS.len()],
        }
    }
    /// One of WORDS (not kept in OTHER).
    pub fn is_known(&self) -> bool {
        (self.0.get() as usize) <= WORDS.len()
    }
}

impl Default for Word {
    fn default() -> Word {
        Word::of(0) // ""
    }
}

impl std::ops::Deref for Word {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<&str> for Word {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// tally::scaled_stars of a contract's stars (a decimal's text: too slow to redo at each view),
/// in 8 bytes: twice the number plus its flag. Stars of 1 to 5 scale to 5 x 10^16 at most; a
/// number that does not fit (stars past 460) is worked out again when asked for.
#[derive(Clone, Copy)]
pub struct Scaled(i64);

const AGAIN: i64 = i64::MIN;

impl Scaled {
    pub fn of(stars: f64) -> Scaled {
        let (n, beyond6) = crate::tally::scaled_stars(stars);
        let packed = n.checked_mul(2).map(|n| n + i128::from(beyond6)).and_then(|n| i64::try_from(n).ok());
        Scaled(packed.filter(|&n| n != AGAIN).unwrap_or(AGAIN))
    }
    /// `stars`: those it was made of.
    pub fn get(&self, stars: f64) -> (i128, bool) {
        if self.0 == AGAIN {
            return crate::tally::scaled_stars(stars);
        }
        (i128::from(self.0.div_euclid(2)), self.0.rem_euclid(2) == 1)
    }
}

/// What to reserve (exactly) before adding to a list of `len`: room for one while it is short,
/// so that it keeps no slack past mimalloc's size class (most contracts keep one or two facts
/// of a kind; a Vec's first push makes room for four), and still grows in amortized constant
/// time (mimalloc's classes step by a fifth at most, and a realloc within one stays in place);
/// a long one doubles (past mimalloc's largest class each realloc would copy).
fn room(len: usize) -> usize {
    if len < 256 {
        1
    } else {
        len
    }
}

pub fn push<T>(v: &mut List<T>, x: T) {
    v.reserve_exact(room(v.len()));
    v.push(x);
}

/// Vec::insert, grown as `push` grows a list.
pub fn insert<T>(v: &mut Vec<T>, i: usize, x: T) {
    v.reserve_exact(room(v.len()));
    v.insert(i, x);
}

/// Vec::push, grown as `push` grows a list.
pub fn push_vec<T>(v: &mut Vec<T>, x: T) {
    insert(v, v.len(), x);
}

#[cfg(test)]
mod tests {
    use super::Scaled;
    use crate::tally::scaled_stars;

    /// Stars of every kind come back scaled as scaled_stars has them: a few decimals, many,
    /// negative ones and ones too large for the 8 bytes (worked out again).
    #[test]
    fn scaled_stars_keep_their_value_in_8_bytes() {
        assert_eq!(std::mem::size_of::<Scaled>(), 8);
        assert!(Scaled::of(500.1234567).0 == super::AGAIN, "a number past 8 bytes is worked out again");
        let mut seed: u64 = 3; // an LCG, seeded
        let mut all = vec![1.0, 5.0, 4.25, 4.123456, 4.1234567, 0.1 + 0.2, -3.5, -0.000_000_1, 460.0, 461.5, 500.1234567, -500.1234567];
        for _ in 0..5000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            all.push(1.0 + (seed >> 11) as f64 / (1u64 << 53) as f64 * 4.0);
            all.push(((seed >> 40) % 4001) as f64 / 1000.0 + 1.0);
        }
        for s in all {
            assert_eq!(Scaled::of(s).get(s), scaled_stars(s), "{s}");
        }
    }
}

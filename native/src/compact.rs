//! The compact forms of what the projector keeps per contract: ids inline, words of a closed
//! vocabulary as numbers, fact lists one pointer wide and grown without slack.

/// An id (of an event, contract, freelancer or client): up to 15 bytes inline, without a heap
/// allocation of its own.
pub type Id = ecow::EcoString;

/// A fact list: one pointer in the contract, nothing on the heap while empty.
pub type List<T> = thin_vec::ThinVec<T>;

/// A word of a closed vocabulary (reputation/events.py's Literals): a known word as its number,
/// any other text (a state this build did not write) kept as it is.
#[derive(Clone, PartialEq, Eq)]
pub enum Word {
    Known(std::num::NonZeroU8),
    Other(Box<str>),
}

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
    pub fn new(s: &str) -> Word {
        match WORDS[1..].iter().position(|w| *w == s) {
            Some(i) => Word::Known(std::num::NonZeroU8::new(i as u8 + 1).unwrap()),
            None => Word::Other(s.into()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Word::Known(i) => WORDS[usize::from(i.get())],
            Word::Other(s) => s,
        }
    }
}

impl Default for Word {
    fn default() -> Word {
        Word::Other("".into())
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

/// tally::scaled_stars of a contract's stars, kept in two halves (an i128 would align the
/// whole fact to 16 bytes).
#[derive(Clone, Copy)]
pub struct Scaled {
    halves: [u64; 2],
    beyond6: bool,
}

impl Scaled {
    pub fn of(stars: f64) -> Scaled {
        let (n, beyond6) = crate::tally::scaled_stars(stars);
        Scaled { halves: [n as u64, (n >> 64) as u64], beyond6 }
    }
    pub fn get(&self) -> (i128, bool) {
        ((i128::from(self.halves[1] as i64) << 64) | i128::from(self.halves[0]), self.beyond6)
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

//! The hash chain's links (reputation/store/chain.py `hashes`, the reference): h_n =
//! SHA-256(h_p || n as 8 bytes big-endian || the stored event bytes), each following the one
//! before it. Ingest hashes every event it writes.

use sha2::{Digest, Sha256};

/// The hash of each (position, stored bytes) following `previous`, concatenated.
pub fn hashes<'a>(previous: [u8; 32], rows: impl Iterator<Item = (i64, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 * rows.size_hint().0);
    let mut h = previous;
    for (position, state) in rows {
        let mut sha = Sha256::new();
        sha.update(h);
        sha.update(position.to_be_bytes());
        sha.update(state);
        h = sha.finalize().into();
        out.extend_from_slice(&h);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_link_follows_the_one_before() {
        // h1 = SHA-256(32 zero bytes || 1 || "a"); h2 from h1: the second depends on the first
        let two = hashes([0; 32], [(1, &b"a"[..]), (2, &b"b"[..])].into_iter());
        let one = hashes([0; 32], [(1, &b"a"[..])].into_iter());
        assert_eq!(&two[..32], &one[..]);
        let mut h1 = [0u8; 32];
        h1.copy_from_slice(&one);
        assert_eq!(&two[32..], &hashes(h1, [(2, &b"b"[..])].into_iter())[..]);
        let mut sha = Sha256::new();
        sha.update([0u8; 32]);
        sha.update(1i64.to_be_bytes());
        sha.update(b"a");
        assert_eq!(&one[..], &sha.finalize()[..]);
    }
}

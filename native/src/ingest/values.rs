//! Field values of an event line as reputation/values.py and events.py take them: timestamps,
//! money, stars (exactly, or not sure: None), and JSON text as msgspec writes it.

use blake2::digest::consts::U16;
use blake2::{Blake2b, Digest};

use crate::time::{days_from_civil, DAY, MICROS};

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() {
        return None;
    }
    b.iter().try_fold(0i64, |v, &c| c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0')))
}

/// RFC 3339 text as events.py's pattern and Python's calendar take it -> microseconds, only
/// for instants whose canonical text is in years 1..8999 (the supported range).
pub fn timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, s) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if y < 1 || !(1..=12).contains(&mo) || d < 1 || d > dim[mo as usize - 1] || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut i = 19;
    let mut us = 0;
    if b[i] == b'.' {
        let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=6).contains(&n) {
            return None;
        }
        us = digits(&b[i + 1..i + 1 + n])? * 10i64.pow(6 - n as u32);
        i += 1 + n;
    }
    let offset = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (oh, om) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            if *sign == b'-' {
                -(oh * 60 + om)
            } else {
                oh * 60 + om
            }
        }
        _ => return None,
    };
    let micros = (days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset * 60) * MICROS + us;
    // canonical text in years 1..8999: from 0001-01-01 up to (not including) 9000-01-01
    let (lo, hi) = (days_from_civil(1, 1, 1) * DAY, days_from_civil(9000, 1, 1) * DAY);
    (lo..hi).contains(&micros).then_some(micros)
}

/// Money as events.py takes it: a JSON number or string of digits with an optional fraction,
/// at most 2 decimals, positive, at most 1e9 -> cents. Exponents and signs: not sure.
pub fn money(raw: &str) -> Option<i64> {
    let text = match raw.strip_prefix('"') {
        Some(s) => s.strip_suffix('"')?,
        None => raw,
    };
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || (text.len() > whole.len() && frac.is_empty()) {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if whole.len() > 10 || frac.len() > 2 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let w = if whole.is_empty() { 0 } else { digits(whole.as_bytes())? };
    let f = if frac.is_empty() { 0 } else { digits(frac.as_bytes())? * if frac.len() == 1 { 10 } else { 1 } };
    let cents = w * 100 + f;
    (cents > 0 && cents <= 100_000_000_000).then_some(cents)
}

/// The decimal digits of a plain number text, without leading or trailing zeros around the point.
fn normal(text: &str) -> String {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let (whole, frac) = (whole.trim_start_matches('0'), frac.trim_end_matches('0'));
    format!("{whole}.{frac}")
}

/// Stars: a plain JSON number 1..5 whose float holds exactly the decimal sent.
pub fn stars(raw: &str) -> Option<f64> {
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, "0"));
    if whole.is_empty() || frac.is_empty() || !whole.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: f64 = raw.parse().ok()?;
    if !(1.0..=5.0).contains(&v) {
        return None;
    }
    let mut buf = ryu::Buffer::new();
    (normal(buf.format_finite(v)) == normal(raw)).then_some(v)
}

pub fn digest(canonical: &[u8]) -> [u8; 16] {
    Blake2b::<U16>::digest(canonical).into()
}

/// JSON string as msgspec writes it: `"` `\` and control characters escaped, all else as is.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

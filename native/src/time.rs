//! Valid time: integer microseconds since the epoch (UTC), as reputation/events.py.

pub const MICROS: i64 = 1_000_000;
pub const DAY: i64 = 86_400 * MICROS;
pub const INF: i64 = 1 << 62;
pub const FEEDBACK_WINDOW: i64 = 14 * DAY;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn num(s: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(b - b'0');
    }
    Some(v)
}

/// RFC 3339 text (with an offset, at most microseconds) -> microseconds.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let bad = || format!("timestamp {text:?} is not RFC 3339 with an offset");
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let (y, mo, d) = (num(&b[0..4]).ok_or_else(bad)?, num(&b[5..7]).ok_or_else(bad)?, num(&b[8..10]).ok_or_else(bad)?);
    let (h, mi, s) = (num(&b[11..13]).ok_or_else(bad)?, num(&b[14..16]).ok_or_else(bad)?, num(&b[17..19]).ok_or_else(bad)?);
    let mut i = 19;
    let mut us = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &b[start..i];
        if digits.is_empty() || digits.len() > 6 {
            return Err(bad());
        }
        us = num(digits).ok_or_else(bad)? * 10i64.pow(6 - digits.len() as u32);
    }
    let offset = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), hh @ .., b':', m1, m2] if hh.len() == 2 => {
            let v = num(hh).ok_or_else(bad)? * 60 + num(&[*m1, *m2]).ok_or_else(bad)?;
            if *sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(y, mo, d);
    Ok(((days * 86_400 + h * 3600 + mi * 60 + s - offset * 60) * MICROS) + us)
}

/// Microseconds -> canonical UTC text (`...Z`, microseconds only when not zero).
pub fn format_time(micros: i64) -> String {
    let mut out = String::with_capacity(27);
    write_time(&mut out, micros);
    out
}

pub fn write_time(out: &mut String, micros: i64) {
    use std::fmt::Write;
    let secs = micros.div_euclid(MICROS);
    let us = micros.rem_euclid(MICROS);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let _ = write!(out, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, sod / 3600, sod / 60 % 60, sod % 60);
    if us != 0 {
        let _ = write!(out, ".{us:06}Z");
    } else {
        out.push('Z');
    }
}

/// The same day and time `months` calendar months later, the day clamped to the month's end.
pub fn add_months(t: i64, months: i64) -> i64 {
    let days = t.div_euclid(DAY);
    let (y, mo, d) = civil_from_days(days);
    let m = mo - 1 + months;
    let (year, month) = (y + m.div_euclid(12), m.rem_euclid(12) + 1);
    let day = d.min(days_in_month(year, month));
    t + (days_from_civil(year, month, day) - days) * DAY
}

/// projections/publication.py Policy.published_at: the latest publication instant (00:00 UTC
/// on one of `days`, sorted, each 1..=28) at or before `t`.
pub fn published_at(days: &[i64], t: i64) -> i64 {
    if t >= INF || t <= -INF || days.is_empty() {
        return t;
    }
    // the Top Rated weeks of every freelancer ask for the same Mondays: remember the answers
    // (direct-mapped by day; `days` are 1-28, a bit each)
    thread_local! {
        static MEMO: std::cell::RefCell<Vec<(i64, u64, i64)>> = std::cell::RefCell::new(vec![(i64::MIN, 0, 0); 1024]);
    }
    let mask = days.iter().fold(0u64, |m, &d| m | 1 << (d & 63));
    let slot = t.div_euclid(DAY).rem_euclid(1024) as usize;
    if let Some(p) = MEMO.with(|m| {
        let (at, k, p) = m.borrow()[slot];
        (at == t && k == mask).then_some(p)
    }) {
        return p;
    }
    let p = published_at_uncached(days, t);
    MEMO.with(|m| m.borrow_mut()[slot] = (t, mask, p));
    p
}

fn published_at_uncached(days: &[i64], t: i64) -> i64 {
    let today = t.div_euclid(DAY);
    let (mut y, mut m, d) = civil_from_days(today);
    let mut first = today - (d - 1); // the month's first day; days_from_civil is linear in the day
    loop {
        for &d in days.iter().rev() {
            let p = (first + d - 1) * DAY;
            if p <= t {
                return p;
            }
        }
        (y, m) = if m > 1 { (y, m - 1) } else { (y - 1, 12) };
        first = days_from_civil(y, m, 1);
    }
}

/// add_months(closed_at, N) + 1 day: the first instant a contract is out of the window.
pub fn window_exit(closed_at: i64, months: i64) -> i64 {
    add_months(closed_at, months) + DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_publications_are_the_computed_ones() {
        // the same instants under other days, and instants 1024 days apart (one memo slot)
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15; // xorshift, fixed seed
        let sets: [&[i64]; 3] = [&[1, 15], &[28], &[1, 8, 15, 22]];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = 1_500_000_000_000_000 + (x % 300_000_000_000_000) as i64;
            for t in [t, t + 1024 * DAY, t] {
                for days in sets {
                    assert_eq!(published_at(days, t), published_at_uncached(days, t), "{t} {days:?}");
                }
            }
        }
    }

    #[test]
    fn round_trips() {
        for t in ["1970-01-01T00:00:00Z", "2024-02-29T23:59:59.000001Z", "1969-12-31T23:59:59.5Z", "2020-03-01T00:00:00Z"] {
            let us = parse_time(t).unwrap();
            let again = parse_time(&format_time(us)).unwrap();
            assert_eq!(us, again, "{t}");
        }
        assert_eq!(format_time(parse_time("1969-12-31T23:59:59.5Z").unwrap()), "1969-12-31T23:59:59.500000Z");
        assert_eq!(parse_time("2020-01-01T01:00:00+01:00").unwrap(), parse_time("2020-01-01T00:00:00Z").unwrap());
    }

    #[test]
    fn window_exit_clamps_the_day() {
        let t = parse_time("2023-08-31T10:00:00Z").unwrap();
        assert_eq!(format_time(window_exit(t, 6)), "2024-03-01T10:00:00Z"); // Feb 29 + 1 day
        assert_eq!(format_time(window_exit(t, 12)), "2024-09-01T10:00:00Z");
    }
}

//! rules.jss and rules.feedback_score: the window tallies (integers, weights in quarters)
//! and the earnings-weighted feedback score, exact.

use crate::model::Contract;
use crate::ratio::{half_up, Ratio};
use crate::rules::{Assessment, Outcome, RuleSet, View};

/// The earnings-weighted sum of revealed client stars: stars x 10^6 x cents while stars have
/// at most 6 decimals, else (exactly) stars x 10^16 x cents in `exact`.
#[derive(Clone, Copy, Default)]
pub struct FbSum {
    pub num: i128,
    pub den: i128,
    pub exact: Option<i128>,
}

impl FbSum {
    pub fn add(&mut self, c: &Contract, v: &View, at: i64) {
        if v.client_stars.is_none() {
            return;
        }
        if v.earnings < 100 || !v.revealed_client(at) {
            return;
        }
        if v.client_removed.is_some_and(|i| c.removals[i].scope == "jss_and_profile") {
            return;
        }
        let e = i128::from(v.earnings);
        match v.client_scaled {
            (s, false) => self.num += s * e,
            (s, true) => *self.exact.get_or_insert(0) += s.checked_mul(e).expect("feedback sum out of range"),
        }
        self.den += e;
    }
    pub fn merge(&mut self, o: &FbSum) {
        self.num += o.num;
        self.den += o.den;
        if let Some(x) = o.exact {
            *self.exact.get_or_insert(0) += x;
        }
    }
    pub fn value(&self) -> Option<Ratio> {
        if self.den == 0 {
            return None;
        }
        Some(match self.exact {
            None => Ratio::new(self.num, 1_000_000 * self.den),
            Some(x) => Ratio::new(self.num * 10_000_000_000 + x, 10_000_000_000_000_000 * self.den),
        })
    }
}

/// Stars as the decimal that was sent (its shortest repr) x 10^6, or x 10^16 (flag true)
/// beyond 6 decimals.
pub fn scaled_stars(stars: f64) -> (i128, bool) {
    let text = format!("{stars}");
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let digits = if frac.len() <= 6 { 6 } else { 16 };
    let scaled: i128 = format!("{whole}{frac:0<digits$}").parse().expect("stars are a decimal");
    (scaled, digits == 16)
}

pub struct Jss {
    pub shown: Option<i64>,
    pub exact: Option<Ratio>,
    pub window: Option<usize>,         // the best window (index into WINDOWS)
    pub tallies: [(i64, i64, i64); 3], // per window: contracts, 100 x max(net, 0), total weight
}

/// rules.jss: all windows in one pass, the best of the rule set's windows, visibility.
pub fn jss<C: std::ops::Index<usize, Output = Contract> + ?Sized>(
    contracts: &C,
    assessments: &[Assessment],
    at: i64,
    rules: &RuleSet,
) -> Jss {
    let mut t = [(0i64, 0i64, 0i64); 3]; // contracts, positive - negative, total (quarters)
    let mut clients: Vec<&str> = vec![]; // distinct, up to min_clients
    for a in assessments.iter().filter(|a| a.counted) {
        let w = a.weight4;
        let signed = match a.outcome {
            Some(Outcome::Positive) => w,
            Some(Outcome::Negative) => -w,
            _ => 0,
        };
        for i in 0..3 {
            if at < a.exits[i] {
                t[i].0 += 1;
                t[i].1 += signed;
                t[i].2 += w;
            }
        }
        if at < a.exits[2] {
            let k = contracts[a.ci].client.as_str();
            if clients.len() < rules.min_clients && !clients.contains(&k) {
                clients.push(k);
            }
        }
    }
    let mut best: Option<usize> = None;
    for &i in rules.windows {
        let (n, net, total) = t[i];
        let num = 100 * net.max(0);
        if n > 0 {
            let better = match best {
                None => true,
                Some(b) => i128::from(num) * i128::from(t[b].2) > i128::from(100 * t[b].1.max(0)) * i128::from(total),
            };
            if better {
                best = Some(i);
            }
        }
    }
    let visible = t[2].0 >= rules.min_contracts && clients.len() >= rules.min_clients;
    let exact = best.map(|b| Ratio::new(i128::from(100 * t[b].1.max(0)), i128::from(t[b].2)));
    let tallies = t.map(|(n, net, total)| (n, 100 * net.max(0), total));
    Jss { shown: exact.filter(|_| visible).map(|r| half_up(r.n, r.d)), exact, window: best, tallies }
}

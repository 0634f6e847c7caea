//! The score-change ledger entry as JSON, byte for byte as msgspec writes
//! projections.ledger.ScoreChange (floats as ryu's shortest form, `Cause` omitting Nones).

pub struct Cause {
    pub at: String,
    pub kind: &'static str,
    pub text: String,
    pub contract_id: Option<String>,
    pub client_id: Option<String>,
    pub event_id: Option<String>,
    pub jss_before: Option<f64>,
    pub jss_after: Option<f64>,
    pub jss_delta: Option<f64>,
    pub private: bool, // written only when true (msgspec omit_defaults)
}

pub struct ScoreChange {
    pub seq: i64,
    pub change_id: String,
    pub freelancer_id: String,
    pub rules: &'static str,
    pub effective_at: String,
    pub recorded_at: String,
    pub position: i64,
    pub jss_before: Option<i64>,
    pub jss_after: Option<i64>,
    pub jss_exact_before: Option<f64>,
    pub jss_exact_after: Option<f64>,
    pub feedback_before: Option<f64>,
    pub feedback_after: Option<f64>,
    pub causes: Vec<Cause>,
    pub top_rated_before: bool,
    pub top_rated_after: bool,
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend(b"\\\""),
            b'\\' => out.extend(b"\\\\"),
            b'\n' => out.extend(b"\\n"),
            b'\r' => out.extend(b"\\r"),
            b'\t' => out.extend(b"\\t"),
            0x08 => out.extend(b"\\b"),
            0x0c => out.extend(b"\\f"),
            0..=0x1f => out.extend(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn float(out: &mut Vec<u8>, x: Option<f64>) {
    match x {
        Some(x) if x.is_finite() => out.extend(ryu::Buffer::new().format_finite(x).as_bytes()),
        _ => out.extend(b"null"),
    }
}

fn int(out: &mut Vec<u8>, x: Option<i64>) {
    match x {
        Some(x) => out.extend(x.to_string().as_bytes()),
        None => out.extend(b"null"),
    }
}

fn opt_str(out: &mut Vec<u8>, x: Option<&str>) {
    match x {
        Some(s) => string(out, s),
        None => out.extend(b"null"),
    }
}

impl ScoreChange {
    pub fn to_json(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(512);
        o.extend(b"{\"seq\":");
        int(&mut o, Some(self.seq));
        o.extend(b",\"change_id\":");
        string(&mut o, &self.change_id);
        o.extend(b",\"freelancer_id\":");
        string(&mut o, &self.freelancer_id);
        o.extend(b",\"rules\":");
        string(&mut o, self.rules);
        o.extend(b",\"effective_at\":");
        string(&mut o, &self.effective_at);
        o.extend(b",\"recorded_at\":");
        string(&mut o, &self.recorded_at);
        o.extend(b",\"position\":");
        int(&mut o, Some(self.position));
        o.extend(b",\"jss_before\":");
        int(&mut o, self.jss_before);
        o.extend(b",\"jss_after\":");
        int(&mut o, self.jss_after);
        for (name, x) in [
            (&b",\"jss_exact_before\":"[..], self.jss_exact_before),
            (b",\"jss_exact_after\":", self.jss_exact_after),
            (b",\"feedback_before\":", self.feedback_before),
            (b",\"feedback_after\":", self.feedback_after),
        ] {
            o.extend(name);
            float(&mut o, x);
        }
        o.extend(b",\"causes\":[");
        for (i, c) in self.causes.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            o.extend(b"{\"at\":");
            string(&mut o, &c.at);
            o.extend(b",\"kind\":");
            string(&mut o, c.kind);
            o.extend(b",\"text\":");
            string(&mut o, &c.text);
            for (name, x) in
                [(&b",\"contract_id\":"[..], &c.contract_id), (b",\"client_id\":", &c.client_id), (b",\"event_id\":", &c.event_id)]
            {
                if x.is_some() {
                    o.extend(name);
                    opt_str(&mut o, x.as_deref());
                }
            }
            for (name, x) in
                [(&b",\"jss_before\":"[..], c.jss_before), (b",\"jss_after\":", c.jss_after), (b",\"jss_delta\":", c.jss_delta)]
            {
                if x.is_some() {
                    o.extend(name);
                    float(&mut o, x);
                }
            }
            if c.private {
                o.extend(b",\"private\":true");
            }
            o.push(b'}');
        }
        o.extend(if self.top_rated_before { &b"],\"top_rated_before\":true"[..] } else { b"],\"top_rated_before\":false" });
        o.extend(if self.top_rated_after { &b",\"top_rated_after\":true}"[..] } else { b",\"top_rated_after\":false}" });
        o
    }
}

//! The MessagePack subset msgspec writes for the projection state, byte for byte
//! (smallest int and str headers, every float as float64), and a reader for it.

pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn int(&mut self, x: i64) {
        let o = &mut self.0;
        if x >= 0 {
            if x < 128 {
                o.push(x as u8);
            } else if x <= 0xff {
                o.extend([0xcc, x as u8]);
            } else if x <= 0xffff {
                o.push(0xcd);
                o.extend((x as u16).to_be_bytes());
            } else if x <= 0xffff_ffff {
                o.push(0xce);
                o.extend((x as u32).to_be_bytes());
            } else {
                o.push(0xcf);
                o.extend((x as u64).to_be_bytes());
            }
        } else if x >= -32 {
            o.push(x as i8 as u8);
        } else if x >= -128 {
            o.extend([0xd0, x as i8 as u8]);
        } else if x >= -32768 {
            o.push(0xd1);
            o.extend((x as i16).to_be_bytes());
        } else if x >= -(1 << 31) {
            o.push(0xd2);
            o.extend((x as i32).to_be_bytes());
        } else {
            o.push(0xd3);
            o.extend(x.to_be_bytes());
        }
    }
    pub fn float(&mut self, x: f64) {
        self.0.push(0xcb);
        self.0.extend(x.to_bits().to_be_bytes());
    }
    pub fn nil(&mut self) {
        self.0.push(0xc0);
    }
    pub fn bool(&mut self, b: bool) {
        self.0.push(if b { 0xc3 } else { 0xc2 });
    }
    pub fn str(&mut self, s: &str) {
        let n = s.len();
        self.header(n, 0xa0, 32, [0xd9, 0xda, 0xdb]);
        self.0.extend(s.as_bytes());
    }
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.nil(),
        }
    }
    pub fn opt_int(&mut self, x: Option<i64>) {
        match x {
            Some(x) => self.int(x),
            None => self.nil(),
        }
    }
    pub fn array(&mut self, n: usize) {
        self.header(n, 0x90, 16, [0, 0xdc, 0xdd]);
    }
    /// A client's flags, [[at, position, flagged], ...], as both the projection's and the write
    /// side's client state keep them.
    pub fn flags(&mut self, flags: &[(i64, i64, bool)]) {
        self.array(flags.len());
        for &(at, pos, flagged) in flags {
            self.array(3);
            self.int(at);
            self.int(pos);
            self.bool(flagged);
        }
    }
    pub fn map(&mut self, n: usize) {
        self.header(n, 0x80, 16, [0, 0xde, 0xdf]);
    }
    fn header(&mut self, n: usize, fix: u8, fix_len: usize, big: [u8; 3]) {
        let o = &mut self.0;
        if n < fix_len {
            o.push(fix | n as u8);
        } else if n < 256 && big[0] != 0 {
            o.extend([big[0], n as u8]);
        } else if n < 65536 {
            o.push(big[1]);
            o.extend((n as u16).to_be_bytes());
        } else {
            o.push(big[2]);
            o.extend((n as u32).to_be_bytes());
        }
    }
}

pub struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

pub type R<T> = Result<T, String>;

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, at: 0 }
    }
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.at + n;
        if end > self.data.len() {
            return Err("truncated msgpack state".into());
        }
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn byte(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }
    fn peek(&self) -> R<u8> {
        self.data.get(self.at).copied().ok_or_else(|| "truncated msgpack state".into())
    }
    fn be(&mut self, n: usize) -> R<u64> {
        Ok(self.take(n)?.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)))
    }
    pub fn is_nil(&mut self) -> R<bool> {
        if self.peek()? == 0xc0 {
            self.at += 1;
            return Ok(true);
        }
        Ok(false)
    }
    pub fn int(&mut self) -> R<i64> {
        let b = self.byte()?;
        Ok(match b {
            0x00..=0x7f => i64::from(b),
            0xe0..=0xff => i64::from(b as i8),
            0xcc => self.be(1)? as i64,
            0xcd => self.be(2)? as i64,
            0xce => self.be(4)? as i64,
            0xcf => self.be(8)? as i64,
            0xd0 => i64::from(self.be(1)? as u8 as i8),
            0xd1 => i64::from(self.be(2)? as u16 as i16),
            0xd2 => i64::from(self.be(4)? as u32 as i32),
            0xd3 => self.be(8)? as i64,
            _ => return Err(format!("msgpack state: expected an int, found 0x{b:02x}")),
        })
    }
    pub fn float(&mut self) -> R<f64> {
        match self.peek()? {
            0xcb => {
                self.at += 1;
                Ok(f64::from_bits(self.be(8)?))
            }
            0xca => {
                self.at += 1;
                Ok(f64::from(f32::from_bits(self.be(4)? as u32)))
            }
            _ => Ok(self.int()? as f64),
        }
    }
    pub fn bool(&mut self) -> R<bool> {
        match self.byte()? {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            b => Err(format!("msgpack state: expected a bool, found 0x{b:02x}")),
        }
    }
    /// A str, borrowed from the data.
    pub fn text(&mut self) -> R<&'a str> {
        let b = self.byte()?;
        let n = match b {
            0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return Err(format!("msgpack state: expected a str, found 0x{b:02x}")),
        };
        std::str::from_utf8(self.take(n)?).map_err(|e| e.to_string())
    }
    pub fn str(&mut self) -> R<String> {
        self.text().map(str::to_string)
    }
    pub fn opt_str(&mut self) -> R<Option<String>> {
        Ok(if self.is_nil()? { None } else { Some(self.str()?) })
    }
    pub fn opt_int(&mut self) -> R<Option<i64>> {
        Ok(if self.is_nil()? { None } else { Some(self.int()?) })
    }
    pub fn opt_float(&mut self) -> R<Option<f64>> {
        Ok(if self.is_nil()? { None } else { Some(self.float()?) })
    }
    pub fn array(&mut self) -> R<usize> {
        let b = self.byte()?;
        Ok(match b {
            0x90..=0x9f => usize::from(b & 0x0f),
            0xdc => self.be(2)? as usize,
            0xdd => self.be(4)? as usize,
            _ => return Err(format!("msgpack state: expected an array, found 0x{b:02x}")),
        })
    }
    pub fn map(&mut self) -> R<usize> {
        let b = self.byte()?;
        Ok(match b {
            0x80..=0x8f => usize::from(b & 0x0f),
            0xde => self.be(2)? as usize,
            0xdf => self.be(4)? as usize,
            _ => return Err(format!("msgpack state: expected a map, found 0x{b:02x}")),
        })
    }
    /// Exactly as long as it is (collecting a Result makes room for four at the first item);
    /// each item takes a byte at least, so a corrupt length cannot reserve more than the data.
    pub fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> R<T>) -> R<Vec<T>> {
        let n = self.array()?;
        let mut out = Vec::with_capacity(n.min(self.data.len() - self.at));
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }
}

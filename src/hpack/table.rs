//! The HPACK header tables (RFC 7541 section 2.3): the static table, and the dynamic table with
//! its size accounting (32 + name + value per entry) and eviction. Entries of the dynamic table
//! also carry lua-http's ids: the n-th entry ever added has id n, so the newest entry has the
//! largest id and index 62.
use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;

/// RFC 7541 Appendix A.
pub const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];
const FIRST_DYNAMIC: usize = STATIC.len() + 1;
/// What RFC 7541 section 4.1 adds to each entry's name and value for its size.
const ENTRY_OVERHEAD: usize = 32;

/// Index of the first static entry named `name`.
fn static_name(name: &[u8]) -> Option<usize> {
    static NAMES: OnceLock<HashMap<&'static [u8], usize>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let mut m = HashMap::with_capacity(STATIC.len());
        for (i, (n, _)) in STATIC.iter().enumerate().rev() {
            m.insert(*n, i + 1);
        }
        m
    });
    names.get(name).copied()
}

/// lua-http's compound key of a header pair: name and value each preceded by its length as 4
/// little-endian bytes, as Lua 5.3's string.pack("<s4s4", name, value).
pub fn compound_key(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(8 + name.len() + value.len());
    for s in [name, value] {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s);
    }
}

/// The name and value in a compound key, if it is one.
pub fn split_key(k: &[u8]) -> Option<(&[u8], &[u8])> {
    let take = |b: &[u8]| -> Option<(usize, usize)> {
        let len = u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as usize;
        (b.len() >= 4 + len).then_some((4, 4 + len))
    };
    let (a, b) = take(k)?;
    let rest = &k[b..];
    let (c, d) = take(rest)?;
    (d == rest.len()).then_some((&k[a..b], &rest[c..d]))
}

pub struct Entry {
    /// The compound key: holds the name and the value.
    key: Box<[u8]>,
    name_len: usize,
}

impl Entry {
    pub fn name(&self) -> &[u8] {
        &self.key[4..4 + self.name_len]
    }
    pub fn value(&self) -> &[u8] {
        &self.key[8 + self.name_len..]
    }
    pub fn size(&self) -> usize {
        ENTRY_OVERHEAD + self.key.len() - 8
    }
}

pub struct DynamicTable {
    /// Oldest first.
    entries: VecDeque<Entry>,
    size: usize,
    max: usize,
    /// Id of entries[0] (ids start at 1).
    first_id: u64,
    /// Compound key, and name, to the id of the newest entry that has it.
    pairs: HashMap<Box<[u8]>, u64>,
    names: HashMap<Box<[u8]>, u64>,
}

impl DynamicTable {
    pub fn new(max: usize) -> Self {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            max,
            first_id: 1,
            pairs: HashMap::new(),
            names: HashMap::new(),
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Id of the newest entry (0 before anything was added).
    fn newest_id(&self) -> u64 {
        self.first_id + self.entries.len() as u64 - 1
    }

    /// The (combined, 1-based) index of the entry with `id`; lua-http computes it for any id.
    pub fn id_to_index(&self, id: i64) -> i64 {
        FIRST_DYNAMIC as i64 + (self.newest_id() as i64).wrapping_sub(id)
    }

    fn index_of(&self, id: u64) -> usize {
        FIRST_DYNAMIC + (self.newest_id() - id) as usize
    }

    /// Entries newest first, as numbered by indexes 62, 63, ...
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().rev()
    }

    /// Drop the oldest entry; false if the table is empty.
    pub fn evict(&mut self) -> bool {
        let Some(e) = self.entries.pop_front() else { return false };
        let id = self.first_id;
        self.first_id += 1;
        self.size -= e.size();
        if self.pairs.get(&e.key[..]) == Some(&id) {
            self.pairs.remove(&e.key[..]);
        }
        if self.names.get(e.name()) == Some(&id) {
            self.names.remove(e.name());
        }
        true
    }

    /// Set the maximum size, evicting entries until they fit.
    pub fn resize(&mut self, max: usize) {
        self.max = max;
        while self.size > self.max && self.evict() {}
    }

    /// Add an entry (RFC 7541 section 4.4): evicts old entries to make room; an entry larger
    /// than the maximum size empties the table and is not added. Returns whether it was added.
    pub fn add(&mut self, name: &[u8], value: &[u8]) -> bool {
        let size = ENTRY_OVERHEAD + name.len() + value.len();
        while self.size + size > self.max && self.evict() {}
        if size > self.max {
            return false;
        }
        let mut key = Vec::new();
        compound_key(name, value, &mut key);
        let key: Box<[u8]> = key.into_boxed_slice();
        let id = self.newest_id() + 1;
        self.pairs.insert(key.clone(), id);
        self.names.insert(name.into(), id);
        self.entries.push_back(Entry { key, name_len: name.len() });
        self.size += size;
        true
    }

    /// The entry at combined index `index` (62 is the newest).
    fn get(&self, index: usize) -> Option<&Entry> {
        let pos = index.checked_sub(FIRST_DYNAMIC)?;
        self.entries.len().checked_sub(pos + 1).and_then(|i| self.entries.get(i))
    }
}

/// Both tables, addressed by combined index: 1..=61 static, 62.. dynamic.
pub struct Tables {
    pub dynamic: DynamicTable,
    scratch: Vec<u8>,
}

impl Tables {
    pub fn new(max: usize) -> Self {
        Tables { dynamic: DynamicTable::new(max), scratch: Vec::new() }
    }

    pub fn get(&self, index: usize) -> Option<(&[u8], &[u8])> {
        match index {
            1..=61 => Some(STATIC[index - 1]),
            _ => self.dynamic.get(index).map(|e| (e.name(), e.value())),
        }
    }

    /// Index of the entry with this name and value (static table first, then the newest).
    pub fn find_pair(&mut self, name: &[u8], value: &[u8]) -> Option<usize> {
        if let Some(first) = static_name(name) {
            let same = STATIC[first - 1..].iter().take_while(|(n, _)| *n == name);
            if let Some(i) = same.clone().position(|(_, v)| *v == value) {
                return Some(first + i);
            }
        }
        compound_key(name, value, &mut self.scratch);
        let id = *self.dynamic.pairs.get(&self.scratch[..])?;
        Some(self.dynamic.index_of(id))
    }

    /// Index of an entry with this name (static table first, then the newest).
    pub fn find_name(&self, name: &[u8]) -> Option<usize> {
        static_name(name).or_else(|| self.dynamic.names.get(name).map(|&id| self.dynamic.index_of(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let mut k = Vec::new();
        compound_key(b"a", b"bc", &mut k);
        assert_eq!(k, b"\x01\0\0\0a\x02\0\0\0bc");
        assert_eq!(split_key(&k), Some((&b"a"[..], &b"bc"[..])));
        assert_eq!(split_key(&k[..k.len() - 1]), None);
        assert_eq!(split_key(b""), None);
    }

    #[test]
    fn eviction_and_lookup() {
        let mut t = Tables::new(100);
        assert!(t.dynamic.add(b"a", b"b"));
        assert!(t.dynamic.add(b"a", b"c"));
        assert_eq!(t.dynamic.size(), 68);
        assert_eq!(t.find_pair(b"a", b"b"), Some(63));
        assert_eq!(t.find_name(b"a"), Some(62));
        assert_eq!(t.find_pair(b":method", b"POST"), Some(3));
        assert_eq!(t.find_name(b":status"), Some(8));
        assert!(t.dynamic.add(b"d", b"e")); // evicts a: b
        assert_eq!(t.find_pair(b"a", b"b"), None);
        assert_eq!(t.get(63), Some((&b"a"[..], &b"c"[..])));
        assert_eq!(t.get(64), None);
        assert!(!t.dynamic.add(&[b'x'; 100], b""));
        assert_eq!(t.dynamic.size(), 0);
        assert_eq!(t.find_name(b"a"), None);
    }
}

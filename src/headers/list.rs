//! The headers list itself: an ordered multi-map of byte-string fields.
//!
//! All names and values live in one byte arena and each field is a few offsets, so appending
//! a field costs no allocation once the arena has grown, and lookups compare bytes in place.
//! Header lists are short (tens of fields), so lookups are linear scans.

#[derive(Clone, Copy)]
struct Field {
    name: u32,
    name_len: u32,
    value: u32,
    value_len: u32,
    never_index: bool,
}

/// An ordered list of header fields: name, value (both bytes, not necessarily UTF-8) and the
/// never_index flag (the field is sensitive and must not enter an HPACK table).
#[derive(Clone, Default)]
pub struct Headers {
    bytes: Vec<u8>,
    fields: Vec<Field>,
    /// Arena bytes no field refers to any more (deleted or replaced); compacted when large.
    garbage: usize,
}

/// never_index when the caller gives none: true for the fields that carry credentials.
pub fn default_never_index(name: &[u8]) -> bool {
    matches!(
        name,
        b"authorization" | b"proxy-authorization" | b"cookie" | b"set-cookie"
    )
}

/// The error of `Headers::upsert` when the name has several values.
#[derive(Debug, PartialEq, Eq)]
pub struct MultiValued;

/// The arena is indexed by u32 offsets; a list beyond 4 GiB is refused rather than corrupted.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

/// Storage of dropped lists, kept for the next ones: a request's headers are built on an I/O
/// thread and dropped on the Lua thread, and glibc's per-thread caches do not carry memory back
/// across threads (measured: ~600 instructions of malloc and free per list, against ~50 here).
static SPARE: std::sync::Mutex<Vec<(Vec<u8>, Vec<Field>)>> = std::sync::Mutex::new(Vec::new());
const SPARE_MAX: usize = 256;
/// Larger storage is given back to the allocator.
const SPARE_BYTES: usize = 4096;
const SPARE_FIELDS: usize = 64;

impl Drop for Headers {
    fn drop(&mut self) {
        let (mut bytes, mut fields) = (std::mem::take(&mut self.bytes), std::mem::take(&mut self.fields));
        if bytes.capacity() == 0 || bytes.capacity() > SPARE_BYTES || fields.capacity() > SPARE_FIELDS {
            return;
        }
        bytes.clear();
        fields.clear();
        if let Ok(mut spare) = SPARE.lock() {
            if spare.len() < SPARE_MAX {
                spare.push((bytes, fields));
            }
        }
    }
}

impl Headers {
    pub fn new() -> Self {
        let (bytes, fields) = SPARE.lock().ok().and_then(|mut s| s.pop()).unwrap_or_default();
        Headers { bytes, fields, garbage: 0 }
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    #[allow(dead_code)] // for the server, client and hpack modules
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Arena bytes; never panics (the offsets are always in range, but the Lua side relies on
    /// reads not panicking).
    fn slice(&self, at: u32, len: u32) -> &[u8] {
        self.bytes
            .get(at as usize..at as usize + len as usize)
            .unwrap_or_default()
    }

    fn name_of(&self, f: &Field) -> &[u8] {
        self.slice(f.name, f.name_len)
    }

    fn value_of(&self, f: &Field) -> &[u8] {
        self.slice(f.value, f.value_len)
    }

    fn store(&mut self, s: &[u8]) -> Result<(u32, u32), TooLarge> {
        let at = self.bytes.len();
        if at + s.len() > u32::MAX as usize {
            return Err(TooLarge);
        }
        if self.bytes.capacity() == 0 {
            self.bytes.reserve(512);
        }
        self.bytes.extend_from_slice(s);
        Ok((at as u32, s.len() as u32))
    }

    /// Append a field; `never_index: None` means `default_never_index(name)`.
    pub fn push(&mut self, name: &[u8], value: &[u8], never_index: Option<bool>) -> Result<(), TooLarge> {
        let (name_at, name_len) = self.store(name)?;
        let (value, value_len) = match self.store(value) {
            Ok(v) => v,
            Err(e) => {
                self.bytes.truncate(name_at as usize);
                return Err(e);
            }
        };
        if self.fields.capacity() == 0 {
            self.fields.reserve(16);
        }
        self.fields.push(Field {
            name: name_at,
            name_len,
            value,
            value_len,
            never_index: never_index.unwrap_or_else(|| default_never_index(name)),
        });
        Ok(())
    }

    /// The field at 0-based position `i`.
    pub fn field(&self, i: usize) -> Option<(&[u8], &[u8], bool)> {
        self.fields
            .get(i)
            .map(|f| (self.name_of(f), self.value_of(f), f.never_index))
    }

    /// All fields in order as (name, value, never_index).
    #[allow(dead_code)] // for the server, client and hpack modules
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8], bool)> + '_ {
        self.fields
            .iter()
            .map(|f| (self.name_of(f), self.value_of(f), f.never_index))
    }

    /// The values of every field called `name`, in order.
    #[allow(dead_code)] // for the server, client and hpack modules
    pub fn values<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |f| self.name_of(f) == name)
            .map(|f| self.value_of(f))
    }

    /// The position of the first field called `name` at or after `from`.
    pub fn find(&self, from: usize, name: &[u8]) -> Option<usize> {
        let rest = self.fields.get(from..)?;
        rest.iter()
            .position(|f| self.name_of(f) == name)
            .map(|i| from + i)
    }

    #[allow(dead_code)] // for the server, client and hpack modules
    pub fn get_first(&self, name: &[u8]) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| self.name_of(f) == name)
            .map(|f| self.value_of(f))
    }

    pub fn has(&self, name: &[u8]) -> bool {
        self.fields.iter().any(|f| self.name_of(f) == name)
    }

    /// Remove every field called `name`; true if there was one.
    pub fn delete(&mut self, name: &[u8]) -> bool {
        let before = self.fields.len();
        let bytes = &self.bytes;
        let mut freed = 0;
        self.fields.retain(|f| {
            let hit = &bytes[f.name as usize..(f.name + f.name_len) as usize] == name;
            if hit {
                freed += (f.name_len + f.value_len) as usize;
            }
            !hit
        });
        self.forget(freed);
        self.fields.len() != before
    }

    /// Give field `i` (0-based) a new value and never_index (`None`: the name's default).
    /// False if there is no such field.
    pub fn modify(&mut self, i: usize, value: &[u8], never_index: Option<bool>) -> Result<bool, TooLarge> {
        let Some(&old) = self.fields.get(i) else {
            return Ok(false);
        };
        let never_index = never_index.unwrap_or_else(|| default_never_index(self.name_of(&old)));
        let (at, len, freed) = if value.len() <= old.value_len as usize {
            // The old slot is this field's own: overwrite in place.
            let at = old.value as usize;
            self.bytes[at..at + value.len()].copy_from_slice(value);
            (
                old.value,
                value.len() as u32,
                old.value_len as usize - value.len(),
            )
        } else {
            let (at, len) = self.store(value)?;
            (at, len, old.value_len as usize)
        };
        self.fields[i] = Field {
            value: at,
            value_len: len,
            never_index,
            ..old
        };
        self.forget(freed);
        Ok(true)
    }

    /// Replace the value of the one field called `name`, or append it if there is none.
    pub fn upsert(
        &mut self,
        name: &[u8],
        value: &[u8],
        never_index: Option<bool>,
    ) -> Result<Result<(), MultiValued>, TooLarge> {
        let mut found = None;
        for (i, f) in self.fields.iter().enumerate() {
            if self.name_of(f) == name {
                if found.is_some() {
                    return Ok(Err(MultiValued));
                }
                found = Some(i);
            }
        }
        match found {
            Some(i) => self.modify(i, value, never_index).map(|_| Ok(())),
            None => self.push(name, value, never_index).map(Ok),
        }
    }

    /// Pseudo-header fields (":status" ...) first, then by name, value, and never_index (true
    /// first), as lua-http sorts.
    pub fn sort(&mut self) {
        let bytes = &self.bytes;
        let slice = |at: u32, len: u32| &bytes[at as usize..(at + len) as usize];
        self.fields.sort_by(|a, b| {
            let (an, bn) = (slice(a.name, a.name_len), slice(b.name, b.name_len));
            let pseudo = |n: &[u8]| n.first() == Some(&b':');
            pseudo(bn)
                .cmp(&pseudo(an))
                .then_with(|| an.cmp(bn))
                .then_with(|| slice(a.value, a.value_len).cmp(slice(b.value, b.value_len)))
                .then_with(|| b.never_index.cmp(&a.never_index))
        });
    }

    /// Account for arena bytes no longer used; rebuild the arena once they dominate it.
    fn forget(&mut self, n: usize) {
        self.garbage += n;
        if self.garbage < 4096 || self.garbage * 2 < self.bytes.len() {
            return;
        }
        let mut bytes = Vec::with_capacity(self.bytes.len() - self.garbage);
        for f in &mut self.fields {
            let (n, v) = (f.name as usize, f.value as usize);
            f.name = bytes.len() as u32;
            bytes.extend_from_slice(&self.bytes[n..n + f.name_len as usize]);
            f.value = bytes.len() as u32;
            bytes.extend_from_slice(&self.bytes[v..v + f.value_len as usize]);
        }
        self.bytes = bytes;
        self.garbage = 0;
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, fm: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = fm.debug_list();
        for (n, v, ni) in self.iter() {
            l.entry(&(String::from_utf8_lossy(n), String::from_utf8_lossy(v), ni));
        }
        l.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(h: &Headers) -> Vec<(Vec<u8>, Vec<u8>, bool)> {
        h.iter().map(|(n, v, ni)| (n.to_vec(), v.to_vec(), ni)).collect()
    }

    fn f(n: &[u8], v: &[u8], ni: bool) -> (Vec<u8>, Vec<u8>, bool) {
        (n.into(), v.into(), ni)
    }

    #[test]
    fn push_and_read() {
        let mut h = Headers::new();
        assert!(h.is_empty());
        h.push(b"set-cookie", b"a", None).unwrap();
        h.push(b"x", b"\xff\x00", None).unwrap();
        h.push(b"set-cookie", b"b", Some(false)).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.field(1), Some((&b"x"[..], &b"\xff\x00"[..], false)));
        assert_eq!(h.field(3), None);
        assert_eq!(h.get_first(b"set-cookie"), Some(&b"a"[..]));
        assert_eq!(h.values(b"set-cookie").collect::<Vec<_>>(), [b"a", b"b"]);
        assert_eq!(h.find(1, b"set-cookie"), Some(2));
        assert_eq!(h.find(3, b"set-cookie"), None);
        assert_eq!(h.find(9, b"x"), None);
        assert!(h.has(b"x") && !h.has(b"X"));
        assert_eq!(
            list(&h),
            [
                f(b"set-cookie", b"a", true),
                f(b"x", b"\xff\x00", false),
                f(b"set-cookie", b"b", false)
            ]
        );
    }

    #[test]
    fn never_index_defaults() {
        for name in ["authorization", "proxy-authorization", "cookie", "set-cookie"] {
            assert!(default_never_index(name.as_bytes()));
        }
        for name in ["Cookie", "cookie2", "", "content-type"] {
            assert!(!default_never_index(name.as_bytes()));
        }
    }

    #[test]
    fn modify_in_place_and_grown() {
        let mut h = Headers::new();
        h.push(b"cookie", b"long value", Some(false)).unwrap();
        h.push(b"b", b"2", None).unwrap();
        assert_eq!(h.modify(0, b"short", None), Ok(true));
        assert_eq!(h.modify(1, b"a longer value", Some(true)), Ok(true));
        assert_eq!(h.modify(2, b"x", None), Ok(false));
        assert_eq!(
            list(&h),
            [f(b"cookie", b"short", true), f(b"b", b"a longer value", true)]
        );
    }

    #[test]
    fn upsert_and_delete() {
        let mut h = Headers::new();
        h.push(b"a", b"1", None).unwrap();
        h.push(b"b", b"2", None).unwrap();
        h.push(b"a", b"3", None).unwrap();
        assert_eq!(h.upsert(b"a", b"x", None), Ok(Err(MultiValued)));
        assert_eq!(h.upsert(b"b", b"two", None), Ok(Ok(())));
        assert_eq!(h.upsert(b"c", b"3", None), Ok(Ok(())));
        assert!(h.delete(b"a"));
        assert!(!h.delete(b"a"));
        assert_eq!(list(&h), [f(b"b", b"two", false), f(b"c", b"3", false)]);
    }

    #[test]
    fn reused_storage_starts_empty() {
        for _ in 0..3 {
            let mut h = Headers::new();
            assert_eq!(h.len(), 0);
            h.push(b":status", b"200", None).unwrap();
            h.push(b"cookie", b"a=b", None).unwrap();
            assert_eq!(list(&h), vec![(b":status".to_vec(), b"200".to_vec(), false), (b"cookie".to_vec(), b"a=b".to_vec(), true)]);
        }
        let h = Headers::new();
        assert!(h.is_empty() && h.iter().next().is_none());
    }

    #[test]
    fn compaction_keeps_fields() {
        let mut h = Headers::new();
        let big = vec![b'v'; 300];
        for i in 0..200 {
            h.push(if i % 2 == 0 { b"even" } else { b"odd" }, &big, None)
                .unwrap();
        }
        h.delete(b"even");
        assert!(
            h.bytes.len() < 100 * 304 + 1,
            "arena not compacted: {}",
            h.bytes.len()
        );
        assert_eq!(h.len(), 100);
        assert!(h.iter().all(|(n, v, _)| n == b"odd" && v == &big[..]));
        for i in 0..100 {
            h.modify(i, &[b'w'; 400], None).unwrap();
        }
        assert!(h.iter().all(|(n, v, _)| n == b"odd" && v == &[b'w'; 400][..]));
    }

    #[test]
    fn sort_order() {
        let mut h = Headers::new();
        for (n, v, ni) in [
            ("b", "2", false),
            (":path", "/", false),
            ("a", "a", false),
            ("a", "a", true),
            ("0", "", false),
            (":", "", false),
        ] {
            h.push(n.as_bytes(), v.as_bytes(), Some(ni)).unwrap();
        }
        h.sort();
        assert_eq!(
            list(&h),
            [
                f(b":", b"", false),
                f(b":path", b"/", false),
                f(b"0", b"", false),
                f(b"a", b"a", true),
                f(b"a", b"a", false),
                f(b"b", b"2", false)
            ]
        );
    }

    #[test]
    fn clone_is_independent() {
        let mut h = Headers::new();
        h.push(b"a", b"1", None).unwrap();
        let mut c = h.clone();
        c.modify(0, b"2", None).unwrap();
        c.push(b"b", b"3", None).unwrap();
        assert_eq!(list(&h), [f(b"a", b"1", false)]);
        assert_eq!(list(&c), [f(b"a", b"2", false), f(b"b", b"3", false)]);
    }
}

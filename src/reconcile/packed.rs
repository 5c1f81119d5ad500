//! Text fields packed into one allocation: the representation of every record a sync holds for a
//! whole organisation (people, job roles, SCIM profiles). A struct of a dozen `String`s takes a
//! dozen allocations, their headers and a dozen 12- or 24-byte handles; at 100,000 people that
//! was most of the component's memory.
//!
//! The bytes are entries in field order, each the field's number, the value's length (LEB128)
//! and the value; a field at most once, so equal contents have equal bytes.

/// Packed entries (see the module comment). The empty value has no fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Packed(Box<[u8]>);

/// Walks packed entries in field order.
pub struct Entries<'a>(&'a [u8]);

impl<'a> Entries<'a> {
    /// The next entry's field number and value bytes.
    fn next_raw(&mut self) -> Option<(u8, &'a [u8])> {
        let (field, start, end) = entry_at(self.0, 0)?;
        let value = &self.0[start..end];
        self.0 = &self.0[end..];
        Some((field, value))
    }
}

/// The entry starting at `at`: its field number and where its value starts and ends. A length
/// is one byte below 128 (almost always: fields are short), so that case is straight-line code:
/// a person's fields are read about a hundred times while deciding, and in wasm the general
/// loop made those reads a tenth of a steady sync's instructions. Always inlined: a call per entry
/// was most of what a read cost in wasm (the component is otherwise built for size).
#[inline(always)]
fn entry_at(bytes: &[u8], at: usize) -> Option<(u8, usize, usize)> {
    let field = *bytes.get(at)?;
    let first = bytes[at + 1];
    if first < 0x80 {
        let start = at + 2;
        return Some((field, start, start + usize::from(first)));
    }
    let mut len = 0usize;
    let mut shift = 0;
    let mut i = at + 1;
    loop {
        let byte = bytes[i];
        i += 1;
        len |= usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    Some((field, i, i + len))
}

/// A value's bytes as text, unchecked: checking them on every read was 4% of a steady sync's CPU
/// (a person's fields are read many times while deciding).
#[inline(always)]
fn text(value: &[u8]) -> &str {
    // SAFETY: the bytes of a `Packed` are private and never changed after `Packed::pack`, which
    // copies whole `&str` values (valid UTF-8) between entry headers; `Entries` splits them back
    // at exactly those headers (field number, LEB128 length), so every value slice it yields is
    // one of those whole values.
    unsafe { std::str::from_utf8_unchecked(value) }
}

impl<'a> Iterator for Entries<'a> {
    type Item = (u8, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        let (field, value) = self.next_raw()?;
        Some((field, text(value)))
    }
}

impl Packed {
    /// Packs entries already in field order, each field once.
    pub fn pack<'a>(entries: impl Iterator<Item = (u8, &'a str)> + Clone) -> Packed {
        let size: usize = entries.clone().map(|(_, v)| 1 + leb128_len(v.len()) + v.len()).sum();
        let mut bytes = Vec::with_capacity(size);
        for (field, value) in entries {
            push_entry(&mut bytes, field, value);
        }
        debug_assert_eq!(bytes.len(), size);
        Packed(bytes.into_boxed_slice())
    }

    pub fn get(&self, field: u8) -> Option<&str> {
        // Entries are in field order: stop at the first one past it, and only the value found is
        // checked as text.
        let bytes = &self.0[..];
        let mut at = 0;
        while let Some((found, start, end)) = entry_at(bytes, at) {
            if found >= field {
                return (found == field).then(|| text(&bytes[start..end]));
            }
            at = end;
        }
        None
    }

    pub fn entries(&self) -> Entries<'_> {
        Entries(&self.0)
    }

    pub fn len(&self) -> usize {
        let mut entries = self.entries();
        std::iter::from_fn(|| entries.next_raw()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The field numbers present, in order.
    pub fn fields(&self) -> impl Iterator<Item = u8> + '_ {
        let mut entries = self.entries();
        std::iter::from_fn(move || entries.next_raw()).map(|(field, _)| field)
    }
}

fn leb128_len(mut len: usize) -> usize {
    let mut bytes = 1;
    while len >= 0x80 {
        len >>= 7;
        bytes += 1;
    }
    bytes
}

fn push_entry(bytes: &mut Vec<u8>, field: u8, value: &str) {
    bytes.push(field);
    let mut len = value.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            bytes.push(byte);
            break;
        }
        bytes.push(byte | 0x80);
    }
    bytes.extend_from_slice(value.as_bytes());
}

/// The most fields a builder takes (field numbers below it).
pub const MAX_FIELDS: usize = 32;

/// Collects fields in any order, a field set again replacing its value (as a JSON object read
/// into a map did), then packs them. Values go into one scratch buffer: reading a record
/// allocates that, and the packed result, whatever its number of fields.
pub struct PackedBuilder {
    text: Vec<u8>,
    /// (field, start, end) in `text`, in field order.
    spans: [(u8, u32, u32); MAX_FIELDS],
    count: usize,
}

impl Default for PackedBuilder {
    fn default() -> Self {
        PackedBuilder { text: Vec::new(), spans: [(0, 0, 0); MAX_FIELDS], count: 0 }
    }
}

impl PackedBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// From packed entries, to change some.
    pub fn from_packed(packed: &Packed) -> Self {
        let mut builder = PackedBuilder::new();
        for (field, value) in packed.entries() {
            builder.set(field, value);
        }
        builder
    }

    /// Sets `field` to `value` (an empty value is kept, as empty).
    pub fn set(&mut self, field: u8, value: &str) {
        assert!(usize::from(field) < MAX_FIELDS, "field number {field} out of range");
        let start = self.text.len() as u32;
        self.text.extend_from_slice(value.as_bytes());
        let span = (field, start, self.text.len() as u32);
        let spans = &mut self.spans[..self.count];
        match spans.iter().position(|(f, _, _)| *f >= field) {
            Some(i) if spans[i].0 == field => spans[i] = span,
            Some(i) => {
                self.spans.copy_within(i..self.count, i + 1);
                self.spans[i] = span;
                self.count += 1;
            }
            None => {
                self.spans[self.count] = span;
                self.count += 1;
            }
        }
    }

    /// Removes `field`, if set.
    pub fn clear(&mut self, field: u8) {
        if let Some(i) = self.spans[..self.count].iter().position(|(f, _, _)| *f == field) {
            self.spans.copy_within(i + 1..self.count, i);
            self.count -= 1;
        }
    }

    pub fn finish(&self) -> Packed {
        // Whole `&str`s went into `text`, so every span is a whole value of valid UTF-8.
        let text = &self.text;
        Packed::pack(
            self.spans[..self.count]
                .iter()
                .map(|&(field, start, end)| (field, self::text(&text[start as usize..end as usize]))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_any_length_read_back_in_field_order_and_the_last_set_wins() {
        let long = "é".repeat(20_000);
        let mut b = PackedBuilder::new();
        b.set(9, "nine");
        b.set(2, &long);
        b.set(0, "");
        b.set(9, "NINE");
        b.set(31, "last");
        b.set(5, "five");
        b.clear(5);
        b.clear(7);
        let p = b.finish();
        assert_eq!(p.entries().collect::<Vec<_>>(), [(0, ""), (2, long.as_str()), (9, "NINE"), (31, "last")]);
        assert_eq!(p.get(2), Some(long.as_str()));
        assert_eq!(p.get(0), Some(""));
        assert_eq!((p.get(1), p.get(5), p.get(30)), (None, None, None));
        assert_eq!(p.len(), 4);
        assert_eq!(p.fields().collect::<Vec<_>>(), [0, 2, 9, 31]);
        // Same contents in another order: the same bytes.
        let mut c = PackedBuilder::new();
        for (field, value) in [(31, "last"), (9, "NINE"), (0, ""), (2, long.as_str())] {
            c.set(field, value);
        }
        assert_eq!(c.finish(), p);
        assert_eq!(PackedBuilder::from_packed(&p).finish(), p);
        assert!(Packed::default().is_empty() && Packed::default().get(0).is_none());
    }

    #[test]
    fn lengths_cross_every_leb128_boundary() {
        for len in [0, 1, 127, 128, 16_383, 16_384, 70_000] {
            let value = "x".repeat(len);
            let p = Packed::pack([(3, value.as_str()), (4, "after")].into_iter());
            assert_eq!((p.get(3).map(str::len), p.get(4)), (Some(len), Some("after")), "length {len}");
        }
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn a_field_number_past_the_limit_is_a_bug() {
        PackedBuilder::new().set(MAX_FIELDS as u8, "x");
    }
}

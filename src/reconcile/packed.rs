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
        let (&field, mut rest) = self.0.split_first()?;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let (&byte, tail) = rest.split_first().expect("packed entries are well formed");
            rest = tail;
            len |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let (value, tail) = rest.split_at(len);
        self.0 = tail;
        Some((field, value))
    }
}

/// Values are packed only from `&str`s, whole: checked again anyway (cheap next to what reads
/// them), rather than trusted with `unsafe`.
fn text(value: &[u8]) -> &str {
    std::str::from_utf8(value).expect("packed values are UTF-8")
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
        let mut entries = self.entries();
        while let Some((at, value)) = entries.next_raw() {
            if at >= field {
                return (at == field).then(|| text(value));
            }
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
        let text = &self.text;
        Packed::pack(self.spans[..self.count].iter().map(|&(field, start, end)| {
            // Whole `&str`s went in, so every span is whole UTF-8.
            (field, std::str::from_utf8(&text[start as usize..end as usize]).expect("whole values"))
        }))
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

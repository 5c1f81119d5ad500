//! People and job roles by person id, for a whole organisation: the lists as read, indexed by a
//! table of positions, instead of hash maps holding a copy of every key (and, while they grow, two
//! tables). A handful of records read one at a time (events, people a list lacks) go in a small
//! map that overrides the list. No library sort either: each instantiation adds kilobytes to the
//! component, which must stay under 1 MiB.

use crate::ids::IdMap;

use std::rc::Rc;

use crate::reconcile::{JobRole, Person, RemoteUser};

const EMPTY: u32 = u32::MAX;

/// Open addressing (linear probing) over numbers whose keys the caller looks up: a slot holds a
/// number, `key_of(number)` its key. FNV-1a spreads the ids.
#[derive(Default)]
struct Slots(Vec<u32>);

impl Slots {
    fn with_room_for(n: usize) -> Slots {
        Slots(vec![EMPTY; (n * 2).next_power_of_two().max(16)])
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn probe<'a>(&self, key: &str, key_of: impl Fn(u32) -> &'a str) -> usize {
        self.probe_by(fnv1a(key.bytes()), |n| key_of(n) == key)
    }

    /// The slot of the number `is_key` accepts, or the empty slot where it would go, starting
    /// from `hash`.
    fn probe_by(&self, hash: u64, is_key: impl Fn(u32) -> bool) -> usize {
        let mask = self.0.len() - 1;
        let mut slot = hash as usize & mask;
        while self.0[slot] != EMPTY && !is_key(self.0[slot]) {
            slot = (slot + 1) & mask;
        }
        slot
    }

    fn find<'a>(&self, key: &str, key_of: impl Fn(u32) -> &'a str) -> Option<u32> {
        if self.0.is_empty() {
            return None;
        }
        Some(self.0[self.probe(key, key_of)]).filter(|n| *n != EMPTY)
    }
}

fn fnv1a(bytes: impl Iterator<Item = u8>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The hash of `text` in lower case. Addresses are almost always ASCII, lowered a byte at a time;
/// the general path lowers characters (in wasm, about as costly as the rest of indexing).
fn lower_hash(text: &str) -> u64 {
    if text.is_ascii() { fnv1a(text.bytes().map(|b| b.to_ascii_lowercase())) } else { fnv1a(lower_bytes(text)) }
}

/// Text in lower case, a character at a time, as UTF-8 bytes (no allocation).
fn lower_bytes(text: &str) -> impl Iterator<Item = u8> + '_ {
    text.chars().flat_map(char::to_lowercase).flat_map(|c| {
        let mut buf = [0u8; 4];
        let len = c.encode_utf8(&mut buf).len();
        buf.into_iter().take(len)
    })
}

/// Accounts by `userName` in any letter case: the users as listed, indexed by their lower-case
/// `userName`, without a lower-case copy of every address and a copy of every id (a sync holds
/// the whole organisation's). Of two users with one `userName`, the later listed; accounts added
/// afterwards (one created by an event) override the list.
#[derive(Default)]
pub(crate) struct AccountsByEmail {
    listed: Vec<Rc<RemoteUser>>,
    index: Slots,
    added: IdMap<String, String>,
}

impl AccountsByEmail {
    pub fn from_list(listed: Vec<Rc<RemoteUser>>) -> AccountsByEmail {
        let mut index = Slots::with_room_for(listed.len());
        for (i, user) in listed.iter().enumerate() {
            let name = user.user_name();
            let slot = index.probe_by(lower_hash(name), |n| same_lower(listed[n as usize].user_name(), name));
            index.0[slot] = i as u32;
        }
        AccountsByEmail { listed, index, added: IdMap::default() }
    }

    /// The SCIM id of the account with this `userName`, in any letter case.
    pub fn get(&self, email: &str) -> Option<&str> {
        if !self.added.is_empty()
            && let Some(id) = self.added.get(&email.to_lowercase())
        {
            return Some(id);
        }
        if self.index.0.is_empty() {
            return None;
        }
        let slot = self.index.probe_by(lower_hash(email), |n| same_lower(self.listed[n as usize].user_name(), email));
        let n = self.index.0[slot];
        (n != EMPTY).then(|| self.listed[n as usize].id())
    }

    pub fn insert(&mut self, email: &str, scim_id: String) {
        self.added.insert(email.to_lowercase(), scim_id);
    }
}

/// The groups of two or more `items` whose `email_of` is the same in any letter case, each in
/// the order listed. A table of positions, not a map of lower-case copies of every address: a
/// sync looks for duplicates among the whole organisation, where there are almost none.
pub(crate) fn same_email_groups<'a, 'b, T>(
    items: &'a [T],
    email_of: impl Fn(&'a T) -> Option<&'b str>,
) -> Vec<Vec<&'a T>> {
    let mut index = Slots::with_room_for(items.len());
    // The group of each first holder of an address that turned out shared, by that first's position.
    let mut groups: IdMap<u32, Vec<&T>> = IdMap::default();
    for (position, item) in items.iter().enumerate() {
        let Some(email) = email_of(item) else { continue };
        let slot = index.probe_by(lower_hash(email), |n| {
            email_of(&items[n as usize]).is_some_and(|other| same_lower(other, email))
        });
        match index.0[slot] {
            EMPTY => index.0[slot] = position as u32,
            first => groups.entry(first).or_insert_with(|| vec![&items[first as usize]]).push(item),
        }
    }
    // In the order of their first members, as listed (the map's order is arbitrary).
    let mut firsts: Vec<u32> = groups.keys().copied().collect();
    firsts.sort_unstable();
    firsts.into_iter().filter_map(|first| groups.remove(&first)).collect()
}

fn same_lower(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        // (Not when only one is: `K`, the kelvin sign, lowers to `k`.)
        return a.eq_ignore_ascii_case(b);
    }
    a == b || lower_bytes(a).eq(lower_bytes(b))
}

#[derive(Default)]
pub(crate) struct People {
    /// In the order listed.
    listed: Vec<Person>,
    /// Positions in `listed` by id; of two records with one id (pages that shifted while read),
    /// the later.
    index: Slots,
    distinct: usize,
    added: IdMap<String, Person>,
}

impl People {
    pub fn from_list(mut listed: Vec<Person>) -> People {
        listed.shrink_to_fit();
        let mut index = Slots::with_room_for(listed.len());
        let mut distinct = 0;
        for (i, person) in listed.iter().enumerate() {
            let slot = index.probe(person.id(), |n| listed[n as usize].id());
            distinct += usize::from(index.0[slot] == EMPTY);
            index.0[slot] = i as u32;
        }
        People { listed, index, distinct, added: IdMap::default() }
    }

    fn listed(&self, id: &str) -> Option<&Person> {
        self.index.find(id, |n| self.listed[n as usize].id()).map(|n| &self.listed[n as usize])
    }

    pub fn get(&self, id: &str) -> Option<&Person> {
        self.added.get(id).or_else(|| self.listed(id))
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    pub fn insert(&mut self, id: String, person: Person) {
        self.added.insert(id, person);
    }

    pub fn len(&self) -> usize {
        self.distinct + self.added.keys().filter(|id| self.listed(id).is_none()).count()
    }

    /// Everyone once: the listed (the record an id finds) not overridden, then the added.
    pub fn values(&self) -> impl Iterator<Item = &Person> {
        let listed = self
            .listed
            .iter()
            .filter(|p| !self.added.contains_key(p.id()) && std::ptr::eq(*p, self.listed(p.id()).expect("indexed")));
        listed.chain(self.added.values())
    }
}

#[derive(Default)]
pub(crate) struct Roles {
    /// Grouped by person (groups in order of first appearance); a person's roles keep the order
    /// they were listed in (a tie between two current roles goes to the one listed last).
    listed: Vec<JobRole>,
    /// Where each group starts in `listed`, and one past the last group's end.
    starts: Vec<u32>,
    /// Groups by person id.
    index: Slots,
    added: IdMap<String, Vec<JobRole>>,
}

impl Roles {
    pub fn from_list(mut listed: Vec<JobRole>) -> Roles {
        listed.shrink_to_fit();
        // Each role's group, numbered by first appearance; `firsts` holds a role of each group.
        let mut index = Slots::with_room_for(listed.len());
        let mut firsts: Vec<u32> = Vec::new();
        let mut group_of: Vec<u32> = Vec::with_capacity(listed.len());
        for (i, role) in listed.iter().enumerate() {
            let slot = index.probe(role.person_id(), |g| listed[firsts[g as usize] as usize].person_id());
            if index.0[slot] == EMPTY {
                index.0[slot] = firsts.len() as u32;
                firsts.push(i as u32);
            }
            group_of.push(index.0[slot]);
        }
        let groups = firsts.len();
        drop(firsts);
        // A counting sort by group: where each role goes, then the moves, in place.
        let mut starts = vec![0u32; groups + 1];
        for g in &group_of {
            starts[*g as usize + 1] += 1;
        }
        for g in 0..groups {
            starts[g + 1] += starts[g];
        }
        let mut next = starts.clone();
        let mut dest: Vec<u32> = group_of
            .iter()
            .map(|g| {
                let at = next[*g as usize];
                next[*g as usize] += 1;
                at
            })
            .collect();
        drop((next, group_of));
        for i in 0..dest.len() {
            while dest[i] as usize != i {
                let j = dest[i] as usize;
                listed.swap(i, j);
                dest.swap(i, j);
            }
        }
        Roles { listed, starts, index, added: IdMap::default() }
    }

    /// A person's roles; `None` when they have none (as a map without their key would say).
    pub fn get(&self, person_id: &str) -> Option<&[JobRole]> {
        if let Some(roles) = self.added.get(person_id) {
            return Some(roles);
        }
        let group = self.index.find(person_id, |g| self.listed[self.starts[g as usize] as usize].person_id())?;
        let (start, end) = (self.starts[group as usize] as usize, self.starts[group as usize + 1] as usize);
        Some(&self.listed[start..end])
    }

    /// All of a person's roles, replacing those listed.
    pub fn insert(&mut self, person_id: String, roles: Vec<JobRole>) {
        self.added.insert(person_id, roles);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{JobRoleFields, PersonFields};

    fn person(id: &str, email: &str) -> Person {
        Person::from(PersonFields { id: id.into(), email: Some(email.into()), ..PersonFields::default() })
    }

    fn role(id: &str, person_id: &str) -> JobRole {
        JobRole::from(JobRoleFields { id: id.into(), person_id: person_id.into(), ..JobRoleFields::default() })
    }

    #[test]
    fn people_are_found_by_id_and_added_ones_override_the_list() {
        let mut people = People::from_list(vec![person("b", "b@x"), person("a", "a@x"), person("b", "b@x")]);
        assert_eq!(people.len(), 2);
        assert_eq!(people.get("a").unwrap().email(), Some("a@x"));
        assert!(people.get("c").is_none() && !people.contains_key("c"));
        people.insert("a".into(), person("a", "new@x"));
        people.insert("c".into(), person("c", "c@x"));
        assert_eq!(people.get("a").unwrap().email(), Some("new@x"));
        assert_eq!(people.len(), 3);
        let mut emails: Vec<_> = people.values().filter_map(|p| p.email()).collect();
        emails.sort();
        assert_eq!(emails, ["b@x", "c@x", "new@x"]);
    }

    #[test]
    fn of_two_listed_records_with_one_id_the_later_counts() {
        let people = People::from_list(vec![person("b", "old@x"), person("a", "a@x"), person("b", "new@x")]);
        assert_eq!(people.len(), 2);
        assert_eq!(people.get("b").unwrap().email(), Some("new@x"));
        let emails: Vec<_> = people.values().filter_map(|p| p.email()).collect();
        assert_eq!(emails, ["a@x", "new@x"]);
    }

    #[test]
    fn many_interleaved_roles_group_as_a_map_would() {
        // A deterministic shuffle of 3,000 roles over 700 people (some with none).
        let mut listed = Vec::new();
        let mut expected: IdMap<String, Vec<String>> = IdMap::default();
        let mut x: u64 = 42;
        for n in 0..3000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let owner = format!("p{}", (x >> 33) % 700);
            expected.entry(owner.clone()).or_default().push(n.to_string());
            listed.push(role(&n.to_string(), &owner));
        }
        let roles = Roles::from_list(listed);
        for p in 0..800 {
            let id = format!("p{p}");
            let got = roles.get(&id).map(|r| r.iter().map(|r| r.id().to_owned()).collect::<Vec<_>>());
            assert_eq!(got.as_ref(), expected.get(&id), "{id}");
        }
        let people = People::from_list((0..700).map(|p| person(&format!("p{p}"), "x@y")).collect());
        assert_eq!(people.len(), 700);
        assert!((0..700).all(|p| people.get(&format!("p{p}")).is_some()));
        assert!(people.get("p700").is_none());
    }

    #[test]
    fn roles_are_grouped_by_person_in_listed_order() {
        let mut roles = Roles::from_list(vec![role("1", "b"), role("2", "a"), role("3", "b"), role("4", "c")]);
        let ids = |r: Option<&[JobRole]>| r.map(|r| r.iter().map(|r| r.id().to_owned()).collect::<Vec<_>>());
        assert_eq!(ids(roles.get("b")), Some(vec!["1".to_owned(), "3".to_owned()]));
        assert_eq!(ids(roles.get("a")), Some(vec!["2".to_owned()]));
        assert_eq!(ids(roles.get("z")), None);
        assert_eq!(ids(roles.get("")), None);
        roles.insert("b".into(), vec![]);
        assert_eq!(ids(roles.get("b")), Some(vec![]));
        // The fingerprint hashes this Debug text: it must read as the map's `Option<&Vec<_>>` did.
        let listed = vec![role("2", "a")];
        assert_eq!(format!("{:?}", roles.get("a")), format!("{:?}", Some(&listed)));
    }

    fn user(id: &str, user_name: &str) -> Rc<RemoteUser> {
        let attributes = [(crate::reconcile::Attr::UserName, user_name.to_owned())].into();
        Rc::new(RemoteUser::new(id, true, attributes, Default::default(), None))
    }

    #[test]
    fn accounts_are_found_by_user_name_in_any_letter_case() {
        let listed =
            vec![user("1", "Ada@X.test"), user("2", "bo@x.test"), user("3", "ÅSA@x.test"), user("4", "ada@x.TEST")];
        let mut accounts = AccountsByEmail::from_list(listed);
        // Of two with one address, the later listed (as a map built from the list kept).
        assert_eq!(accounts.get("ADA@x.test"), Some("4"));
        assert_eq!(accounts.get("åsa@X.TEST"), Some("3"));
        assert_eq!(accounts.get("bo@x.test"), Some("2"));
        assert_eq!((accounts.get("b@x.test"), accounts.get("")), (None, None));
        accounts.insert("New@x.test", "5".into());
        accounts.insert("BO@x.test", "6".into());
        assert_eq!((accounts.get("new@X.test"), accounts.get("bo@x.test")), (Some("5"), Some("6")));
        assert_eq!(AccountsByEmail::default().get("a@x"), None);
        // Many, to cross the table's collisions.
        let many: Vec<_> = (0..3000).map(|n| user(&n.to_string(), &format!("Person{n}@Example.test"))).collect();
        let accounts = AccountsByEmail::from_list(many);
        assert!((0..3000).all(|n| accounts.get(&format!("person{n}@example.TEST")) == Some(n.to_string().as_str())));
    }

    #[test]
    fn addresses_match_and_hash_alike_in_any_letter_case_ascii_or_not() {
        let alike = [
            ("Ada@X.test", "ada@x.TEST"),
            ("ÅSA@x.test", "åsa@X.test"),
            // The kelvin sign lowers to an ASCII `k`: one side ASCII, the other not.
            ("\u{212A}im@x.test", "kim@x.test"),
            ("", ""),
        ];
        for (a, b) in alike {
            assert!(same_lower(a, b) && same_lower(b, a), "{a} ~ {b}");
            assert_eq!(lower_hash(a), lower_hash(b), "{a} ~ {b}");
        }
        for (a, b) in [("ada@x.test", "ada@x.tesT "), ("åsa@x", "asa@x"), ("kim@x", "kin@x"), ("a", "")] {
            assert!(!same_lower(a, b) && !same_lower(b, a), "{a} !~ {b}");
        }
    }

    #[test]
    fn items_sharing_an_address_in_any_letter_case_are_grouped_in_listed_order() {
        let items = ["a@x", "B@x", "none", "c@x", "b@X", "A@X", "d@x", "b@x"];
        fn email_of<'a>(item: &&'a str) -> Option<&'a str> {
            (*item != "none").then_some(*item)
        }
        let groups = same_email_groups(&items, email_of);
        assert_eq!(groups, vec![vec![&"a@x", &"A@X"], vec![&"B@x", &"b@X", &"b@x"]]);
        assert!(same_email_groups(&items[..4], email_of).is_empty());
        let many: Vec<String> = (0..5000).map(|n| format!("p{}@x", n % 2500)).collect();
        let groups = same_email_groups(&many, |s| Some(s.as_str()));
        assert_eq!(groups.len(), 2500);
        assert!(groups.iter().all(|g| g.len() == 2 && g[0] == g[1]));
    }
}

//! People and job roles by person id, for a whole organisation: the lists as read, sorted once and
//! searched, instead of hash maps holding a copy of every key and a table with room to grow.
//! A handful of records read one at a time (events, people a list lacks) go in a small map that
//! overrides the list.

use std::collections::HashMap;

use crate::reconcile::{JobRole, Person};

#[derive(Default)]
pub(crate) struct People {
    /// Sorted by id, one record per id.
    listed: Vec<Person>,
    added: HashMap<String, Person>,
}

impl People {
    /// A whole list. Of two records with one id (pages that shifted while read), either may stay:
    /// both are the same person read moments apart.
    pub fn from_list(mut listed: Vec<Person>) -> People {
        listed.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        listed.dedup_by(|a, b| a.id == b.id);
        listed.shrink_to_fit();
        People { listed, added: HashMap::new() }
    }

    fn listed(&self, id: &str) -> Option<&Person> {
        self.listed.binary_search_by(|p| p.id.as_str().cmp(id)).ok().map(|i| &self.listed[i])
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
        self.listed.len() + self.added.keys().filter(|id| self.listed(id).is_none()).count()
    }

    pub fn values(&self) -> impl Iterator<Item = &Person> {
        let listed = self.listed.iter().filter(|p| !self.added.contains_key(&p.id));
        listed.chain(self.added.values())
    }
}

#[derive(Default)]
pub(crate) struct Roles {
    /// Sorted by person id; a person's roles keep the order they were listed in (a tie between
    /// two current roles goes to the one listed last).
    listed: Vec<JobRole>,
    added: HashMap<String, Vec<JobRole>>,
}

impl Roles {
    pub fn from_list(mut listed: Vec<JobRole>) -> Roles {
        listed.sort_by(|a, b| a.person_id.cmp(&b.person_id));
        listed.shrink_to_fit();
        Roles { listed, added: HashMap::new() }
    }

    /// A person's roles; `None` when they have none (as a map without their key would say).
    pub fn get(&self, person_id: &str) -> Option<&[JobRole]> {
        if let Some(roles) = self.added.get(person_id) {
            return Some(roles);
        }
        let start = self.listed.partition_point(|r| r.person_id.as_str() < person_id);
        let len = self.listed[start..].iter().take_while(|r| r.person_id == person_id).count();
        (len > 0).then(|| &self.listed[start..start + len])
    }

    /// All of a person's roles, replacing those listed.
    pub fn insert(&mut self, person_id: String, roles: Vec<JobRole>) {
        self.added.insert(person_id, roles);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, email: &str) -> Person {
        Person { id: id.into(), email: Some(email.into()), ..Person::default() }
    }

    fn role(id: &str, person_id: &str) -> JobRole {
        JobRole { id: id.into(), person_id: person_id.into(), ..JobRole::default() }
    }

    #[test]
    fn people_are_found_by_id_and_added_ones_override_the_list() {
        let mut people = People::from_list(vec![person("b", "b@x"), person("a", "a@x"), person("b", "b@x")]);
        assert_eq!(people.len(), 2);
        assert_eq!(people.get("a").unwrap().email.as_deref(), Some("a@x"));
        assert!(people.get("c").is_none() && !people.contains_key("c"));
        people.insert("a".into(), person("a", "new@x"));
        people.insert("c".into(), person("c", "c@x"));
        assert_eq!(people.get("a").unwrap().email.as_deref(), Some("new@x"));
        assert_eq!(people.len(), 3);
        let mut emails: Vec<_> = people.values().filter_map(|p| p.email.clone()).collect();
        emails.sort();
        assert_eq!(emails, ["b@x", "c@x", "new@x"]);
    }

    #[test]
    fn roles_are_grouped_by_person_in_listed_order() {
        let mut roles = Roles::from_list(vec![role("1", "b"), role("2", "a"), role("3", "b"), role("4", "c")]);
        let ids = |r: Option<&[JobRole]>| r.map(|r| r.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
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
}

//! The mock's data, indexed so that lookups by id and by person are constant time and lists keep
//! insertion order (the order Humaans' API is assumed to return without `$sort`).

use std::collections::HashMap;

use super::model::{Company, CustomField, JobRole, Location, Person, id_from, splitmix64};

/// Rows in insertion order with an id index. Rows live in a `Vec` so that scanning them is a
/// plain slice walk; removal is O(n), which tests do rarely.
struct Table<T> {
    rows: Vec<T>,
    index: HashMap<String, usize>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table { rows: Vec::new(), index: HashMap::new() }
    }
}

impl<T> Table<T> {
    fn get(&self, id: &str) -> Option<&T> {
        self.index.get(id).map(|&i| &self.rows[i])
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.index.get(id).map(|&i| &mut self.rows[i])
    }

    /// Inserts, or replaces in place; returns the replaced row.
    fn put(&mut self, id: String, row: T) -> Option<T> {
        match self.index.get(&id) {
            Some(&i) => Some(std::mem::replace(&mut self.rows[i], row)),
            None => {
                self.index.insert(id, self.rows.len());
                self.rows.push(row);
                None
            }
        }
    }

    fn retain(&mut self, id_of: impl Fn(&T) -> &str, keep: impl Fn(&T) -> bool) {
        self.rows.retain(|row| keep(row));
        self.index = self.rows.iter().enumerate().map(|(i, row)| (id_of(row).to_owned(), i)).collect();
    }
}

#[derive(Default)]
pub(crate) struct Store {
    pub company: Company,
    people: Table<Person>,
    roles: Table<JobRole>,
    /// Role ids per person id, in insertion order.
    roles_by_person: HashMap<String, Vec<String>>,
    pub locations: Vec<Location>,
}

/// A stable id for a custom field's name (its values live on people, by name).
pub fn custom_field_id(name: &str) -> String {
    let mut state =
        name.bytes().fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    id_from(|| splitmix64(&mut state))
}

impl Store {
    pub fn new(company: Company) -> Store {
        Store { company, ..Store::default() }
    }

    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.get(id)
    }

    pub fn person_mut(&mut self, id: &str) -> Option<&mut Person> {
        self.people.get_mut(id)
    }

    pub fn people(&self) -> &[Person] {
        &self.people.rows
    }

    pub fn people_mut(&mut self) -> impl Iterator<Item = &mut Person> {
        self.people.rows.iter_mut()
    }

    /// Adds a person, or replaces the one with the same id in place.
    pub fn put_person(&mut self, person: Person) {
        self.people.put(person.id.clone(), person);
    }

    /// Removes a person and their job roles; `false` when there was no such person.
    pub fn remove_person(&mut self, id: &str) -> bool {
        if self.people.get(id).is_none() {
            return false;
        }
        self.people.retain(|p| &p.id, |p| p.id != id);
        if self.roles_by_person.remove(id).is_some() {
            self.roles.retain(|r| &r.id, |r| r.person_id != id);
        }
        true
    }

    pub fn role(&self, id: &str) -> Option<&JobRole> {
        self.roles.get(id)
    }

    pub fn role_mut(&mut self, id: &str) -> Option<&mut JobRole> {
        self.roles.get_mut(id)
    }

    pub fn roles(&self) -> &[JobRole] {
        &self.roles.rows
    }

    pub fn roles_of(&self, person_id: &str) -> impl Iterator<Item = &JobRole> {
        self.roles_by_person.get(person_id).into_iter().flatten().filter_map(|id| self.roles.get(id))
    }

    /// Adds a job role, or replaces the one with the same id in place (moving it to its new
    /// person's index if the person changed).
    pub fn put_role(&mut self, role: JobRole) {
        let id = role.id.clone();
        let person_id = role.person_id.clone();
        match self.roles.put(id.clone(), role) {
            None => self.roles_by_person.entry(person_id).or_default().push(id),
            Some(old) if old.person_id != person_id => {
                if let Some(ids) = self.roles_by_person.get_mut(&old.person_id) {
                    ids.retain(|r| *r != id);
                    if ids.is_empty() {
                        self.roles_by_person.remove(&old.person_id);
                    }
                }
                self.roles_by_person.entry(person_id).or_default().push(id);
            }
            Some(_) => {}
        }
    }

    /// The custom fields any person has a value of, by name, in name order.
    pub fn custom_fields(&self) -> Vec<CustomField> {
        let names: std::collections::BTreeSet<&str> =
            self.people.rows.iter().flat_map(|p| p.custom_values.keys().map(String::as_str)).collect();
        names.into_iter().map(|name| CustomField { id: custom_field_id(name), name: name.to_owned() }).collect()
    }

    /// Replaces everything.
    pub fn reset(&mut self, company: Company) {
        *self = Store::new(company);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_indexes_through_replacement_and_removal() {
        let mut store = Store::new(Company::new("Acme"));
        let a = Person::new("A", "A", "a@x");
        let b = Person::new("B", "B", "b@x");
        store.put_person(a.clone());
        store.put_person(b.clone());
        let mut renamed = a.clone();
        renamed.first_name = "Alice".into();
        store.put_person(renamed);
        let names: Vec<_> = store.people().iter().map(|p| p.first_name.as_str()).collect();
        assert_eq!(names, ["Alice", "B"]);

        let r1 = JobRole::new(&a.id, "Engineer", "Engineering", None, "2024-01-01");
        let mut r2 = JobRole::new(&a.id, "Senior Engineer", "Engineering", None, "2025-01-01");
        store.put_role(r1.clone());
        store.put_role(r2.clone());
        r2.person_id = b.id.clone();
        store.put_role(r2.clone());
        assert_eq!(store.roles_of(&a.id).map(|r| r.id.as_str()).collect::<Vec<_>>(), [r1.id.as_str()]);
        assert_eq!(store.roles_of(&b.id).map(|r| r.id.as_str()).collect::<Vec<_>>(), [r2.id.as_str()]);

        assert!(store.remove_person(&a.id));
        assert!(!store.remove_person(&a.id));
        assert!(store.role(&r1.id).is_none());
        assert_eq!(store.roles().len(), 1);
        assert_eq!(store.people().len(), 1);
        assert_eq!(store.person(&b.id).map(|p| p.first_name.as_str()), Some("B"));
        assert_eq!(store.role(&r2.id).map(|r| r.job_title.as_str()), Some("Senior Engineer"));
    }
}

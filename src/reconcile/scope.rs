//! Scope rules: who gets an account. A person is in scope when any rule matches; with no rules,
//! everyone is (the article's behaviour).
//!
//! A rule is clauses joined by `and`; a clause is `FIELD = VALUE`, `FIELD != VALUE`,
//! `FIELD in (V1, V2, …)` or `FIELD not in (…)`. Fields: `department`, `team`, `contract-type`,
//! `email-domain`, `job-title`, `location`. Keywords and values compare in any case; a value with
//! spaces, commas or parentheses is written in double quotes (`"Customer Success"`, a quote inside
//! doubled: `"The ""A"" team"`). The rules are kept as the operator wrote them and read here on
//! every call: one parser, so the stored text, the preview and the decision cannot disagree.
//!
//! Semantics for what a person may lack: a missing value (no current job role, no place of work)
//! is equal to nothing, so `=`/`in` do not match and `!=`/`not in` do. `team` is a set: `team = X`
//! matches when any of the person's teams is X, `team != X` when none is.

use std::fmt;

use super::model::{JobRole, Person};

/// The fields a clause can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Department,
    Team,
    ContractType,
    EmailDomain,
    JobTitle,
    Location,
}

impl Field {
    const ALL: [(&'static str, Field); 6] = [
        ("department", Field::Department),
        ("team", Field::Team),
        ("contract-type", Field::ContractType),
        ("email-domain", Field::EmailDomain),
        ("job-title", Field::JobTitle),
        ("location", Field::Location),
    ];

    pub fn name(self) -> &'static str {
        Field::ALL.iter().find(|(_, f)| *f == self).map_or("", |(n, _)| n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    field: Field,
    negated: bool,
    /// One value for `=`/`!=`, any number for `in`/`not in`; as written (trimmed).
    values: Vec<String>,
}

/// Parsed scope rules; the default (no rules) admits everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// Each rule's clauses, and the rule as written (for explanations).
    rules: Vec<(Vec<Clause>, String)>,
}

/// A rule that does not read: which (0-based), where (1-based column, in characters), and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub rule: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {}, column {}: {}", self.rule + 1, self.column, self.message)
    }
}

/// What scope says about a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No rules: everyone is in scope.
    Everyone,
    /// In scope by this rule (0-based), written as the operator wrote it.
    Matched { rule: usize, text: String },
    /// No rule matched: why each failed, one clause per rule ("department is Sales").
    Out { why: String },
}

impl Verdict {
    pub fn in_scope(&self) -> bool {
        !matches!(self, Verdict::Out { .. })
    }
}

/// What a person is tested on, borrowed from their records.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    pub department: Option<&'a str>,
    /// The person's teams, one name per line (as `Person::teams` keeps them).
    pub teams: Option<&'a str>,
    pub contract_type: Option<&'a str>,
    pub email: Option<&'a str>,
    pub job_title: Option<&'a str>,
    /// The place of work's name.
    pub location: Option<&'a str>,
}

impl<'a> Facts<'a> {
    /// The person's facts: department and job title from the current job role, the place of
    /// work as the shell filled it in (`humaans::fill_extras`, when a rule tests it).
    pub fn of(person: &'a Person, role: Option<&'a JobRole>) -> Facts<'a> {
        Facts {
            department: role.and_then(|r| r.department()),
            teams: person.teams(),
            contract_type: person.contract_type(),
            email: person.email(),
            job_title: role.and_then(|r| r.job_title()),
            location: person.location(),
        }
    }

    /// The person's values of `field`, trimmed, empty ones left out (several only for teams).
    fn values(&self, field: Field) -> Vec<&'a str> {
        let one = match field {
            Field::Department => self.department,
            Field::ContractType => self.contract_type,
            Field::JobTitle => self.job_title,
            Field::Location => self.location,
            Field::EmailDomain => self.email.and_then(|e| e.rsplit_once('@')).map(|(_, domain)| domain),
            Field::Team => {
                return self.teams.unwrap_or("").split('\n').map(str::trim).filter(|t| !t.is_empty()).collect();
            }
        };
        one.map(str::trim).filter(|v| !v.is_empty()).into_iter().collect()
    }
}

/// Equal in any case (Unicode lower case, so "Zürich" is "ZÜRICH"), without allocating.
fn same(a: &str, b: &str) -> bool {
    a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
}

impl Clause {
    fn matches(&self, facts: &Facts) -> bool {
        let value_matches = |v: &str| {
            self.values.iter().any(|w| {
                let w = if self.field == Field::EmailDomain { w.trim_start_matches('@') } else { w.as_str() };
                same(v, w)
            })
        };
        let any = facts.values(self.field).into_iter().any(value_matches);
        any != self.negated
    }

    /// Why the clause failed, in words: "department is Sales", "no team is Growth".
    fn failure(&self, facts: &Facts) -> String {
        let name = self.field.name();
        let found = facts.values(self.field);
        let shown = |vs: &[&str]| vs.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ");
        match (self.negated, found.is_empty()) {
            (false, true) => format!("{name} is empty"),
            (false, false) if self.field == Field::Team => format!("teams are {}", shown(&found)),
            (false, false) => format!("{name} is {}", shown(&found)),
            (true, _) => {
                let hit: Vec<&str> = found
                    .into_iter()
                    .filter(|v| self.values.iter().any(|w| same(v, w.trim_start_matches('@'))))
                    .collect();
                format!("{name} is {}", shown(&hit))
            }
        }
    }
}

impl Rules {
    /// Reads the rules; the first that does not read is the error.
    pub fn parse(texts: &[String]) -> Result<Rules, RuleError> {
        let mut rules = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            let clauses =
                Parser::new(text).rule().map_err(|(column, message)| RuleError { rule: i, column, message })?;
            rules.push((clauses, text.trim().to_owned()));
        }
        Ok(Rules { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether the rules test `field` (the shell reads places of work only when they do).
    pub fn uses(&self, field: Field) -> bool {
        self.rules.iter().flat_map(|(c, _)| c).any(|c| c.field == field)
    }

    pub fn verdict(&self, facts: &Facts) -> Verdict {
        if self.rules.is_empty() {
            return Verdict::Everyone;
        }
        let mut why = Vec::with_capacity(self.rules.len());
        for (i, (clauses, text)) in self.rules.iter().enumerate() {
            match clauses.iter().find(|c| !c.matches(facts)) {
                None => return Verdict::Matched { rule: i, text: text.clone() },
                Some(failed) => why.push(failed.failure(facts)),
            }
        }
        let why = if why.len() == 1 {
            why.remove(0)
        } else {
            why.iter().enumerate().map(|(i, w)| format!("rule {}: {w}", i + 1)).collect::<Vec<_>>().join("; ")
        };
        Verdict::Out { why }
    }
}

/// A rule's reader: characters with their 1-based columns.
struct Parser {
    chars: Vec<char>,
    at: usize,
}

type Parsed<T> = Result<T, (usize, String)>;

impl Parser {
    fn new(text: &str) -> Parser {
        Parser { chars: text.chars().collect(), at: 0 }
    }

    fn column(&self) -> usize {
        self.at + 1
    }

    fn skip_spaces(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_spaces();
        self.chars.get(self.at).copied()
    }

    /// An error at the next thing written (spaces skipped).
    fn fail<T>(&mut self, message: impl Into<String>) -> Parsed<T> {
        self.skip_spaces();
        Err((self.column(), message.into()))
    }

    /// A bare word: letters, digits and `-`, `_`, `.`, `@`, `&`, `'`, `/`, `+`.
    fn word(&mut self) -> Option<(usize, String)> {
        self.skip_spaces();
        let start = self.at;
        while self.chars.get(self.at).is_some_and(|c| !c.is_whitespace() && !"=!(),\"".contains(*c)) {
            self.at += 1;
        }
        (self.at > start).then(|| (start + 1, self.chars[start..self.at].iter().collect()))
    }

    fn keyword(&mut self, word: &str) -> bool {
        let save = self.at;
        match self.word() {
            Some((_, w)) if w.eq_ignore_ascii_case(word) => true,
            _ => {
                self.at = save;
                false
            }
        }
    }

    fn rule(&mut self) -> Parsed<Vec<Clause>> {
        if self.peek().is_none() {
            return self.fail("the rule is empty (use `--scope none` to remove every rule)");
        }
        let mut clauses = vec![self.clause()?];
        loop {
            if self.peek().is_none() {
                return Ok(clauses);
            }
            if !self.keyword("and") {
                return self.fail(
                    "expected `and` or the end of the rule (a value with spaces or commas goes in double quotes, e.g. \"Customer Success\"; for either of two rules, give --scope twice)",
                );
            }
            clauses.push(self.clause()?);
        }
    }

    fn clause(&mut self) -> Parsed<Clause> {
        self.skip_spaces();
        let Some((column, name)) = self.word() else {
            return self.fail(format!("expected a field: {}", field_names()));
        };
        let Some(field) = Field::ALL.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name)).map(|(_, f)| *f) else {
            return Err((column, format!("`{name}` is not a field; the fields are {}", field_names())));
        };
        match self.peek() {
            Some('=') => {
                self.at += 1;
                Ok(Clause { field, negated: false, values: vec![self.value()?] })
            }
            Some('!') if self.chars.get(self.at + 1) == Some(&'=') => {
                self.at += 2;
                Ok(Clause { field, negated: true, values: vec![self.value()?] })
            }
            _ => {
                let negated = self.keyword("not");
                if !self.keyword("in") {
                    let expected = if negated { "expected `in` after `not`" } else { "expected =, !=, in or not in" };
                    return self.fail(expected);
                }
                Ok(Clause { field, negated, values: self.list()? })
            }
        }
    }

    fn list(&mut self) -> Parsed<Vec<String>> {
        if self.peek() != Some('(') {
            return self.fail("expected `(` to start the list of values, e.g. (Sales, Marketing)");
        }
        self.at += 1;
        let mut values = vec![self.value()?];
        loop {
            match self.peek() {
                Some(',') => {
                    self.at += 1;
                    values.push(self.value()?);
                }
                Some(')') => {
                    self.at += 1;
                    return Ok(values);
                }
                Some(_) => return self.fail("expected `,` or `)` (quote a value with spaces)"),
                None => return self.fail("the list is not closed: expected `)`"),
            }
        }
    }

    fn value(&mut self) -> Parsed<String> {
        match self.peek() {
            Some('"') => {
                let open = self.column();
                self.at += 1;
                let mut text = String::new();
                loop {
                    match self.chars.get(self.at) {
                        None => return Err((open, "the quoted value is not closed: expected `\"`".into())),
                        Some('"') if self.chars.get(self.at + 1) == Some(&'"') => {
                            text.push('"');
                            self.at += 2;
                        }
                        Some('"') => {
                            self.at += 1;
                            break;
                        }
                        Some(c) => {
                            text.push(*c);
                            self.at += 1;
                        }
                    }
                }
                let text = text.trim().to_owned();
                if text.is_empty() {
                    return Err((open, "a value cannot be empty".into()));
                }
                Ok(text)
            }
            None => self.fail("expected a value"),
            Some(_) => match self.word() {
                Some((_, w)) => Ok(w),
                None => self.fail("expected a value (quote one that starts with a sign: \"=x\")"),
            },
        }
    }
}

fn field_names() -> String {
    Field::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;

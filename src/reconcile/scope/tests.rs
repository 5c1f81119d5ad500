use super::*;

fn rules(texts: &[&str]) -> Rules {
    Rules::parse(&texts.iter().map(|t| t.to_string()).collect::<Vec<_>>()).unwrap()
}

fn error(text: &str) -> RuleError {
    Rules::parse(&[text.to_string()]).unwrap_err()
}

fn ada() -> Facts<'static> {
    Facts {
        department: Some("Engineering"),
        teams: Some("Moonshot\nGrowth Pod"),
        contract_type: Some("Full time"),
        email: Some("ada@Acme.test"),
        job_title: Some("Staff Engineer"),
        location: Some("Zürich"),
    }
}

#[test]
fn no_rules_admit_everyone() {
    assert_eq!(Rules::default().verdict(&ada()), Verdict::Everyone);
    assert_eq!(rules(&[]).verdict(&Facts::default()), Verdict::Everyone);
}

#[test]
fn each_field_and_operator_matches_in_any_case() {
    let yes = [
        "department = engineering",
        "DEPARTMENT = Engineering",
        "department != Sales",
        "department in (Sales, ENGINEERING)",
        "department not in (Sales, Marketing)",
        "team = moonshot",
        "team = \"Growth Pod\"",
        "team != Payroll",
        "team in (Payroll, \"growth pod\")",
        "team not in (Payroll, Finance)",
        "contract-type = \"full time\"",
        "email-domain = acme.test",
        "email-domain = @ACME.TEST",
        "email-domain in (other.test, acme.test)",
        "job-title = \"Staff Engineer\"",
        "location = ZÜRICH",
        "location in (Berlin, zürich)",
        "department = Engineering and location = Zürich and team = Moonshot",
        "department = Engineering AND team not in (Payroll)",
    ];
    for text in yes {
        assert!(rules(&[text]).verdict(&ada()).in_scope(), "{text}");
    }
    let no = [
        "department = Sales",
        "department != engineering",
        "department in (Sales, Marketing)",
        "department not in (engineering)",
        "team = Payroll",
        "team != Moonshot",
        "team not in (Payroll, \"Growth Pod\")",
        "contract-type = \"Part time\"",
        "email-domain = other.test",
        "job-title = Engineer",
        "location = Berlin",
        "department = Engineering and location = Berlin",
    ];
    for text in no {
        assert!(!rules(&[text]).verdict(&ada()).in_scope(), "{text}");
    }
}

#[test]
fn any_rule_matching_is_enough_and_the_match_is_named() {
    let r = rules(&["department = Sales", "  team = Moonshot "]);
    assert_eq!(r.verdict(&ada()), Verdict::Matched { rule: 1, text: "team = Moonshot".into() });
}

#[test]
fn a_person_out_of_scope_is_told_why_per_rule() {
    let r = rules(&["department = Sales", "location in (Berlin, Paris) and team = Moonshot"]);
    assert_eq!(
        r.verdict(&ada()),
        Verdict::Out { why: "rule 1: department is \"Engineering\"; rule 2: location is \"Zürich\"".into() }
    );
    let one = rules(&["team != Moonshot"]);
    assert_eq!(one.verdict(&ada()), Verdict::Out { why: "team is \"Moonshot\"".into() });
    let teams = rules(&["team = Payroll"]);
    assert_eq!(teams.verdict(&ada()), Verdict::Out { why: "teams are \"Moonshot\", \"Growth Pod\"".into() });
}

/// Missing values equal nothing: `=`/`in` fail, `!=`/`not in` pass.
#[test]
fn missing_values_match_only_negations() {
    let nobody = Facts::default();
    assert!(!rules(&["department = Engineering"]).verdict(&nobody).in_scope());
    assert!(!rules(&["team in (Moonshot)"]).verdict(&nobody).in_scope());
    assert!(rules(&["department != Engineering"]).verdict(&nobody).in_scope());
    assert!(rules(&["location not in (Berlin)"]).verdict(&nobody).in_scope());
    assert_eq!(rules(&["location = Berlin"]).verdict(&nobody), Verdict::Out { why: "location is empty".into() });
    let blank = Facts { department: Some("  "), teams: Some("\n \n"), ..Facts::default() };
    assert!(!rules(&["department = Engineering"]).verdict(&blank).in_scope());
    assert!(rules(&["team != Moonshot"]).verdict(&blank).in_scope());
}

#[test]
fn quotes_keep_commas_spaces_and_doubled_quotes() {
    let facts = Facts { department: Some("R&D, Core"), ..Facts::default() }.with_team("The \"A\" team");
    assert!(rules(&["department = \"R&D, Core\""]).verdict(&facts).in_scope());
    assert!(rules(&["department in (\"R&D, Core\", Sales)"]).verdict(&facts).in_scope());
    assert!(rules(&["team = \"The \"\"A\"\" team\""]).verdict(&facts).in_scope());
    assert!(rules(&["department = R&D"]).verdict(&Facts { department: Some("r&d"), ..Facts::default() }).in_scope());
}

#[test]
fn malformed_rules_are_refused_with_the_column() {
    let cases: [(&str, usize, &str); 12] = [
        ("", 1, "the rule is empty"),
        ("   ", 4, "the rule is empty"),
        ("dept = Sales", 1, "`dept` is not a field; the fields are department, team"),
        ("department Sales", 12, "expected =, !=, in or not in"),
        ("department =", 13, "expected a value"),
        ("department = Customer Success", 23, "expected `and` or the end of the rule"),
        ("department in Sales", 15, "expected `(`"),
        ("department in (Sales, Marketing", 32, "the list is not closed"),
        ("department in (Sales Marketing)", 22, "expected `,` or `)`"),
        ("department not Sales", 16, "expected `in` after `not`"),
        ("team = \"Growth", 8, "the quoted value is not closed"),
        ("team = Moonshot or team = Growth", 17, "expected `and` or the end of the rule"),
    ];
    for (text, column, message) in cases {
        let e = error(text);
        assert_eq!((e.rule, e.column), (0, column), "{text}: {e}");
        assert!(e.message.starts_with(message), "{text}: {e}");
    }
    let second = Rules::parse(&["team = A".to_string(), "team = \"\"".to_string()]).unwrap_err();
    assert_eq!(second.to_string(), "rule 2, column 8: a value cannot be empty");
    assert_eq!(error("location != ").to_string(), "rule 1, column 13: expected a value");
}

#[test]
fn the_rules_say_which_fields_they_use() {
    let r = rules(&["department = Sales", "location = Berlin and team = A"]);
    assert!(r.uses(Field::Location) && r.uses(Field::Team) && !r.uses(Field::JobTitle));
    assert!(!Rules::default().uses(Field::Location));
}

impl<'a> Facts<'a> {
    fn with_team(mut self, team: &'a str) -> Self {
        self.teams = Some(team);
        self
    }
}

/// A thousand random rules over random people: parsing what `render` writes gives the same
/// rules back, and a rule's verdict equals the clauses' conjunction evaluated directly.
#[test]
fn random_rules_read_back_and_decide_as_their_clauses_say() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let words = ["Sales", "Engineering", "Growth Pod", "R&D, Core", "Zürich", "acme.test", "Full time"];
    let fields = Field::ALL;
    for _ in 0..1000 {
        let mut text = String::new();
        let mut expected_clauses = Vec::new();
        for c in 0..1 + next(3) {
            if c > 0 {
                text.push_str([" and ", " AND ", "  and\t"][next(3)]);
            }
            let (name, field) = fields[next(fields.len())];
            let negated = next(2) == 1;
            let values: Vec<String> = (0..1 + next(3)).map(|_| words[next(words.len())].to_string()).collect();
            let quoted = |v: &String| format!("\"{}\"", v.replace('"', "\"\""));
            if values.len() == 1 && next(2) == 0 {
                text.push_str(&format!("{name} {} {}", if negated { "!=" } else { "=" }, quoted(&values[0])));
            } else {
                let list = values.iter().map(quoted).collect::<Vec<_>>().join(", ");
                text.push_str(&format!("{name} {}in ({list})", if negated { "not " } else { "" }));
            }
            expected_clauses.push(Clause { field, negated, values });
        }
        let parsed = rules(&[&text]);
        assert_eq!(parsed.rules[0].0, expected_clauses, "{text}");
        let facts = Facts {
            department: Some(words[next(words.len())]),
            teams: Some(["Growth Pod", "Sales\nR&D, Core", ""][next(3)]),
            contract_type: Some(words[next(words.len())]),
            email: Some(["a@acme.test", "b@other.test"][next(2)]),
            job_title: None,
            location: Some(words[next(words.len())]),
        };
        let direct = expected_clauses.iter().all(|c| c.matches(&facts));
        assert_eq!(parsed.verdict(&facts).in_scope(), direct, "{text}");
    }
}

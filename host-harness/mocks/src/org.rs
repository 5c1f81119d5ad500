//! A deterministic, realistic Humaans organisation for tests and load runs: a CEO, department
//! heads, manager chains three to four levels deep (five above 2,500 people), international names (some non-ASCII), unique
//! work emails, about 5% new hires starting soon and 5% people who have left, and job histories
//! where the current role is not always the only or the first one.

use std::collections::{HashSet, VecDeque};

use crate::humaans::dates::{days_from_civil, format_date, parse_date, timestamp_on};
use crate::humaans::{
    Company, HumaansSeed, JobRole, Person, STATUS_ACTIVE, STATUS_NEW_HIRE, STATUS_OFFBOARDED, Team, WorkingDay,
    id_from, splitmix64,
};

/// The domain of generated work emails.
pub const EMAIL_DOMAIN: &str = "acme.test";

/// xorshift64*: tiny, fast and good enough for test data; no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // SplitMix the seed so that small seeds (0, 1, 2) start far apart and never at zero.
        let mut s = seed;
        let mixed = splitmix64(&mut s);
        Rng(if mixed == 0 { 0x9E37_79B9_7F4A_7C15 } else { mixed })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next() >> 11) * u128::from(n)) >> 53) as u64
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo { lo } else { lo + self.below((hi - lo + 1) as u64) as i64 }
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn weighted<'a, T>(&mut self, items: &'a [(T, u64)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total);
        for (item, weight) in items {
            if roll < *weight {
                return item;
            }
            roll -= weight;
        }
        &items[items.len() - 1].0
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }

    fn id(&mut self) -> String {
        id_from(|| self.next())
    }
}

struct Department {
    name: &'static str,
    weight: u64,
    head: &'static str,
    manager: &'static str,
    lead: &'static str,
    /// (junior, senior) individual-contributor titles.
    ics: &'static [(&'static str, &'static str)],
    teams: &'static [&'static str],
}

const DEPARTMENTS: &[Department] = &[
    Department {
        name: "Engineering",
        weight: 30,
        head: "VP of Engineering",
        manager: "Engineering Manager",
        lead: "Tech Lead",
        ics: &[
            ("Software Engineer", "Senior Software Engineer"),
            ("QA Engineer", "Senior QA Engineer"),
            ("Site Reliability Engineer", "Senior Site Reliability Engineer"),
            ("Data Engineer", "Senior Data Engineer"),
        ],
        teams: &["Platform", "Payments", "Mobile", "Data", "Infrastructure", "Integrations"],
    },
    Department {
        name: "Sales",
        weight: 16,
        head: "VP of Sales",
        manager: "Sales Director",
        lead: "Sales Team Lead",
        ics: &[
            ("Sales Development Representative", "Senior Sales Development Representative"),
            ("Account Executive", "Senior Account Executive"),
        ],
        teams: &["EMEA Sales", "North America Sales", "APAC Sales", "Partnerships"],
    },
    Department {
        name: "Customer Success",
        weight: 14,
        head: "VP of Customer Success",
        manager: "Customer Success Director",
        lead: "Support Team Lead",
        ics: &[
            ("Customer Success Manager", "Senior Customer Success Manager"),
            ("Support Specialist", "Senior Support Specialist"),
        ],
        teams: &["Onboarding", "Support", "Enterprise Accounts"],
    },
    Department {
        name: "Product",
        weight: 9,
        head: "Chief Product Officer",
        manager: "Group Product Manager",
        lead: "Design Lead",
        ics: &[
            ("Product Manager", "Senior Product Manager"),
            ("Product Designer", "Senior Product Designer"),
            ("UX Researcher", "Senior UX Researcher"),
        ],
        teams: &["Core Product", "Growth", "Design System"],
    },
    Department {
        name: "Marketing",
        weight: 9,
        head: "Head of Marketing",
        manager: "Marketing Manager",
        lead: "Content Lead",
        ics: &[
            ("Marketing Executive", "Senior Marketing Executive"),
            ("Content Writer", "Senior Content Writer"),
            ("Growth Marketer", "Senior Growth Marketer"),
        ],
        teams: &["Brand", "Demand Generation", "Content"],
    },
    Department {
        name: "People",
        weight: 6,
        head: "Chief People Officer",
        manager: "People Operations Manager",
        lead: "Talent Acquisition Lead",
        ics: &[("People Partner", "Senior People Partner"), ("Recruiter", "Senior Recruiter")],
        teams: &["Talent", "People Operations"],
    },
    Department {
        name: "Finance",
        weight: 6,
        head: "Chief Financial Officer",
        manager: "Finance Director",
        lead: "Financial Controller",
        ics: &[("Accountant", "Senior Accountant"), ("Financial Analyst", "Senior Financial Analyst")],
        teams: &["Accounting", "FP&A"],
    },
    Department {
        name: "Legal",
        weight: 3,
        head: "General Counsel",
        manager: "Legal Manager",
        lead: "Senior Counsel",
        ics: &[("Legal Counsel", "Senior Legal Counsel"), ("Paralegal", "Senior Paralegal")],
        teams: &["Legal"],
    },
];

const FIRST_NAMES: &[(&str, &str)] = &[
    ("José", "Male"),
    ("Zoë", "Female"),
    ("Łukasz", "Male"),
    ("Søren", "Male"),
    ("Chloé", "Female"),
    ("François", "Male"),
    ("Björn", "Male"),
    ("Siobhán", "Female"),
    ("Małgorzata", "Female"),
    ("Jürgen", "Male"),
    ("Noémie", "Female"),
    ("Åsa", "Female"),
    ("Tomás", "Male"),
    ("Inés", "Female"),
    ("Gaël", "Male"),
    ("Hélène", "Female"),
    ("Ana", "Female"),
    ("Mohammed", "Male"),
    ("Aisha", "Female"),
    ("Wei", "Male"),
    ("Yuki", "Female"),
    ("Hiroshi", "Male"),
    ("Priya", "Female"),
    ("Arjun", "Male"),
    ("Olivia", "Female"),
    ("Oliver", "Male"),
    ("Amelia", "Female"),
    ("George", "Male"),
    ("Emma", "Female"),
    ("Liam", "Male"),
    ("Sophie", "Female"),
    ("Lucas", "Male"),
    ("Mia", "Female"),
    ("Noah", "Male"),
    ("Hannah", "Female"),
    ("Daniel", "Male"),
    ("Grace", "Female"),
    ("Samuel", "Male"),
    ("Isla", "Female"),
    ("Mateo", "Male"),
    ("Lucía", "Female"),
    ("Kwame", "Male"),
    ("Ama", "Female"),
    ("Sipho", "Male"),
    ("Thandiwe", "Female"),
    ("Freya", "Female"),
    ("Magnus", "Male"),
    ("Astrid", "Female"),
    ("Jakub", "Male"),
    ("Zofia", "Female"),
    ("Dmitri", "Male"),
    ("Katarzyna", "Female"),
    ("Alexander", "Male"),
    ("Katherine", "Female"),
    ("William", "Male"),
    ("Elizabeth", "Female"),
    ("Jonathan", "Male"),
    ("Alex", "Non-binary"),
    ("Robin", "Non-binary"),
    ("Charlie", "Non-binary"),
];

const NICKNAMES: &[(&str, &str)] = &[
    ("Alexander", "Alex"),
    ("Katherine", "Kate"),
    ("William", "Will"),
    ("Elizabeth", "Liz"),
    ("Jonathan", "Jon"),
    ("Małgorzata", "Gosia"),
    ("Katarzyna", "Kasia"),
    ("Samuel", "Sam"),
    ("Daniel", "Dan"),
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Davies",
    "Patel",
    "Khan",
    "O'Brien",
    "Murphy",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Becker",
    "García",
    "Martínez",
    "López",
    "González",
    "Rodríguez",
    "Fernández",
    "Dubois",
    "Lefèvre",
    "Moreau",
    "Girard",
    "Nowak",
    "Kowalski",
    "Wiśniewski",
    "Wójcik",
    "Jørgensen",
    "Østergaard",
    "Hansen",
    "Nielsen",
    "Andersson",
    "Lindström",
    "Åberg",
    "Tanaka",
    "Suzuki",
    "Takahashi",
    "Watanabe",
    "Kim",
    "Lee",
    "Chen",
    "Wang",
    "Nguyen",
    "Singh",
    "Sharma",
    "Okafor",
    "Mensah",
    "Rossi",
    "Bianchi",
    "Ferrari",
    "van der Berg",
    "de Vries",
    "Brontë",
    "Çelik",
    "Yılmaz",
    "Żak",
    "Novák",
    "Dvořák",
    "Smith-Jones",
];

struct Place {
    timezone: &'static str,
    country_code: &'static str,
    country: &'static str,
    city: &'static str,
    calendar: &'static str,
    nationality: &'static str,
    language: &'static str,
    streets: &'static [&'static str],
    /// E.164 prefix of a fictional-range number and how many random digits follow it.
    phone_prefix: &'static str,
    phone_digits: u32,
    /// Where to put spaces in the formatted number (after how many characters of the E.164 form).
    phone_breaks: &'static [usize],
    /// `#` is a random digit, `@` a random capital letter, anything else is kept.
    postcode: &'static str,
    state: Option<&'static str>,
}

const PLACES: &[(Place, u64)] = &[
    (
        Place {
            timezone: "Europe/London",
            country_code: "GB",
            country: "United Kingdom",
            city: "London",
            calendar: "GB-ENG",
            nationality: "British",
            language: "English",
            streets: &["High Street", "Station Road", "Church Lane", "Victoria Road"],
            phone_prefix: "+447700900",
            phone_digits: 3,
            phone_breaks: &[3, 7],
            postcode: "@# #@@",
            state: None,
        },
        48,
    ),
    (
        Place {
            timezone: "Europe/Berlin",
            country_code: "DE",
            country: "Germany",
            city: "Berlin",
            calendar: "DE-BE",
            nationality: "German",
            language: "German",
            streets: &["Hauptstraße", "Schillerstraße", "Friedrichstraße"],
            phone_prefix: "+4930",
            phone_digits: 7,
            phone_breaks: &[3, 5],
            postcode: "1####",
            state: None,
        },
        14,
    ),
    (
        Place {
            timezone: "America/New_York",
            country_code: "US",
            country: "United States",
            city: "New York",
            calendar: "US-NY",
            nationality: "American",
            language: "English",
            streets: &["Broadway", "5th Avenue", "Madison Avenue"],
            phone_prefix: "+121255501",
            phone_digits: 2,
            phone_breaks: &[2, 5, 8],
            postcode: "100##",
            state: Some("NY"),
        },
        14,
    ),
    (
        Place {
            timezone: "Europe/Paris",
            country_code: "FR",
            country: "France",
            city: "Paris",
            calendar: "FR",
            nationality: "French",
            language: "French",
            streets: &["Rue de Rivoli", "Boulevard Haussmann", "Rue du Faubourg Saint-Honoré"],
            phone_prefix: "+331",
            phone_digits: 8,
            phone_breaks: &[3, 4, 6, 8, 10],
            postcode: "750##",
            state: None,
        },
        7,
    ),
    (
        Place {
            timezone: "Europe/Madrid",
            country_code: "ES",
            country: "Spain",
            city: "Madrid",
            calendar: "ES-MD",
            nationality: "Spanish",
            language: "Spanish",
            streets: &["Calle de Alcalá", "Gran Vía", "Calle Mayor"],
            phone_prefix: "+3491",
            phone_digits: 7,
            phone_breaks: &[3, 5, 8, 10],
            postcode: "280##",
            state: None,
        },
        6,
    ),
    (
        Place {
            timezone: "Europe/Warsaw",
            country_code: "PL",
            country: "Poland",
            city: "Warsaw",
            calendar: "PL",
            nationality: "Polish",
            language: "Polish",
            streets: &["ulica Marszałkowska", "Aleje Jerozolimskie", "ulica Świętokrzyska"],
            phone_prefix: "+4822",
            phone_digits: 7,
            phone_breaks: &[3, 5, 8, 10],
            postcode: "0#-###",
            state: None,
        },
        6,
    ),
    (
        Place {
            timezone: "Asia/Tokyo",
            country_code: "JP",
            country: "Japan",
            city: "Tokyo",
            calendar: "JP",
            nationality: "Japanese",
            language: "Japanese",
            streets: &["Chuo-dori", "Omotesando", "Meiji-dori"],
            phone_prefix: "+813",
            phone_digits: 8,
            phone_breaks: &[3, 4, 8],
            postcode: "1##-####",
            state: None,
        },
        5,
    ),
];

/// Lowercase ASCII for an email local part: diacritics folded (é→e, ø→o, ł→l, ß→ss), anything
/// else that is not a letter, digit or hyphen dropped (apostrophes, spaces).
pub fn ascii_fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'a'..='z' | '0'..='9' | '-' => {
                out.push(c);
                continue;
            }
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ā' | 'ą' => "a",
            'æ' => "ae",
            'ç' | 'ć' | 'č' => "c",
            'ď' | 'đ' => "d",
            'é' | 'è' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
            'ğ' => "g",
            'í' | 'ì' | 'î' | 'ï' | 'ī' | 'ı' => "i",
            'ł' => "l",
            'ñ' | 'ń' | 'ň' => "n",
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ō' | 'ő' => "o",
            'œ' => "oe",
            'ř' => "r",
            'ś' | 'š' | 'ş' => "s",
            'ß' => "ss",
            'ť' => "t",
            'ú' | 'ù' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
            'ý' | 'ÿ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            _ => "",
        };
        out.push_str(folded);
    }
    out
}

/// One person while the organisation is being laid out.
struct Draft {
    /// Index into `DEPARTMENTS`; `None` for the CEO.
    department: Option<usize>,
    manager: Option<usize>,
    depth: u32,
    reports: u32,
}

/// Leavers started at least this many days before `today`, so they worked a while.
const OFFBOARDED_LATEST_START: i64 = 200;

/// The deepest level that manages anyone: CEO 0, head 1, manager 2, team lead 3, so the
/// longest chain above an individual contributor is four managers. Organisations too large for
/// that at spans of four to eight get one more level, rather than teams of a hundred.
fn max_manager_depth(employees: usize) -> u32 {
    if employees > 2500 { 4 } else { 3 }
}

/// Generates `employees` people (counting everyone: active, new hires and leavers) with their job
/// roles. The same `seed` and `today` (`YYYY-MM-DD`) always give the same organisation.
///
/// Invariants: exactly one person (the CEO) has a current role without `reportingTo`; every
/// `reportingTo` names a generated person and the chains have no cycles; work emails are unique
/// lowercase ASCII `first.last@acme.test`; new hires start after `today`, leavers' last working
/// day is before it; each person has exactly one role in effect on `today` (new hires: on their
/// start date). Everyone joined after their manager, and active people report to active people.
/// About 15% of people have an older, ended role (a promotion) and about 2% a
/// future-dated change, so neither "the first role" nor "the role without an end date" is
/// always the current one.
pub fn generate_org(employees: usize, seed: u64, today: &str) -> HumaansSeed {
    let today_day = parse_date(today).unwrap_or_else(|| panic!("today must be YYYY-MM-DD, got {today:?}"));
    let mut rng = Rng::new(seed);
    let founded = today_day - 9 * 365;
    let mut company = Company::new("Acme Ltd");
    company.id = rng.id();
    company.domains = vec![EMAIL_DOMAIN.into()];
    company.created_at = timestamp_on(&format_date(founded), 9);
    company.updated_at = company.created_at.clone();

    let drafts = lay_out(employees, &mut rng);
    let n = drafts.len();

    // Everyone joins after their manager, so no job role, past or present, names a manager who
    // had not started yet.
    let mut starts = vec![founded; n];
    for i in 1..n {
        starts[i] = match (drafts[i].depth, drafts[i].manager) {
            (1, _) | (_, None) => founded + rng.between(0, 730),
            // Deeper levels end their window earlier, so that a manager who joined at the end of
            // theirs still leaves two weeks for their reports.
            (depth, Some(m)) => rng.between(starts[m] + 14, today_day - 14 * (6 - i64::from(depth)).max(1)),
        };
    }

    // Statuses go to individual contributors only, so that no active person reports to
    // someone who has left or not yet started.
    let mut leaves: Vec<usize> = (0..n).filter(|&i| drafts[i].reports == 0 && drafts[i].depth >= 2).collect();
    rng.shuffle(&mut leaves);
    let share = |percent: f64| (n as f64 * percent / 100.0).round() as usize;
    let mut statuses = vec![Status::Active; n];
    let mut pending = leaves.into_iter().collect::<VecDeque<_>>();
    for (status, count) in
        [(Status::NewHire, share(5.0)), (Status::Offboarded, share(5.0)), (Status::Leaving, share(1.0))]
    {
        let mut skipped = Vec::new();
        let mut given = 0;
        while given < count
            && let Some(i) = pending.pop_front()
        {
            // A leaver needs a manager who was there long enough before they left.
            let manager_start = drafts[i].manager.map_or(founded, |m| starts[m]);
            if status == Status::Offboarded && manager_start + 14 > today_day - OFFBOARDED_LATEST_START {
                skipped.push(i);
                continue;
            }
            statuses[i] = status;
            given += 1;
            starts[i] = match status {
                Status::NewHire => today_day + rng.between(3, 60),
                Status::Offboarded => rng.between(manager_start + 14, today_day - OFFBOARDED_LATEST_START),
                _ => starts[i],
            };
        }
        pending.extend(skipped);
    }
    let mut team_managers = vec![Vec::new(); DEPARTMENTS.len()];
    for (i, draft) in drafts.iter().enumerate() {
        if let Some(d) = draft.department.filter(|_| draft.depth >= 2 && draft.reports > 0) {
            team_managers[d].push(i);
        }
    }
    let ids: Vec<String> = (0..n).map(|_| rng.id()).collect();
    let mut emails = HashSet::new();
    let mut people = Vec::with_capacity(n);
    let mut roles_by_person = Vec::with_capacity(n);
    let ctx = Ctx {
        today: today_day,
        founded,
        company_id: &company.id,
        ids: &ids,
        drafts: &drafts,
        starts: &starts,
        team_managers: &team_managers,
    };
    for (i, &status) in statuses.iter().enumerate() {
        let person = make_person(&ctx, i, status, &mut rng, &mut emails);
        let roles = make_roles(&ctx, i, &person, status, &mut rng);
        people.push(person);
        roles_by_person.push(roles);
    }

    // API order is creation order in Humaans, which need not put managers before their reports.
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let mut people: Vec<Option<Person>> = people.into_iter().map(Some).collect();
    let job_roles = order.iter().flat_map(|&i| std::mem::take(&mut roles_by_person[i])).collect();
    let people = order.iter().filter_map(|&i| people[i].take()).collect();
    HumaansSeed { company, people, job_roles }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    /// Active, with a last working day after `today`.
    Leaving,
    NewHire,
    Offboarded,
}

/// Builds the reporting tree: CEO, one head per department, then everyone else fills their
/// department breadth-first, each manager taking four to eight reports, down to team leads.
/// When every possible manager is full, team leads' teams grow.
fn lay_out(employees: usize, rng: &mut Rng) -> Vec<Draft> {
    let mut drafts = Vec::with_capacity(employees);
    if employees == 0 {
        return drafts;
    }
    let deepest_manager = max_manager_depth(employees);
    drafts.push(Draft { department: None, manager: None, depth: 0, reports: 0 });
    let heads = DEPARTMENTS.len().min(employees - 1);
    let mut open: Vec<VecDeque<(usize, u32)>> = vec![VecDeque::new(); heads];
    // Per department, the people at the deepest managing level: the fallback when everyone
    // who could manage has a full team.
    let mut leads: Vec<Vec<usize>> = vec![Vec::new(); heads];
    for (d, queue) in open.iter_mut().enumerate() {
        let index = drafts.len();
        drafts.push(Draft { department: Some(d), manager: Some(0), depth: 1, reports: 0 });
        drafts[0].reports += 1;
        queue.push_back((index, rng.between(4, 7) as u32));
    }
    let weights: Vec<(usize, u64)> = (0..heads).map(|d| (d, DEPARTMENTS[d].weight)).collect();
    while drafts.len() < employees {
        let d = *rng.weighted(&weights);
        if open[d].is_empty() {
            // Every possible manager is full: every team lead takes two more, in turn, so teams
            // grow evenly.
            open[d].extend(leads[d].iter().map(|&lead| (lead, 2)));
        }
        let Some((manager, capacity)) = open[d].front_mut() else {
            unreachable!("a department with a full tree has team leads")
        };
        let manager = *manager;
        *capacity -= 1;
        if *capacity == 0 {
            open[d].pop_front();
        }
        let index = drafts.len();
        let depth = drafts[manager].depth + 1;
        drafts.push(Draft { department: Some(d), manager: Some(manager), depth, reports: 0 });
        drafts[manager].reports += 1;
        if depth == deepest_manager {
            leads[d].push(index);
        }
        if depth <= deepest_manager {
            open[d].push_back((index, rng.between(4, 8) as u32));
        }
    }
    drafts
}

struct Ctx<'a> {
    today: i64,
    founded: i64,
    company_id: &'a str,
    ids: &'a [String],
    drafts: &'a [Draft],
    starts: &'a [i64],
    /// Per department, the managers below the head (where someone could move teams to).
    team_managers: &'a [Vec<usize>],
}

impl Ctx<'_> {
    fn title(&self, i: usize, senior: bool) -> &'static str {
        let draft = &self.drafts[i];
        let Some(d) = draft.department else {
            return "Chief Executive Officer";
        };
        let dept = &DEPARTMENTS[d];
        let (junior, senior_title) = dept.ics[i % dept.ics.len()];
        match (draft.depth, draft.reports > 0) {
            (1, _) => dept.head,
            (2, true) => dept.manager,
            (_, true) => dept.lead,
            _ if senior => senior_title,
            _ => junior,
        }
    }

    /// The title someone held before their current one.
    fn previous_title(&self, i: usize) -> &'static str {
        let draft = &self.drafts[i];
        let dept = &DEPARTMENTS[draft.department.expect("the CEO has no previous role")];
        let (junior, senior) = dept.ics[i % dept.ics.len()];
        match (draft.depth, draft.reports > 0) {
            (1, _) => dept.manager,
            (_, true) => senior,
            _ => junior,
        }
    }

    /// The team of everyone under the same department manager (depth 2).
    fn team(&self, i: usize) -> Option<&'static str> {
        let mut at = i;
        while self.drafts[at].depth > 2 {
            at = self.drafts[at].manager?;
        }
        let draft = &self.drafts[at];
        let dept = &DEPARTMENTS[draft.department?];
        (draft.depth == 2).then(|| dept.teams[at % dept.teams.len()])
    }
}

fn make_person(ctx: &Ctx, i: usize, status: Status, rng: &mut Rng, emails: &mut HashSet<String>) -> Person {
    let draft = &ctx.drafts[i];
    let (first, gender) = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let place = rng.weighted(PLACES);

    let base = format!("{}.{}", ascii_fold(first), ascii_fold(last));
    let mut email = format!("{base}@{EMAIL_DOMAIN}");
    let mut n = 2;
    while !emails.insert(email.clone()) {
        email = format!("{base}{n}@{EMAIL_DOMAIN}");
        n += 1;
    }

    let start = ctx.starts[i];
    let leaving_day = match status {
        Status::Offboarded => Some(rng.between(start + 90, ctx.today - 1)),
        Status::Leaving => Some(ctx.today + rng.between(7, 60)),
        _ => None,
    };

    let contract = match draft.depth {
        0 | 1 => "Full time",
        _ => *rng.weighted(&[("Full time", 80), ("Part time", 10), ("Contractor", 10)]),
    };
    let week: &[&str] = if contract == "Part time" {
        &["monday", "tuesday", "wednesday"]
    } else {
        &["monday", "tuesday", "wednesday", "thursday", "friday"]
    };
    let phone = |rng: &mut Rng| {
        let digits: String = (0..place.phone_digits).map(|_| char::from(b'0' + rng.below(10) as u8)).collect();
        let e164 = format!("{}{digits}", place.phone_prefix);
        let mut formatted = String::new();
        for (k, c) in e164.chars().enumerate() {
            if place.phone_breaks.contains(&k) {
                formatted.push(' ');
            }
            formatted.push(c);
        }
        (e164, formatted)
    };
    let (work_phone, work_phone_formatted) = phone(rng);
    let personal_phone = rng.percent(60).then(|| phone(rng));

    let created_day = match status {
        Status::NewHire => ctx.today - rng.between(1, 20),
        _ => (start - rng.between(7, 45)).max(ctx.founded),
    };
    let mut updated_day = created_day + rng.between(0, ctx.today - created_day);
    if let (Status::Offboarded, Some(day)) = (status, leaving_day) {
        updated_day = updated_day.max(day - 14).min(ctx.today);
    }

    let mut teams: Vec<Team> = match draft.depth {
        0 | 1 => vec![Team { name: "Leadership".into() }],
        _ => ctx.team(i).map(|t| Team { name: t.into() }).into_iter().collect(),
    };
    if rng.percent(5) {
        teams.push(Team { name: "Social Committee".into() });
    }

    let date = |day: i64| Some(format_date(day));
    Person {
        id: ctx.ids[i].clone(),
        company_id: ctx.company_id.into(),
        first_name: first.into(),
        middle_name: rng.percent(10).then(|| rng.pick(FIRST_NAMES).0.to_owned()),
        last_name: last.into(),
        preferred_name: NICKNAMES
            .iter()
            .find(|(f, _)| *f == first)
            .filter(|_| rng.percent(60))
            .map(|(_, n)| (*n).into()),
        email,
        personal_email: rng.percent(80).then(|| {
            let domain = rng.pick(&["example.com", "example.net", "example.org"]);
            format!("{}{}{}@{domain}", ascii_fold(first), ascii_fold(last), rng.between(1, 99))
        }),
        phone_number: Some(work_phone),
        formatted_phone_number: Some(work_phone_formatted),
        personal_phone_number: personal_phone.as_ref().map(|(e, _)| e.clone()),
        formatted_personal_phone_number: personal_phone.map(|(_, f)| f),
        gender: (!rng.percent(5)).then(|| gender.into()),
        birthday: date(rng.between(days_from_civil(1965, 1, 1), days_from_civil(2003, 12, 31))),
        nationality: Some(place.nationality.into()),
        nationalities: vec![place.nationality.into()],
        spoken_languages: if place.language == "English" {
            vec!["English".into()]
        } else {
            vec![place.language.into(), "English".into()]
        },
        address: Some(format!("{} {}", rng.between(1, 240), rng.pick(place.streets))),
        city: Some(place.city.into()),
        postcode: Some(
            place
                .postcode
                .chars()
                .map(|c| match c {
                    '#' => char::from(b'0' + rng.below(10) as u8),
                    '@' => char::from(b'A' + rng.below(26) as u8),
                    other => other,
                })
                .collect(),
        ),
        state: place.state.map(str::to_owned),
        country_code: Some(place.country_code.into()),
        country: Some(place.country.into()),
        employment_start_date: date(start),
        first_working_day: date(start),
        employment_end_date: leaving_day.and_then(date),
        last_working_day: leaving_day.and_then(date),
        probation_end_date: (start + 182 > ctx.today).then(|| format_date(start + 182)),
        working_days: week.iter().map(|d| WorkingDay { day: (*d).into() }).collect(),
        public_holiday_calendar_id: Some(place.calendar.into()),
        leaving_reason: (status == Status::Offboarded)
            .then(|| (*rng.pick(&["resigned", "dismissed", "redundancy", "contractEnded", "other"])).into()),
        contract_type: Some(contract.into()),
        employee_id: (contract != "Contractor").then(|| format!("E{:05}", i + 1)),
        teams,
        status: match status {
            Status::Active | Status::Leaving => STATUS_ACTIVE,
            Status::NewHire => STATUS_NEW_HIRE,
            Status::Offboarded => STATUS_OFFBOARDED,
        }
        .into(),
        is_verified: status != Status::NewHire,
        role: if draft.depth <= 1 { "admin" } else { "user" }.into(),
        timezone: place.timezone.into(),
        created_at: timestamp_on(&format_date(created_day), 9),
        updated_at: timestamp_on(&format_date(updated_day), 15),
        ..Person::default()
    }
}

fn make_roles(ctx: &Ctx, i: usize, person: &Person, status: Status, rng: &mut Rng) -> Vec<JobRole> {
    let draft = &ctx.drafts[i];
    let start = parse_date(person.employment_start_date.as_deref().unwrap_or_default()).unwrap_or(ctx.today);
    let department = draft.department.map_or("Executive", |d| DEPARTMENTS[d].name);
    let manager_id = draft.manager.map(|m| ctx.ids[m].clone());
    let senior = rng.percent(35);
    let role =
        |rng: &mut Rng, title: &str, reporting_to: Option<String>, from: i64, until: Option<i64>, created: i64| {
            let created_at = timestamp_on(&format_date(created.min(ctx.today)), 10);
            JobRole {
                id: rng.id(),
                company_id: ctx.company_id.into(),
                person_id: person.id.clone(),
                job_title: title.into(),
                department: Some(department.into()),
                reporting_to,
                effective_date: format_date(from),
                end_date: until.map(format_date),
                note: None,
                created_at: created_at.clone(),
                updated_at: created_at,
            }
        };
    let created = parse_date(&person.created_at[..10]).unwrap_or(start);

    // Promotions need a year of tenure, ending at least a month before today (or departure).
    let tenure_end = match status {
        Status::Offboarded => parse_date(person.last_working_day.as_deref().unwrap_or_default()).unwrap_or(ctx.today),
        _ => ctx.today,
    };
    let promoted = draft.depth > 0 && status != Status::NewHire && tenure_end - start > 400 && rng.percent(15);
    let mut roles = Vec::new();
    let mut current_from = start;
    if promoted {
        let promotion = rng.between(start + 180, tenure_end - 30);
        // Before the promotion they reported one level higher (to their manager's manager, below
        // the CEO), so history never points down the tree and no date has a reporting cycle.
        let earlier_manager = draft
            .manager
            .and_then(|m| ctx.drafts[m].manager)
            .filter(|&g| ctx.drafts[g].depth > 0)
            .map(|g| ctx.ids[g].clone());
        let mut old = role(
            rng,
            ctx.previous_title(i),
            earlier_manager.or_else(|| manager_id.clone()),
            start,
            Some(promotion - 1),
            created,
        );
        old.updated_at = timestamp_on(&format_date(promotion - 7), 11);
        old.note = Some("Promoted".into());
        roles.push(old);
        current_from = promotion;
    }
    let title = if promoted && draft.reports == 0 && draft.depth >= 2 {
        let dept = &DEPARTMENTS[draft.department.unwrap_or_default()];
        dept.ics[i % dept.ics.len()].1
    } else {
        ctx.title(i, senior)
    };
    let current_created = if promoted { current_from - 7 } else { created };
    // A few individual contributors have a change already entered for next month: a
    // promotion, or a move to another team in the department. Only people without reports move,
    // so the future tree has no cycles either.
    let scheduled = draft.depth >= 2 && draft.reports == 0 && status == Status::Active && rng.percent(2);
    let change_day = ctx.today + rng.between(7, 45);
    roles.push(role(
        rng,
        title,
        manager_id.clone(),
        current_from,
        scheduled.then_some(change_day - 1),
        current_created,
    ));
    if scheduled {
        let entered = ctx.today - rng.between(1, 10);
        if let Some(current) = roles.last_mut() {
            current.updated_at = timestamp_on(&format_date(entered), 11);
        }
        let dept = &DEPARTMENTS[draft.department.unwrap_or_default()];
        let (junior, senior_title) = dept.ics[i % dept.ics.len()];
        let (next_title, next_manager) = if title == junior {
            (senior_title, manager_id)
        } else {
            let others: Vec<usize> = draft
                .department
                .map(|d| ctx.team_managers[d].iter().copied().filter(|&m| Some(m) != draft.manager).collect())
                .unwrap_or_default();
            let moved_to = if others.is_empty() { draft.manager } else { Some(*rng.pick(&others)) };
            (title, moved_to.map(|m| ctx.ids[m].clone()))
        };
        let mut next = role(rng, next_title, next_manager, change_day, None, entered);
        next.note = Some("Scheduled change".into());
        roles.push(next);
    }
    roles
}

//! The departments: their share of the organisation, the titles at each level and their teams.

pub(super) struct Department {
    pub(super) name: &'static str,
    pub(super) weight: u64,
    pub(super) head: &'static str,
    pub(super) manager: &'static str,
    pub(super) lead: &'static str,
    /// (junior, senior) individual-contributor titles.
    pub(super) ics: &'static [(&'static str, &'static str)],
    pub(super) teams: &'static [&'static str],
}

pub(super) const DEPARTMENTS: &[Department] = &[
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

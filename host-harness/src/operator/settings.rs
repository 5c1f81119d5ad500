//! Settings as an operator gives them: the words of `configure`'s flags and the API's fields
//! (`off`, `days-before-start:3`, `10%`, `24h`), their parsers, and how a change merges into the
//! tenant's current settings. Plain types: the CLI and `serve` both parse into them.

use serde_json::{Value, json};

use super::describe::name_of;
use crate::plugin::api;

/// `--provisioning` / `provisioning`: when a new hire's account is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisioning {
    Off,
    Immediately,
    OnStartDate,
    DaysBeforeStart(u16),
}

pub fn parse_provisioning(s: &str) -> Result<Provisioning, String> {
    match s {
        "off" => Ok(Provisioning::Off),
        "immediately" => Ok(Provisioning::Immediately),
        "on-start-date" => Ok(Provisioning::OnStartDate),
        _ => match s.strip_prefix("days-before-start:") {
            Some(n) => {
                n.parse().map(Provisioning::DaysBeforeStart).map_err(|_| format!("`{n}` is not a number of days"))
            }
            None => Err("expected off, immediately, on-start-date or days-before-start:N".into()),
        },
    }
}

/// `--deprovisioning` / `deprovisioning`: what offboarding does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deprovisioning {
    Off,
    Suspend,
    Deactivate,
}

/// The words of [`Deprovisioning`], for help texts and the CLI's parser.
pub const DEPROVISIONING_WORDS: [&str; 3] = ["off", "suspend", "deactivate"];

/// Case-insensitive, as the CLI always took it.
pub fn parse_deprovisioning(s: &str) -> Result<Deprovisioning, String> {
    match s.to_ascii_lowercase().as_str() {
        "off" => Ok(Deprovisioning::Off),
        "suspend" => Ok(Deprovisioning::Suspend),
        "deactivate" => Ok(Deprovisioning::Deactivate),
        _ => Err(format!("`{s}`: expected off, suspend or deactivate")),
    }
}

/// `--dialect` / `dialect`: the SCIM dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Leapsome,
    Rfc7644,
}

/// The words of [`Dialect`], for help texts and the CLI's parser.
pub const DIALECT_WORDS: [&str; 2] = ["leapsome", "rfc7644"];

/// Case-insensitive, as the CLI always took it.
pub fn parse_dialect(s: &str) -> Result<Dialect, String> {
    match s.to_ascii_lowercase().as_str() {
        "leapsome" => Ok(Dialect::Leapsome),
        "rfc7644" => Ok(Dialect::Rfc7644),
        _ => Err(format!("`{s}`: expected leapsome or rfc7644")),
    }
}

/// `--teams on|off` (and the API's `"on"`/`"off"`); case-insensitive.
pub fn parse_on_off(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("`{s}`: expected on or off")),
    }
}

/// `--deprovision-limit` / `deprovision_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeprovisionLimit {
    Count(u32),
    Percent(u8),
    /// Back to the default, max(5, 10% of managed accounts).
    Default,
}

pub fn parse_deprovision_limit(s: &str) -> Result<DeprovisionLimit, String> {
    if s == "default" {
        return Ok(DeprovisionLimit::Default);
    }
    match s.strip_suffix('%') {
        Some(p) => match p.parse::<u8>() {
            Ok(p) if (1..=100).contains(&p) => Ok(DeprovisionLimit::Percent(p)),
            _ => Err(format!("`{s}` is not a percentage from 1% to 100%")),
        },
        None => s
            .parse()
            .map(DeprovisionLimit::Count)
            .map_err(|_| format!("`{s}` is not a number of people, a percentage or `default` (e.g. 20 or 5%)")),
    }
}

/// `--deprovision-window` / `deprovision_window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeprovisionWindow {
    Minutes(u32),
    /// Back to the default, 24 hours.
    Default,
}

/// The longest deprovision window, as the component accepts it: 30 days.
pub const MAX_DEPROVISION_WINDOW_MINUTES: u32 = 30 * 24 * 60;

pub fn parse_deprovision_window(s: &str) -> Result<DeprovisionWindow, String> {
    if s == "default" {
        return Ok(DeprovisionWindow::Default);
    }
    let d = parse_duration(s)?;
    let minutes = d.as_millis() / 60_000;
    if d.as_millis() % 60_000 != 0 || minutes == 0 || minutes > u128::from(MAX_DEPROVISION_WINDOW_MINUTES) {
        return Err(format!("`{s}`: the window is whole minutes from 1m to 30d (e.g. 24h, 90m, 7d)"));
    }
    Ok(DeprovisionWindow::Minutes(minutes as u32))
}

/// `--log-retention` / `log_retention`: how many log entries the tenant keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogRetention {
    Entries(u32),
    /// Back to the default, 5,000.
    Default,
}

/// The retention the component accepts (`logs::MIN_RETENTION`..=`MAX_RETENTION` there).
pub const LOG_RETENTION_RANGE: std::ops::RangeInclusive<u32> = 100..=100_000;

pub fn parse_log_retention(s: &str) -> Result<LogRetention, String> {
    if s == "default" {
        return Ok(LogRetention::Default);
    }
    match s.replace(['_', ','], "").parse::<u32>() {
        Ok(n) if LOG_RETENTION_RANGE.contains(&n) => Ok(LogRetention::Entries(n)),
        _ => Err(format!("`{s}`: the log keeps 100 to 100,000 entries, or `default` (5,000)")),
    }
}

/// A duration: a whole number with `ms`, `s` (or none), `m`, `h` or `d`; more than zero.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, ""), |i| s.split_at(i));
    let n: u64 = number.parse().map_err(|_| format!("`{s}` is not a duration (e.g. 500ms, 30s, 5m, 24h)"))?;
    let millis = match unit {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => return Err(format!("`{s}`: the unit must be ms, s, m, h or d")),
    };
    match millis {
        Some(0) => Err(format!("`{s}` must be more than zero")),
        Some(ms) => Ok(std::time::Duration::from_millis(ms)),
        None => Err(format!("`{s}` is too long")),
    }
}

/// One extra field, as `configure --map` and the API's `extra_fields` name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappedField {
    StartDate,
    EndDate,
    Location,
    Gender,
    Birthday,
    /// `custom:HUMAANS_FIELD=LEAPSOME_ATTRIBUTE_ID`.
    Custom {
        humaans_field: String,
        leapsome_attribute: String,
    },
}

/// `--map`'s list as clap holds it (one value, not one per occurrence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldList(pub Vec<MappedField>);

/// [`parse_extra_fields`] for clap.
pub fn parse_field_list(s: &str) -> Result<FieldList, String> {
    parse_extra_fields(s).map(FieldList)
}

/// The words of `--map` besides `custom:F=ID` and `none`.
pub const EXTRA_FIELD_WORDS: [&str; 5] = ["start-date", "end-date", "location", "gender", "birthday"];

/// `--map start-date,end-date,location,gender,birthday,custom:F=ID` (any subset, in any case; a
/// custom field's name is taken as written) or `none` (no extra field).
pub fn parse_extra_fields(s: &str) -> Result<Vec<MappedField>, String> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut fields = Vec::new();
    for word in s.split(',').map(str::trim) {
        let field = match word.to_ascii_lowercase().as_str() {
            "start-date" => MappedField::StartDate,
            "end-date" => MappedField::EndDate,
            "location" => MappedField::Location,
            "gender" => MappedField::Gender,
            "birthday" => MappedField::Birthday,
            lower if lower.starts_with("custom:") => {
                let (field, id) = word["custom:".len()..]
                    .rsplit_once('=')
                    .ok_or_else(|| format!("`{word}`: expected custom:HUMAANS_FIELD=LEAPSOME_ATTRIBUTE_ID"))?;
                let (field, id) = (field.trim(), id.trim());
                if field.is_empty() {
                    return Err(format!("`{word}`: the Humaans field's name is empty"));
                }
                if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "`{word}`: the Leapsome attribute must be its id, 24 hex digits (Leapsome: Users & Teams)"
                    ));
                }
                MappedField::Custom { humaans_field: field.to_owned(), leapsome_attribute: id.to_ascii_lowercase() }
            }
            "" => return Err("an empty field in the list (use `none` for no extra field)".into()),
            _ => {
                return Err(format!(
                    "`{word}` is not a field: {}, custom:HUMAANS_FIELD=LEAPSOME_ATTRIBUTE_ID, or none",
                    EXTRA_FIELD_WORDS.join(", ")
                ));
            }
        };
        if !fields.contains(&field) {
            fields.push(field);
        }
    }
    Ok(fields)
}

/// The extra fields in `--map`'s words.
pub fn extra_field_words(fields: &[api::ExtraField]) -> Vec<String> {
    fields
        .iter()
        .map(|f| match f {
            api::ExtraField::StartDate => "start-date".to_owned(),
            api::ExtraField::EndDate => "end-date".to_owned(),
            api::ExtraField::Location => "location".to_owned(),
            api::ExtraField::Gender => "gender".to_owned(),
            api::ExtraField::Birthday => "birthday".to_owned(),
            api::ExtraField::Custom(c) => format!("custom:{}={}", c.humaans_field, c.leapsome_attribute),
        })
        .collect()
}

/// The settings to change. One left out (`None`) keeps the tenant's current value
/// (`configure --deprovision-limit 10%` changes the limit only); [`merge_settings`] applies them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub provisioning: Option<Provisioning>,
    pub deprovisioning: Option<Deprovisioning>,
    pub dialect: Option<Dialect>,
    pub deprovision_limit: Option<DeprovisionLimit>,
    pub deprovision_window: Option<DeprovisionWindow>,
    /// Humaans teams become Leapsome teams.
    pub teams: Option<bool>,
    pub log_retention: Option<LogRetention>,
    /// Extra fields written to Leapsome (`Some(vec![])`: none).
    pub extra_fields: Option<Vec<MappedField>>,
    /// Scope rules as written (`Some(vec![])`: none, everyone in scope); the component reads them.
    pub scope: Option<Vec<String>>,
    /// `--out-of-scope keep` (true) or `deprovision` (false).
    pub keep_out_of_scope: Option<bool>,
}

/// `--scope RULE…`: the rules, or `none` alone for no rule (everyone in scope). The rules
/// themselves are read by the component (one parser: it names the column of a mistake).
pub fn scope_rules(given: &[String]) -> Result<Option<Vec<String>>, String> {
    match given {
        [] => Ok(None),
        [one] if one.trim().eq_ignore_ascii_case("none") => Ok(Some(Vec::new())),
        many if many.iter().any(|r| r.trim().eq_ignore_ascii_case("none")) => {
            Err("`--scope none` removes every rule: give it alone".into())
        }
        rules => Ok(Some(rules.to_vec())),
    }
}

/// `--out-of-scope keep|deprovision`: whether the accounts of people who leave scope are kept.
pub fn parse_out_of_scope(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "keep" => Ok(true),
        "deprovision" => Ok(false),
        _ => Err(format!("`{s}`: expected keep or deprovision")),
    }
}

impl SettingsChange {
    /// No setting given.
    pub fn is_empty(&self) -> bool {
        *self == SettingsChange::default()
    }
}

/// A tenant's settings before anything is configured: provisioning and deprovisioning off, the
/// Leapsome dialect, the default deprovision limit.
pub fn default_settings() -> api::Settings {
    api::Settings {
        provisioning: None,
        deprovisioning: None,
        dialect: api::Dialect::Leapsome,
        deprovision_limit: None,
        deprovision_window_minutes: None,
        teams: false,
        log_retention: None,
        scope: Vec::new(),
        out_of_scope: api::OutOfScopeAction::Deprovision,
        extra_fields: Vec::new(),
    }
}

/// Settings made of `args` alone, every setting left out at its default: a replacement.
pub fn settings_from(args: &SettingsChange) -> api::Settings {
    merge_settings(default_settings(), args)
}

/// `current` with only the settings `args` gives changed; the rest, any setting `args` has no
/// flag for included, is kept as it is.
pub fn merge_settings(current: api::Settings, args: &SettingsChange) -> api::Settings {
    let mut settings = current;
    if let Some(provisioning) = args.provisioning {
        settings.provisioning = match provisioning {
            Provisioning::Off => None,
            Provisioning::Immediately => Some(api::ProvisionTiming::Immediately),
            Provisioning::OnStartDate => Some(api::ProvisionTiming::OnStartDate),
            Provisioning::DaysBeforeStart(n) => Some(api::ProvisionTiming::DaysBeforeStart(n)),
        };
    }
    if let Some(deprovisioning) = args.deprovisioning {
        settings.deprovisioning = match deprovisioning {
            Deprovisioning::Off => None,
            Deprovisioning::Suspend => Some(api::DeprovisionAction::Suspend),
            Deprovisioning::Deactivate => Some(api::DeprovisionAction::Deactivate),
        };
    }
    if let Some(dialect) = args.dialect {
        settings.dialect = match dialect {
            Dialect::Leapsome => api::Dialect::Leapsome,
            Dialect::Rfc7644 => api::Dialect::Rfc7644,
        };
    }
    if let Some(limit) = args.deprovision_limit {
        settings.deprovision_limit = match limit {
            DeprovisionLimit::Count(n) => Some(api::DeprovisionLimit::Count(n)),
            DeprovisionLimit::Percent(p) => Some(api::DeprovisionLimit::Percent(p)),
            DeprovisionLimit::Default => None,
        };
    }
    if let Some(window) = args.deprovision_window {
        settings.deprovision_window_minutes = match window {
            DeprovisionWindow::Minutes(m) => Some(m),
            DeprovisionWindow::Default => None,
        };
    }
    if let Some(teams) = args.teams {
        settings.teams = teams;
    }
    if let Some(fields) = &args.extra_fields {
        settings.extra_fields = fields
            .iter()
            .map(|f| match f {
                MappedField::StartDate => api::ExtraField::StartDate,
                MappedField::EndDate => api::ExtraField::EndDate,
                MappedField::Location => api::ExtraField::Location,
                MappedField::Gender => api::ExtraField::Gender,
                MappedField::Birthday => api::ExtraField::Birthday,
                MappedField::Custom { humaans_field, leapsome_attribute } => {
                    api::ExtraField::Custom(api::CustomField {
                        humaans_field: humaans_field.clone(),
                        leapsome_attribute: leapsome_attribute.clone(),
                    })
                }
            })
            .collect();
    }
    if let Some(retention) = args.log_retention {
        settings.log_retention = match retention {
            LogRetention::Entries(n) => Some(n),
            LogRetention::Default => None,
        };
    }
    if let Some(rules) = &args.scope {
        settings.scope = rules.clone();
    }
    if let Some(keep) = args.keep_out_of_scope {
        settings.out_of_scope = if keep { api::OutOfScopeAction::Keep } else { api::OutOfScopeAction::Deprovision };
    }
    settings
}

/// Settings as `status` and `configure` print them.
pub fn settings_json(s: &api::Settings) -> Value {
    json!({
        "provisioning": match s.provisioning {
            None => "off".to_owned(),
            Some(api::ProvisionTiming::Immediately) => "immediately".to_owned(),
            Some(api::ProvisionTiming::OnStartDate) => "on-start-date".to_owned(),
            Some(api::ProvisionTiming::DaysBeforeStart(n)) => format!("days-before-start:{n}"),
        },
        "deprovisioning": s.deprovisioning.as_ref().map_or("off".to_owned(), name_of),
        "dialect": name_of(&s.dialect),
        "deprovision_limit": match s.deprovision_limit {
            None => "default: max(5, 10%)".to_owned(),
            Some(api::DeprovisionLimit::Count(n)) => n.to_string(),
            Some(api::DeprovisionLimit::Percent(p)) => format!("{p}%"),
        },
        "deprovision_window": s.deprovision_window_minutes.map_or("default: 24h".to_owned(), window_text),
        "teams": if s.teams { "on" } else { "off" },
        "log_retention": s.log_retention.map_or("default: 5000".to_owned(), |n| n.to_string()),
        "extra_fields": extra_field_words(&s.extra_fields),
        "scope": if s.scope.is_empty() { json!("everyone") } else { json!(s.scope) },
        "out_of_scope": name_of(&s.out_of_scope),
    })
}

/// A window in minutes as the CLI and the API write it: `24h`, `90m`.
pub fn window_text(minutes: u32) -> String {
    if minutes.is_multiple_of(60) { format!("{}h", minutes / 60) } else { format!("{minutes}m") }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A setting `configure` has no flag for (or was not given) survives the merge untouched:
    /// the merge starts from the current settings, never from defaults.
    #[test]
    fn merging_keeps_every_setting_not_given() {
        let current = api::Settings {
            provisioning: Some(api::ProvisionTiming::OnStartDate),
            deprovisioning: Some(api::DeprovisionAction::Deactivate),
            dialect: api::Dialect::Rfc7644,
            deprovision_limit: Some(api::DeprovisionLimit::Count(7)),
            deprovision_window_minutes: Some(90),
            teams: true,
            log_retention: Some(20_000),
            scope: vec!["department = Engineering".into()],
            out_of_scope: api::OutOfScopeAction::Keep,
            extra_fields: vec![api::ExtraField::StartDate],
        };
        let shown = |s: api::Settings| settings_json(&s);
        let tighter = SettingsChange { deprovision_limit: Some(DeprovisionLimit::Percent(10)), ..Default::default() };
        assert_eq!(
            shown(merge_settings(current.clone(), &tighter)),
            json!({"provisioning": "on-start-date", "deprovisioning": "deactivate", "dialect": "rfc7644",
                "deprovision_limit": "10%", "deprovision_window": "90m", "teams": "on", "log_retention": "20000",
                "extra_fields": ["start-date"], "scope": ["department = Engineering"], "out_of_scope": "keep"})
        );
        assert_eq!(shown(merge_settings(current.clone(), &SettingsChange::default())), shown(current.clone()));
        let wider =
            SettingsChange { deprovision_window: Some(DeprovisionWindow::Minutes(7 * 24 * 60)), ..Default::default() };
        assert_eq!(shown(merge_settings(current.clone(), &wider))["deprovision_window"], "168h");
        let back = SettingsChange {
            deprovision_limit: Some(DeprovisionLimit::Default),
            provisioning: Some(Provisioning::Off),
            ..Default::default()
        };
        assert_eq!(
            shown(merge_settings(current.clone(), &back)),
            json!({"provisioning": "off", "deprovisioning": "deactivate", "dialect": "rfc7644",
                "deprovision_limit": "default: max(5, 10%)", "deprovision_window": "90m", "teams": "on",
                "log_retention": "20000", "extra_fields": ["start-date"], "scope": ["department = Engineering"],
                "out_of_scope": "keep"})
        );
    }

    #[test]
    fn map_takes_any_subset_custom_fields_and_none() {
        let fields =
            parse_extra_fields("start-date, GENDER,custom:T-Shirt Size=6140868326541A4DA586DB0B,gender").unwrap();
        assert_eq!(
            fields,
            [
                MappedField::StartDate,
                MappedField::Gender,
                MappedField::Custom {
                    humaans_field: "T-Shirt Size".into(),
                    leapsome_attribute: "6140868326541a4da586db0b".into()
                }
            ]
        );
        assert_eq!(parse_extra_fields("none").unwrap(), []);
        let bad_id = parse_extra_fields("custom:Size=61408683").unwrap_err();
        assert!(bad_id.contains("24 hex digits"), "{bad_id}");
        assert!(parse_extra_fields("shoe-size").unwrap_err().contains("not a field"));
        assert!(parse_extra_fields("custom:Size").unwrap_err().contains("custom:HUMAANS_FIELD="));
        assert!(parse_extra_fields("gender,,birthday").is_err());
        let settings =
            merge_settings(default_settings(), &SettingsChange { extra_fields: Some(fields), ..Default::default() });
        assert_eq!(
            settings_json(&settings)["extra_fields"],
            json!(["start-date", "gender", "custom:T-Shirt Size=6140868326541a4da586db0b"])
        );
    }

    #[test]
    fn log_retention_takes_a_count_in_range_or_default() {
        assert_eq!(parse_log_retention("20000"), Ok(LogRetention::Entries(20_000)));
        assert_eq!(parse_log_retention("20_000"), Ok(LogRetention::Entries(20_000)));
        assert_eq!(parse_log_retention("default"), Ok(LogRetention::Default));
        for bad in ["99", "100001", "-5", "lots", ""] {
            assert!(parse_log_retention(bad).unwrap_err().contains("100 to 100,000"), "{bad}");
        }
    }

    #[test]
    fn durations_take_ms_s_m_h_d() {
        use std::time::Duration;
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        for bad in ["0ms", "0s", "5x", "ms", "-1s", "99999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn deprovisioning_and_dialect_words_parse_in_any_case() {
        assert_eq!(parse_deprovisioning("Suspend"), Ok(Deprovisioning::Suspend));
        assert_eq!(parse_dialect("RFC7644"), Ok(Dialect::Rfc7644));
        for word in DEPROVISIONING_WORDS {
            assert!(parse_deprovisioning(word).is_ok(), "{word}");
        }
        assert!(parse_deprovisioning("delete").is_err());
        assert!(parse_dialect("scim").is_err());
    }
}

//! Writes `handoffs/handoffs.csv`, the CRM's sales-handoff export (contract §1 source `handoffs`): one
//! row per contract line, then later re-exports of about 5% of deals (a new CSM owner or
//! corrected seats, with a greater `updated_at`). For about half the lines the handoff fields sit
//! in their columns; for the rest the columns are empty and the facts are `Key: value` lines in
//! free-text `notes` — English, or Japanese with full-width colons for yen accounts. Must not
//! alter the planted contracts: every date, seat count and amount comes from the world.

use std::path::Path;

use chrono::{Datelike, Days, Duration, NaiveDateTime};
use rand::Rng;

use super::calendar::moment;
use super::defects::{Defect, DefectLog, PlantSchedule};
use super::encode::rfc3339_seconds;
use super::sample::pick;
use super::sink::CsvFile;
use super::vocab::{self, Language, NOTE_PROSE};
use super::world::{Account, ContractLine, HandoffFacts, World};
use super::{Result, SourceOutput};

pub(super) const PATH: &str = "handoffs/handoffs.csv";

const HEADER: [&str; 24] = [
    "deal_id",
    "account_id",
    "account_name",
    "plan",
    "segment",
    "industry",
    "region",
    "employees",
    "seats",
    "start_date",
    "end_date",
    "mrr",
    "arr",
    "currency",
    "sales_owner",
    "csm_owner",
    "closed_at",
    "updated_at",
    "goal",
    "kpi",
    "decision_maker",
    "champion",
    "risks",
    "notes",
];

/// Lines billed annually, which the CRM records as ARR only.
const ARR_ONLY_SHARE: f64 = 0.30;
/// Lines whose handoff facts are only in the notes.
const FACTS_IN_NOTES_SHARE: f64 = 0.5;
/// Deals exported again later with a change.
const REVISED_SHARE: f64 = 0.05;
/// Deal numbers of planted rows, far above the generated ones.
const PLANTED_DEAL_NUMBER: usize = 9_000_001;
const TEN_AM_MS: u32 = 10 * 3_600_000;

/// One CSV row, every field as written.
#[derive(Clone)]
struct HandoffRow {
    deal_id: String,
    account_id: String,
    account_name: String,
    plan: String,
    segment: String,
    industry: String,
    region: String,
    employees: String,
    seats: String,
    start_date: String,
    end_date: String,
    mrr: String,
    arr: String,
    currency: String,
    sales_owner: String,
    csm_owner: String,
    closed_at: String,
    updated_at: String,
    goal: String,
    kpi: String,
    decision_maker: String,
    champion: String,
    risks: String,
    notes: String,
}

impl HandoffRow {
    /// The line with its facts in their columns, its amount as MRR, closed two weeks before it
    /// starts: deterministic, so planted rows can start from it without drawing randomness.
    fn plain(account: &Account, line: &ContractLine) -> Self {
        let closed_at = moment(line.start - Days::new(14), TEN_AM_MS);
        let facts = &account.handoff;
        Self {
            deal_id: line.deal_id.clone(),
            account_id: account.id.clone(),
            account_name: account.name.clone(),
            plan: line.plan.name().to_owned(),
            segment: account.segment.name().to_owned(),
            industry: account.industry.to_owned(),
            region: account.region.name().to_owned(),
            employees: account.employees.to_string(),
            seats: line.seats.to_string(),
            start_date: line.start.to_string(),
            end_date: line.end.map(|end| end.to_string()).unwrap_or_default(),
            mrr: account.currency.format_amount(line.mrr_minor),
            arr: String::new(),
            currency: account.currency.code().to_owned(),
            sales_owner: account.sales_owner.to_owned(),
            csm_owner: account.csm_owner.to_owned(),
            closed_at: rfc3339_seconds(closed_at),
            updated_at: rfc3339_seconds(closed_at + Duration::days(1)),
            goal: facts.goal.clone(),
            kpi: facts.kpi.clone().unwrap_or_default(),
            decision_maker: facts.decision_maker.clone(),
            champion: facts.champion.clone().unwrap_or_default(),
            risks: facts.risks.clone().unwrap_or_default(),
            notes: String::new(),
        }
    }

    fn fields(&self) -> [&str; 24] {
        [
            &self.deal_id,
            &self.account_id,
            &self.account_name,
            &self.plan,
            &self.segment,
            &self.industry,
            &self.region,
            &self.employees,
            &self.seats,
            &self.start_date,
            &self.end_date,
            &self.mrr,
            &self.arr,
            &self.currency,
            &self.sales_owner,
            &self.csm_owner,
            &self.closed_at,
            &self.updated_at,
            &self.goal,
            &self.kpi,
            &self.decision_maker,
            &self.champion,
            &self.risks,
            &self.notes,
        ]
    }
}

pub(super) fn write(
    world: &World,
    root: &Path,
    rng: &mut impl Rng,
    defects: &mut DefectLog,
) -> Result<SourceOutput> {
    let mut file = CsvFile::create(root, PATH, &HEADER)?;
    let mut schedule = PlantSchedule::spread(world.accounts.len(), &Plant::ALL);
    // Re-exports come after the full export, as a later incremental pull appends them.
    let mut revisions = Vec::new();
    let mut output = SourceOutput::default();
    for (index, account) in world.accounts.iter().enumerate() {
        for plant in schedule.due_before(index) {
            defects.plant_record(&mut file, &plant.row(account), plant.defect())?;
        }
        for line in &account.lines {
            let (row, updated_at) = first_export(account, line, rng);
            file.write_record(&row.fields())?;
            output.records += 1;
            if rng.random_bool(REVISED_SHARE) {
                let end = world.history.end_instant();
                revisions.push(revised(row, line, account, updated_at, end, rng));
            }
        }
    }
    for plant in schedule.rest() {
        let account = world.accounts.last().expect("a world has accounts");
        defects.plant_record(&mut file, &plant.row(account), plant.defect())?;
    }
    for row in &revisions {
        file.write_record(&row.fields())?;
    }
    output.files.push(file.finish()?);
    Ok(output)
}

/// How the CRM presents the line the first time: real close and update times, ARR for
/// annually billed lines, facts in their columns or only in the notes. Also returns the
/// row's `updated_at`.
fn first_export(
    account: &Account,
    line: &ContractLine,
    rng: &mut impl Rng,
) -> (HandoffRow, NaiveDateTime) {
    let mut row = HandoffRow::plain(account, line);
    let close_day = line.start - Days::new(rng.random_range(3..=25));
    let closed_at = moment(close_day, account.region.working_moment(rng));
    let updated_at = closed_at + Duration::minutes(rng.random_range(0..=72 * 60));
    row.closed_at = rfc3339_seconds(closed_at);
    row.updated_at = rfc3339_seconds(updated_at);
    if rng.random_bool(ARR_ONLY_SHARE) {
        row.arr = account.currency.format_amount(12 * line.mrr_minor);
        row.mrr.clear();
    }
    if rng.random_bool(FACTS_IN_NOTES_SHARE) {
        for column in [
            &mut row.goal,
            &mut row.kpi,
            &mut row.decision_maker,
            &mut row.champion,
            &mut row.risks,
        ] {
            column.clear();
        }
        row.notes = notes_with_facts(&account.handoff, account.language(), rng);
    } else if rng.random_bool(0.5) {
        let lines = rng.random_range(1..=2);
        row.notes = prose(rng, account.language(), lines);
    }
    (row, updated_at)
}

/// The same deal exported again later: a new CSM owner, or a corrected seat count.
fn revised(
    mut row: HandoffRow,
    line: &ContractLine,
    account: &Account,
    updated_at: NaiveDateTime,
    end: NaiveDateTime,
    rng: &mut impl Rng,
) -> HandoffRow {
    let later = updated_at + Duration::days(rng.random_range(3..=40));
    // Stay inside the history, but always after the first export.
    let latest = (end - Duration::hours(1)).max(updated_at + Duration::minutes(1));
    row.updated_at = rfc3339_seconds(later.min(latest));
    if rng.random_bool(0.6) {
        let owners = match account.language() {
            Language::English => vocab::CSM_OWNERS,
            Language::Japanese => vocab::JAPANESE_CSM_OWNERS,
        };
        let others: Vec<_> = owners
            .iter()
            .filter(|owner| **owner != row.csm_owner)
            .collect();
        row.csm_owner = (**pick(rng, &others)).to_owned();
    } else {
        let corrected = if rng.random_bool(0.5) {
            line.seats + 1
        } else {
            line.seats.saturating_sub(1).max(1)
        };
        row.seats = corrected.to_string();
    }
    row
}

/// A handoff fact as it may appear in notes.
#[derive(Clone, Copy)]
enum Fact {
    Goal,
    Kpi,
    DecisionMaker,
    Champion,
    Risks,
}

impl Fact {
    /// The key spellings people type; the notes parser matches keys case-insensitively.
    fn keys(self, language: Language) -> &'static [&'static str] {
        match (self, language) {
            (Fact::Goal, Language::English) => &["Goal", "goal", "GOAL"],
            (Fact::Kpi, Language::English) => &["KPI", "Kpi"],
            (Fact::DecisionMaker, Language::English) => &["Decision maker", "Decision Maker"],
            (Fact::Champion, Language::English) => &["Champion", "champion"],
            (Fact::Risks, Language::English) => &["Risks", "risks"],
            (Fact::Goal, Language::Japanese) => &["目標", "ゴール"],
            (Fact::Kpi, Language::Japanese) => &["KPI"],
            (Fact::DecisionMaker, Language::Japanese) => &["決裁者", "意思決定者"],
            (Fact::Champion, Language::Japanese) => &["推進者"],
            (Fact::Risks, Language::Japanese) => &["リスク", "懸念"],
        }
    }
}

/// Multi-line notes: prose, then one `Key: value` line per known fact, sometimes more prose.
fn notes_with_facts(facts: &HandoffFacts, language: Language, rng: &mut impl Rng) -> String {
    let known = [
        (Fact::Goal, Some(&facts.goal)),
        (Fact::Kpi, facts.kpi.as_ref()),
        (Fact::DecisionMaker, Some(&facts.decision_maker)),
        (Fact::Champion, facts.champion.as_ref()),
        (Fact::Risks, facts.risks.as_ref()),
    ];
    let mut lines = vec![prose(rng, language, 1)];
    for (fact, value) in known {
        if let Some(value) = value {
            lines.push(fact_line(rng, language, fact, value));
        }
    }
    if rng.random_bool(0.5) {
        lines.push(prose(rng, language, 1));
    }
    lines.join("\n")
}

/// `Key: value`, spaced and spelled as people type it (full-width colon in Japanese).
fn fact_line(rng: &mut impl Rng, language: Language, fact: Fact, value: &str) -> String {
    let key = pick(rng, fact.keys(language));
    let separator = match language {
        Language::English => *pick(rng, &[": ", ": ", ": ", " : "]),
        Language::Japanese => *pick(rng, &["：", "：", " ： ", "： "]),
    };
    let indent = if language == Language::Japanese && rng.random_bool(0.2) {
        " "
    } else {
        ""
    };
    format!("{indent}{key}{separator}{value}")
}

fn prose(rng: &mut impl Rng, language: Language, lines: usize) -> String {
    (0..lines)
        .map(|_| pick(rng, NOTE_PROSE).text(language))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The malformed rows planted in the handoff export, each under a deal id of its own.
#[derive(Clone, Copy)]
enum Plant {
    ExtraField,
    February30,
    NoAccount,
    NegativeMrr,
    SeatsOverflow,
}

impl Plant {
    const ALL: [Plant; 5] = [
        Plant::ExtraField,
        Plant::February30,
        Plant::NoAccount,
        Plant::NegativeMrr,
        Plant::SeatsOverflow,
    ];

    fn defect(self) -> Defect {
        match self {
            Plant::ExtraField => Defect::CsvFieldCount,
            Plant::February30 => Defect::BadDate,
            Plant::NoAccount => Defect::MissingRequired,
            Plant::NegativeMrr => Defect::NegativeAmount,
            Plant::SeatsOverflow => Defect::NumberTooLarge,
        }
    }

    /// A copy of the account's first line with one defect, as CSV fields.
    fn row(self, account: &Account) -> Vec<String> {
        let line = &account.lines[0];
        let mut row = HandoffRow::plain(account, line);
        row.deal_id = format!("D-{}", PLANTED_DEAL_NUMBER + self as usize);
        match self {
            Plant::ExtraField => {}
            Plant::February30 => row.start_date = format!("{}-02-30", line.start.year()),
            Plant::NoAccount => row.account_id.clear(),
            Plant::NegativeMrr => row.mrr = "-100.00".to_owned(),
            Plant::SeatsOverflow => row.seats = "99999999999999999999".to_owned(),
        }
        let mut fields: Vec<String> = row
            .fields()
            .iter()
            .map(|field| (*field).to_owned())
            .collect();
        if let Plant::ExtraField = self {
            fields.push("unexpected trailing field".to_owned());
        }
        fields
    }
}

//! The planted truth every source file is sampled from: accounts with a persona, their contract
//! lines and users, and the usage curves (engagement, feature breadth, support load, help need)
//! that make each persona detectable downstream. Built once from the seed before any file is
//! written; must not write files or know any file format.

use chrono::NaiveDate;
use rand::Rng;
use rand::seq::SliceRandom;

use super::calendar::*;
use super::contracts::*;
use super::people::*;
use super::sample::{pick, pick_weighted};
use super::vocab::{self, Language};

/// Share of accounts billed in yen (their free text is Japanese).
const JPY_SHARE: f64 = 0.15;
/// How long before its end a churner's usage starts to fade.
const DECLINE_DAYS: i64 = 90;
/// What is left of a churner's usage on its last contracted day.
const DECLINE_FLOOR: f64 = 0.03;
/// How long before lapsing a reactivator's usage starts to fade.
const LAPSE_FADE_DAYS: f64 = 45.0;
/// How long a new or returning account counts as onboarding.
const ONBOARDING_DAYS: i64 = 45;

/// The behaviour planted in an account, which the analytics must later detect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Persona {
    Churner,
    Expander,
    New,
    Reactivator,
    Steady,
}

impl Persona {
    pub const ALL: [Persona; 5] = [
        Persona::Churner,
        Persona::Expander,
        Persona::New,
        Persona::Reactivator,
        Persona::Steady,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Persona::Churner => "churner",
            Persona::Expander => "expander",
            Persona::New => "new",
            Persona::Reactivator => "reactivator",
            Persona::Steady => "steady",
        }
    }

    /// Share of accounts planted with this persona; steady accounts are the rest.
    fn share(self) -> f64 {
        match self {
            Persona::Churner | Persona::Expander => 0.12,
            Persona::New => 0.10,
            Persona::Reactivator => 0.06,
            Persona::Steady => 0.0,
        }
    }
}

/// A persona with the dates that define it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Lifecycle {
    /// In force throughout the history.
    Steady,
    /// The last contract line ends on `churn_on` (in the last 40% of the history) and is not
    /// renewed; usage fades over the 90 days before.
    Churner { churn_on: NaiveDate },
    /// More seats and MRR from `upgrade_on`, in the second half of the history.
    Expander { upgrade_on: NaiveDate },
    /// The first contract line starts on `started_on`, within the last 60 days.
    New {
        started_on: NaiveDate,
        slow_adopter: bool,
    },
    /// No line in force from `lapsed_on` until `returned_on`, at least 70 days later.
    Reactivator {
        lapsed_on: NaiveDate,
        returned_on: NaiveDate,
    },
}

impl Lifecycle {
    pub fn persona(self) -> Persona {
        match self {
            Lifecycle::Steady => Persona::Steady,
            Lifecycle::Churner { .. } => Persona::Churner,
            Lifecycle::Expander { .. } => Persona::Expander,
            Lifecycle::New { .. } => Persona::New,
            Lifecycle::Reactivator { .. } => Persona::Reactivator,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Currency {
    Usd,
    Jpy,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Jpy => "JPY",
        }
    }

    pub fn language(self) -> Language {
        match self {
            Currency::Usd => Language::English,
            Currency::Jpy => Language::Japanese,
        }
    }

    /// A non-negative amount in minor units (cents; yen have none) as the CRM writes it.
    pub fn format_amount(self, minor: i64) -> String {
        match self {
            Currency::Usd => format!("{}.{:02}", minor / 100, minor % 100),
            Currency::Jpy => minor.to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Segment {
    Smb,
    MidMarket,
    Enterprise,
}

impl Segment {
    pub fn name(self) -> &'static str {
        match self {
            Segment::Smb => "smb",
            Segment::MidMarket => "mid_market",
            Segment::Enterprise => "enterprise",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Plan {
    Starter,
    Growth,
    Business,
    Enterprise,
}

impl Plan {
    pub fn name(self) -> &'static str {
        match self {
            Plan::Starter => "starter",
            Plan::Growth => "growth",
            Plan::Business => "business",
            Plan::Enterprise => "enterprise",
        }
    }

    pub(super) fn list_price_usd_per_seat(self) -> i64 {
        match self {
            Plan::Starter => 25,
            Plan::Growth => 45,
            Plan::Business => 70,
            Plan::Enterprise => 95,
        }
    }

    pub(super) fn next_tier(self) -> Plan {
        match self {
            Plan::Starter => Plan::Growth,
            Plan::Growth => Plan::Business,
            Plan::Business | Plan::Enterprise => Plan::Enterprise,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Region {
    NorthAmerica,
    Emea,
    Latam,
    Apac,
}

impl Region {
    pub fn name(self) -> &'static str {
        match self {
            Region::NorthAmerica => "NA",
            Region::Emea => "EMEA",
            Region::Latam => "LATAM",
            Region::Apac => "APAC",
        }
    }

    /// A moment of the UTC day, in milliseconds, inside the region's working hours: people use
    /// the product, file tickets and answer surveys at work.
    pub fn working_moment(self, rng: &mut impl Rng) -> u32 {
        let opens_at_utc_hour = match self {
            Region::NorthAmerica => 14,
            Region::Emea => 8,
            Region::Latam => 12,
            Region::Apac => 0,
        };
        (opens_at_utc_hour * HOUR_MS + rng.random_range(0..9 * HOUR_MS)) % DAY_MS
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Admin,
    Member,
    Viewer,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }
}

/// One contract line, as sales hands it over.
#[derive(Clone, Debug)]
pub(super) struct ContractLine {
    pub deal_id: String,
    pub start: NaiveDate,
    /// Exclusive; `None` is open-ended.
    pub end: Option<NaiveDate>,
    pub plan: Plan,
    pub seats: u32,
    /// Monthly recurring amount in the account's currency, in minor units.
    pub mrr_minor: i64,
}

impl ContractLine {
    pub fn in_force(&self, day: NaiveDate) -> bool {
        self.start <= day && self.end.is_none_or(|end| day < end)
    }
}

pub(super) struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    /// The first day the user shows up in the product, always a day a line is in force; `None`
    /// when that would fall after the history. Their `identify` and `group` calls come first.
    pub first_seen: Option<NaiveDate>,
    /// How often this user is active relative to colleagues (dormant users near 0).
    pub propensity: f64,
}

impl User {
    pub fn seen_by(&self, day: NaiveDate) -> bool {
        self.first_seen.is_some_and(|first| first <= day)
    }

    /// Seen on an earlier day, so the identity map already places the user on `day`.
    pub fn seen_before(&self, day: NaiveDate) -> bool {
        self.first_seen.is_some_and(|first| first < day)
    }
}

/// What sales learned about the customer; gaps make a handoff incomplete.
pub(super) struct HandoffFacts {
    pub goal: String,
    pub kpi: Option<String>,
    pub decision_maker: String,
    pub champion: Option<String>,
    pub risks: Option<String>,
}

pub(super) struct Account {
    pub id: String,
    pub name: String,
    pub lifecycle: Lifecycle,
    pub currency: Currency,
    pub segment: Segment,
    pub industry: &'static str,
    pub region: Region,
    pub employees: u32,
    pub csm_owner: &'static str,
    pub sales_owner: &'static str,
    pub lines: Vec<ContractLine>,
    pub users: Vec<User>,
    pub handoff: HandoffFacts,
    /// Usage intensity on a healthy day, around 1.
    usage_level: f64,
    /// How many features (a prefix of `vocab::FEATURES`) the account uses when fully engaged.
    feature_breadth: f64,
}

impl Account {
    pub fn persona(&self) -> Persona {
        self.lifecycle.persona()
    }

    pub fn language(&self) -> Language {
        self.currency.language()
    }

    pub fn in_force(&self, day: NaiveDate) -> bool {
        self.lines.iter().any(|line| line.in_force(day))
    }

    pub fn first_start_date(&self) -> NaiveDate {
        self.lines
            .iter()
            .map(|line| line.start)
            .min()
            .expect("every account has a contract line")
    }

    /// The latest `end_date` of the lines in force on `day` (`None` when one is open-ended);
    /// with none in force, the latest end of any line — a churner's churn date.
    pub fn contract_end(&self, day: NaiveDate) -> Option<NaiveDate> {
        let in_force: Vec<&ContractLine> = self
            .lines
            .iter()
            .filter(|line| line.in_force(day))
            .collect();
        if in_force.is_empty() {
            return self.lines.iter().filter_map(|line| line.end).max();
        }
        in_force
            .iter()
            .map(|line| line.end)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
    }

    /// The plan of the latest line started on or before `day` (the first line before any).
    pub fn plan_on(&self, day: NaiveDate) -> Plan {
        self.lines
            .iter()
            .filter(|line| line.start <= day)
            .max_by_key(|line| line.start)
            .unwrap_or(&self.lines[0])
            .plan
    }

    /// How intensely the account uses the product on `day`: 0 without a line in force, around
    /// 1 on a healthy day; the persona's curve shapes it.
    pub fn engagement(&self, day: NaiveDate, history: &History) -> f64 {
        if !self.in_force(day) {
            return 0.0;
        }
        let shape = match self.lifecycle {
            Lifecycle::Steady => 1.0,
            Lifecycle::Churner { .. } => match self.decline(day) {
                Some(gone) => DECLINE_FLOOR + (1.0 - DECLINE_FLOOR) * (1.0 - gone),
                None => 1.0,
            },
            Lifecycle::Expander { .. } => 0.85 + 0.45 * history.progress(day),
            Lifecycle::New {
                started_on,
                slow_adopter,
            } => onboarding_ramp((day - started_on).num_days(), slow_adopter),
            Lifecycle::Reactivator { returned_on, .. } if day >= returned_on => {
                onboarding_ramp((day - returned_on).num_days(), false)
            }
            Lifecycle::Reactivator { lapsed_on, .. } => {
                // They drift away before lapsing, though less sharply than a churner.
                let days_left = (lapsed_on - day).num_days() as f64;
                0.9 * (0.4 + 0.6 * (days_left / LAPSE_FADE_DAYS).min(1.0))
            }
        };
        self.usage_level * shape
    }

    /// How many distinct features are in use on `day`: breadth shrinks with engagement and
    /// grows over the history for expanders.
    pub fn features_in_use(&self, day: NaiveDate, engagement: f64, history: &History) -> usize {
        let breadth = match self.lifecycle {
            Lifecycle::Expander { .. } => self.feature_breadth + 2.5 * history.progress(day),
            _ => self.feature_breadth,
        };
        (breadth * engagement.min(1.0))
            .round()
            .clamp(1.0, vocab::FEATURES.len() as f64) as usize
    }

    /// For a churner in the 90 days before its end, how much of that run-up has passed (0 to 1).
    pub fn decline(&self, day: NaiveDate) -> Option<f64> {
        let Lifecycle::Churner { churn_on } = self.lifecycle else {
            return None;
        };
        let days_left = (churn_on - day).num_days();
        (1..=DECLINE_DAYS)
            .contains(&days_left)
            .then(|| 1.0 - days_left as f64 / DECLINE_DAYS as f64)
    }

    /// Just started (or restarted) and still learning the product.
    pub fn onboarding(&self, day: NaiveDate) -> bool {
        let since = match self.lifecycle {
            Lifecycle::New { started_on, .. } => started_on,
            Lifecycle::Reactivator { returned_on, .. } => returned_on,
            _ => return false,
        };
        (0..ONBOARDING_DAYS).contains(&(day - since).num_days())
    }

    /// Tickets per user relative to a healthy account: failing and onboarding accounts ask more.
    pub fn support_load(&self, day: NaiveDate) -> f64 {
        match self.decline(day) {
            Some(gone) => 1.5 + 3.0 * gone,
            None if self.onboarding(day) => 2.0,
            None => 1.0,
        }
    }

    /// Help-site reading relative to a healthy account: struggling accounts read more.
    pub fn help_need(&self, day: NaiveDate) -> f64 {
        let slow_adopter = matches!(
            self.lifecycle,
            Lifecycle::New {
                slow_adopter: true,
                ..
            }
        );
        match self.decline(day) {
            Some(gone) => 2.0 + 4.0 * gone,
            None if slow_adopter || self.onboarding(day) => 3.0,
            None => 1.0,
        }
    }
}

/// Usage `days_in` days after a start: quick to full for most, slow to a low ceiling for some.
fn onboarding_ramp(days_in: i64, slow_adopter: bool) -> f64 {
    let (days_to_full, ceiling) = if slow_adopter {
        (90.0, 0.35)
    } else {
        (30.0, 1.0)
    };
    ceiling * (0.15 + 0.85 * days_in as f64 / days_to_full).min(1.0)
}

pub(super) struct World {
    pub history: History,
    pub accounts: Vec<Account>,
}

impl World {
    pub fn build(rng: &mut impl Rng, accounts: usize, history: History) -> Self {
        let id_width = accounts.to_string().len().max(4);
        let mut deals = DealNumbers::default();
        let mut built = Vec::with_capacity(accounts);
        for (index, persona) in persona_plan(rng, accounts).into_iter().enumerate() {
            let number = format!("{:0id_width$}", index + 1);
            built.push(build_account(rng, &history, &mut deals, &number, persona));
        }
        Self {
            history,
            accounts: built,
        }
    }

    pub fn persona_counts(&self) -> Vec<(Persona, usize)> {
        Persona::ALL
            .iter()
            .map(|persona| {
                let count = self
                    .accounts
                    .iter()
                    .filter(|a| a.persona() == *persona)
                    .count();
                (*persona, count)
            })
            .collect()
    }
}

/// Exact persona counts (so tests and analytics know what to expect), in shuffled order.
fn persona_plan(rng: &mut impl Rng, accounts: usize) -> Vec<Persona> {
    let mut plan = Vec::with_capacity(accounts);
    for persona in [
        Persona::Churner,
        Persona::Expander,
        Persona::New,
        Persona::Reactivator,
    ] {
        let mut count = (accounts as f64 * persona.share()).round() as usize;
        // A tiny dataset still plants every behaviour once.
        if accounts >= 5 {
            count = count.max(1);
        }
        plan.extend(std::iter::repeat_n(persona, count));
    }
    plan.truncate(accounts);
    plan.resize(accounts, Persona::Steady);
    plan.shuffle(rng);
    plan
}

fn build_account(
    rng: &mut impl Rng,
    history: &History,
    deals: &mut DealNumbers,
    number: &str,
    persona: Persona,
) -> Account {
    let currency = if rng.random_bool(JPY_SHARE) {
        Currency::Jpy
    } else {
        Currency::Usd
    };
    let language = currency.language();
    let segment = pick_weighted(
        rng,
        &[
            (Segment::Smb, 0.55),
            (Segment::MidMarket, 0.33),
            (Segment::Enterprise, 0.12),
        ],
    );
    let terms = Terms::draw(rng, segment);
    let mut book = LineBook {
        currency,
        deals,
        lines: Vec::new(),
    };
    let lifecycle = contract(rng, history, &mut book, persona, &terms);
    let lines = book.lines;
    let (name, domain) = company(rng, language);
    let region = match currency {
        Currency::Jpy => Region::Apac,
        Currency::Usd => pick_weighted(
            rng,
            &[
                (Region::NorthAmerica, 0.6),
                (Region::Emea, 0.3),
                (Region::Latam, 0.1),
            ],
        ),
    };
    let employees = match segment {
        Segment::Smb => rng.random_range(10..=200),
        Segment::MidMarket => rng.random_range(200..=2000),
        Segment::Enterprise => rng.random_range(2000..=50_000),
    };
    let (csm_owners, sales_owners) = match language {
        Language::English => (vocab::CSM_OWNERS, vocab::SALES_OWNERS),
        Language::Japanese => (vocab::JAPANESE_CSM_OWNERS, vocab::JAPANESE_SALES_OWNERS),
    };
    let csm_owner = *pick(rng, csm_owners);
    let sales_owner = *pick(rng, sales_owners);
    let handoff = handoff_facts(rng, language, persona);
    let industry = *pick(rng, vocab::INDUSTRIES);
    let (usage_level, feature_breadth) = match lifecycle {
        Lifecycle::Expander { .. } => (rng.random_range(0.95..1.1), rng.random_range(8.0..10.0)),
        Lifecycle::New {
            slow_adopter: true, ..
        } => (1.0, rng.random_range(2.0..4.0)),
        _ => (rng.random_range(0.8..1.1), rng.random_range(4.0..8.0)),
    };
    let mut account = Account {
        id: format!("acc_{number}"),
        name,
        lifecycle,
        currency,
        segment,
        industry,
        region,
        employees,
        csm_owner,
        sales_owner,
        lines,
        users: Vec::new(),
        handoff,
        usage_level,
        feature_breadth,
    };
    account.users = enlist_users(rng, history, &account, number, &domain, terms.seats);
    account
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::sample::{Stream, stream_rng};
    use chrono::Days;

    fn world(accounts: usize, days: u32) -> World {
        let last_day = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        let history = History::ending_on(last_day, days).unwrap();
        World::build(&mut stream_rng(7, Stream::World), accounts, history)
    }

    #[test]
    fn churners_end_in_the_last_forty_percent_and_never_come_back() {
        let world = world(300, 365);
        let window_start = world.history.day_at(0.6);
        for account in world
            .accounts
            .iter()
            .filter(|a| a.persona() == Persona::Churner)
        {
            let Lifecycle::Churner { churn_on } = account.lifecycle else {
                unreachable!()
            };
            assert!(
                churn_on >= window_start && churn_on <= world.history.last_day,
                "{}",
                account.id
            );
            assert!(
                !account.in_force(world.history.last_day),
                "{} still in force",
                account.id
            );
            assert!(account.in_force(churn_on - Days::new(1)));
        }
    }

    #[test]
    fn reactivators_lapse_for_two_months_and_are_back_at_the_end() {
        let world = world(300, 365);
        for account in world
            .accounts
            .iter()
            .filter(|a| a.persona() == Persona::Reactivator)
        {
            let Lifecycle::Reactivator {
                lapsed_on,
                returned_on,
            } = account.lifecycle
            else {
                unreachable!()
            };
            assert!((returned_on - lapsed_on).num_days() >= 61, "{}", account.id);
            let gap = days_through(lapsed_on, returned_on - Days::new(1));
            assert!(
                gap.into_iter().all(|day| !account.in_force(day)),
                "{}",
                account.id
            );
            assert!(account.in_force(world.history.last_day), "{}", account.id);
        }
    }

    #[test]
    fn expanders_end_with_more_seats_and_mrr_than_they_started() {
        let world = world(300, 365);
        let (first, last) = (world.history.first_day, world.history.last_day);
        let total = |account: &Account, day| -> (u32, i64) {
            let lines = account.lines.iter().filter(|l| l.in_force(day));
            lines.fold((0, 0), |(seats, mrr), l| {
                (seats + l.seats, mrr + l.mrr_minor)
            })
        };
        for account in world
            .accounts
            .iter()
            .filter(|a| a.persona() == Persona::Expander)
        {
            let (seats_before, mrr_before) = total(account, first);
            let (seats_after, mrr_after) = total(account, last);
            assert!(
                seats_after > seats_before && mrr_after > mrr_before,
                "{}",
                account.id
            );
        }
    }

    #[test]
    fn users_first_show_up_on_a_day_their_account_is_in_force() {
        let world = world(200, 365);
        for account in &world.accounts {
            for user in &account.users {
                if let Some(day) = user.first_seen {
                    assert!(account.in_force(day), "{} first seen {day}", user.id);
                }
            }
        }
    }
}

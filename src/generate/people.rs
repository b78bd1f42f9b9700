//! The people of an account: users arriving as its lines come in force and leaving as they
//! end, their names and roles, and the sales handoff's facts (goal, KPI, decision maker,
//! champion) in the account's language.

use super::calendar::*;
use super::sample::{early_days, pick, pick_weighted};
use super::vocab::{self, Language};
use super::world::*;
use chrono::{Days, NaiveDate};
use rand::Rng;

/// Users who hold a seat but hardly ever log in.
const DORMANT_USER_SHARE: f64 = 0.15;

/// Users who join together: how many, the earliest day they show up, and over how many days
/// they trickle in.
pub(super) struct Arrivals {
    users: usize,
    earliest: NaiveDate,
    spread_days: u32,
}

/// The account's users: enough to fill most seats, showing up early in the history (or early
/// in onboarding); an expander's extra seats fill up after the upgrade.
pub(super) fn enlist_users(
    rng: &mut impl Rng,
    history: &History,
    account: &Account,
    number: &str,
    domain: &str,
    first_seats: u32,
) -> Vec<User> {
    let utilization = match account.lifecycle {
        Lifecycle::Expander { .. } => rng.random_range(0.85..0.98),
        Lifecycle::Steady => rng.random_range(0.6..0.9),
        Lifecycle::New { .. } => rng.random_range(0.5..0.9),
        Lifecycle::Churner { .. } | Lifecycle::Reactivator { .. } => rng.random_range(0.5..0.8),
    };
    let fill = |seats: u32| ((f64::from(seats) * utilization).ceil() as usize).max(1);
    let mut waves = vec![match account.lifecycle {
        Lifecycle::New {
            started_on,
            slow_adopter,
        } => Arrivals {
            users: fill(first_seats),
            earliest: started_on,
            spread_days: if slow_adopter { 75 } else { 21 },
        },
        _ => Arrivals {
            users: fill(first_seats),
            earliest: history.first_day,
            spread_days: 14,
        },
    }];
    if let Lifecycle::Expander { upgrade_on } = account.lifecycle {
        let in_force = account
            .lines
            .iter()
            .filter(|line| line.in_force(upgrade_on));
        let extra_seats = in_force
            .map(|line| line.seats)
            .sum::<u32>()
            .saturating_sub(first_seats);
        waves.push(Arrivals {
            users: fill(extra_seats),
            earliest: upgrade_on,
            spread_days: 45,
        });
    }
    let mut users = Vec::new();
    for wave in waves {
        for _ in 0..wave.users {
            let arrives = wave.earliest + Days::new(early_days(rng, wave.spread_days));
            let first_seen =
                next_day_in_force(&account.lines, arrives).filter(|day| *day <= history.last_day);
            let user_number = users.len() + 1;
            let language = account.language();
            users.push(draw_user(
                rng,
                language,
                number,
                domain,
                user_number,
                first_seen,
            ));
        }
    }
    users
}

/// `from` if a line is in force then, else the next day one starts.
pub(super) fn next_day_in_force(lines: &[ContractLine], from: NaiveDate) -> Option<NaiveDate> {
    let starts_later = lines
        .iter()
        .map(|line| line.start)
        .filter(|start| *start > from);
    let in_force_now = lines.iter().any(|line| line.in_force(from)).then_some(from);
    in_force_now.or_else(|| starts_later.min())
}

pub(super) fn draw_user(
    rng: &mut impl Rng,
    language: Language,
    account_number: &str,
    domain: &str,
    user_number: usize,
    first_seen: Option<NaiveDate>,
) -> User {
    let (name, mailbox) = person(rng, language);
    // The first user is the admin who set the account up, and uses it most.
    let first_user = user_number == 1;
    let role = if first_user {
        Role::Admin
    } else {
        let roles = [
            (Role::Admin, 0.08),
            (Role::Member, 0.67),
            (Role::Viewer, 0.25),
        ];
        pick_weighted(rng, &roles)
    };
    let propensity = if first_user {
        1.2
    } else if rng.random_bool(DORMANT_USER_SHARE) {
        0.05
    } else {
        rng.random_range(0.5..1.5)
    };
    User {
        id: format!("u_{account_number}_{user_number:02}"),
        name,
        email: format!("{mailbox}@{domain}"),
        role,
        first_seen,
        propensity,
    }
}

/// A person's display name and the mailbox part of their e-mail address.
pub(super) fn person(rng: &mut impl Rng, language: Language) -> (String, String) {
    match language {
        Language::English => {
            let first = pick(rng, vocab::FIRST_NAMES);
            let last = pick(rng, vocab::LAST_NAMES);
            (
                format!("{first} {last}"),
                format!("{first}.{last}").to_lowercase(),
            )
        }
        Language::Japanese => {
            let family = pick(rng, vocab::JAPANESE_FAMILY_NAMES);
            let given = pick(rng, vocab::JAPANESE_GIVEN_NAMES);
            (
                format!("{} {}", family.native, given.native),
                format!("{}.{}", given.latin, family.latin),
            )
        }
    }
}

/// A company name and its e-mail domain.
pub(super) fn company(rng: &mut impl Rng, language: Language) -> (String, String) {
    match language {
        Language::English => {
            let name = format!(
                "{} {}",
                pick(rng, vocab::COMPANY_HEADS),
                pick(rng, vocab::COMPANY_TAILS)
            );
            let domain = format!("{}.com", name.replace(' ', "").to_lowercase());
            (name, domain)
        }
        Language::Japanese => {
            let head = pick(rng, vocab::JAPANESE_COMPANY_HEADS);
            let tail = pick(rng, vocab::JAPANESE_COMPANY_TAILS);
            (
                format!("{}{}株式会社", head.native, tail.native),
                format!("{}-{}.co.jp", head.latin, tail.latin),
            )
        }
    }
}

/// A handoff's facts; churners' handoffs are more often missing a champion or a KPI.
pub(super) fn handoff_facts(
    rng: &mut impl Rng,
    language: Language,
    persona: Persona,
) -> HandoffFacts {
    let churner = persona == Persona::Churner;
    let goal = pick(rng, vocab::GOALS).text(language).to_owned();
    let kpi_missing = rng.random_bool(if churner { 0.4 } else { 0.1 });
    let kpi = (!kpi_missing).then(|| pick(rng, vocab::KPIS).text(language).to_owned());
    let decision_maker = contact(rng, language, vocab::DECISION_MAKER_TITLES);
    let champion_missing = rng.random_bool(if churner { 0.5 } else { 0.12 });
    let champion = (!champion_missing).then(|| contact(rng, language, vocab::CHAMPION_TITLES));
    let risks_missing = rng.random_bool(if churner { 0.05 } else { 0.2 });
    let risks = (!risks_missing).then(|| pick(rng, vocab::RISKS).text(language).to_owned());
    HandoffFacts {
        goal,
        kpi,
        decision_maker,
        champion,
        risks,
    }
}

/// A person with their job title, as sales writes them down.
pub(super) fn contact(rng: &mut impl Rng, language: Language, titles: &[vocab::Phrase]) -> String {
    let (name, _) = person(rng, language);
    let title = pick(rng, titles).text(language);
    match language {
        Language::English => format!("{name} ({title})"),
        Language::Japanese => format!("{name}（{title}）"),
    }
}

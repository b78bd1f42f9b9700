//! Writes the support tickets (contract §1 source `tickets`) as two incremental Zendesk exports.
//! `tickets/tickets-0001.ndjson` holds every ticket created before the cutoff (two thirds into
//! the history) as it stood then; `tickets/tickets-0002.ndjson.gz` holds every ticket updated
//! since, as it stands at the end. A ticket open at the cutoff and solved later is in both, the
//! later row with a greater `updated_at`. Failing accounts file more, and more urgent, tickets
//! and rate them badly. Tickets are held as compact structs (tens per account per year) to be
//! sorted by `updated_at`; their lines are written one at a time.

use std::path::Path;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use rand::Rng;

use super::calendar::moment;
use super::defects::{Defect, DefectLog, PlantSchedule};
use super::encode::{JsonObject, rfc3339_seconds, truncate_mid_line};
use super::sample::{pick, pick_weighted, poisson};
use super::sink::{Compression, LineFile, WrittenFile};
use super::vocab::{TICKET_TOPICS, TicketTopic};
use super::world::{Account, World};
use super::{Result, SourceOutput};

const FIRST_EXPORT: &str = "tickets/tickets-0001.ndjson";
const SECOND_EXPORT: &str = "tickets/tickets-0002.ndjson.gz";
pub(super) const EXPORTS: [&str; 2] = [FIRST_EXPORT, SECOND_EXPORT];

/// Tickets whose requester Zendesk could not place in an organization.
const WITHOUT_ORGANIZATION_SHARE: f64 = 0.10;
/// Tickets never solved: they stay open to the end.
const UNSOLVED_SHARE: f64 = 0.03;
const FIRST_TICKET_ID: u64 = 10_001;
/// Zendesk closes a solved ticket four days later.
const AUTO_CLOSE_DAYS: i64 = 4;
/// Priorities of a failing account's tickets, and of everyone else's (`None`: not set).
const FAILING_PRIORITIES: [(Option<Priority>, f64); 5] = [
    (Some(Priority::Urgent), 0.25),
    (Some(Priority::High), 0.4),
    (Some(Priority::Normal), 0.25),
    (Some(Priority::Low), 0.05),
    (None, 0.05),
];
const USUAL_PRIORITIES: [(Option<Priority>, f64); 5] = [
    (Some(Priority::Urgent), 0.04),
    (Some(Priority::High), 0.14),
    (Some(Priority::Normal), 0.5),
    (Some(Priority::Low), 0.22),
    (None, 0.1),
];
/// How a failing account's requesters rate solved tickets, and everyone else's.
const FAILING_RATINGS: [(Satisfaction, f64); 3] = [
    (Satisfaction::Bad, 0.45),
    (Satisfaction::Good, 0.15),
    (Satisfaction::Offered, 0.4),
];
const USUAL_RATINGS: [(Satisfaction, f64); 3] = [
    (Satisfaction::Good, 0.55),
    (Satisfaction::Bad, 0.07),
    (Satisfaction::Offered, 0.38),
];
/// Ids of planted tickets, far above the generated ones.
const PLANTED_TICKET_ID: u64 = 9_000_001;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    New,
    Open,
    Pending,
    Hold,
    Solved,
    Closed,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Hold => "hold",
            Status::Solved => "solved",
            Status::Closed => "closed",
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    fn name(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// Zendesk's `satisfaction_rating.score`.
#[derive(Clone, Copy, Debug)]
enum Satisfaction {
    Good,
    Bad,
    Offered,
    Unoffered,
}

impl Satisfaction {
    fn name(self) -> &'static str {
        match self {
            Satisfaction::Good => "good",
            Satisfaction::Bad => "bad",
            Satisfaction::Offered => "offered",
            Satisfaction::Unoffered => "unoffered",
        }
    }
}

struct Ticket {
    id: u64,
    account: usize,
    requester: usize,
    /// Whether Zendesk names the organization; otherwise the ingest resolves the account from
    /// the requester through the identity map.
    with_organization: bool,
    created_at: NaiveDateTime,
    /// Status changes after creation (which leaves a ticket `new`), in time order.
    changes: Vec<(NaiveDateTime, Status)>,
    priority: Option<Priority>,
    topic: &'static TicketTopic,
    /// The rating the requester gives once the ticket is solved.
    rating: Satisfaction,
}

/// A ticket as an export taken at one instant sees it.
#[derive(Clone, Copy)]
struct Snapshot {
    status: Status,
    updated_at: NaiveDateTime,
    solved_at: Option<NaiveDateTime>,
    satisfaction: Satisfaction,
}

impl Ticket {
    /// The ticket as of `instant`, `None` if not created yet.
    fn as_of(&self, instant: NaiveDateTime) -> Option<Snapshot> {
        if self.created_at >= instant {
            return None;
        }
        let happened = || self.changes.iter().filter(|(at, _)| *at < instant);
        let (updated_at, status) = happened()
            .next_back()
            .copied()
            .unwrap_or((self.created_at, Status::New));
        let solved_at = happened()
            .find(|(_, status)| *status == Status::Solved)
            .map(|(at, _)| *at);
        let satisfaction = if solved_at.is_some() {
            self.rating
        } else {
            Satisfaction::Unoffered
        };
        Some(Snapshot {
            status,
            updated_at,
            solved_at,
            satisfaction,
        })
    }
}

/// `tickets_per_user_day`: tickets a user of a healthy account files per day.
pub(super) fn write(
    world: &World,
    tickets_per_user_day: f64,
    root: &Path,
    rng: &mut impl Rng,
    defects: &mut DefectLog,
) -> Result<SourceOutput> {
    let tickets = file_tickets(world, tickets_per_user_day, rng);
    let cutoff = world.history.day_at(2.0 / 3.0).and_time(NaiveTime::MIN);
    let first = export_rows(&tickets, cutoff, None);
    let second = export_rows(&tickets, world.history.end_instant(), Some(cutoff));
    // A ticket settled before the cutoff is only in the first export: a bad later row for it
    // must not replace it.
    let settled = first.iter().copied().find(|(ticket, snapshot)| {
        ticket
            .as_of(world.history.end_instant())
            .is_some_and(|last| last.updated_at == snapshot.updated_at)
    });
    let planter = Planter {
        world,
        cutoff,
        settled,
    };
    let first_plants = [Plant::Truncated, Plant::ImpossibleCreatedAt, Plant::NoId];
    let second_plants = [Plant::DeletedStatus, Plant::CriticalPriority];
    let files = vec![
        write_export(&planter, root, FIRST_EXPORT, &first, &first_plants, defects)?,
        write_export(
            &planter,
            root,
            SECOND_EXPORT,
            &second,
            &second_plants,
            defects,
        )?,
    ];
    Ok(SourceOutput {
        files,
        records: tickets.len() as u64,
    })
}

/// Every ticket of the history, ids issued in creation order as Zendesk does.
fn file_tickets(world: &World, tickets_per_user_day: f64, rng: &mut impl Rng) -> Vec<Ticket> {
    let mut tickets = Vec::new();
    for (account_index, account) in world.accounts.iter().enumerate() {
        for day in world.history.days() {
            if !account.in_force(day) {
                continue;
            }
            let mean =
                tickets_per_user_day * account.users.len() as f64 * account.support_load(day);
            for _ in 0..poisson(rng, mean) {
                tickets.extend(file_ticket(rng, account_index, account, day));
            }
        }
    }
    tickets.sort_by_key(|ticket| (ticket.created_at, ticket.account));
    for (ticket, id) in tickets.iter_mut().zip(FIRST_TICKET_ID..) {
        ticket.id = id;
    }
    tickets
}

/// One ticket filed on `day` by someone already using the product; `None` when nobody does yet.
fn file_ticket(
    rng: &mut impl Rng,
    account_index: usize,
    account: &Account,
    day: NaiveDate,
) -> Option<Ticket> {
    let requester = (0..3)
        .map(|_| rng.random_range(0..account.users.len()))
        .find(|user| account.users[*user].seen_by(day))?;
    let failing = account.decline(day).is_some();
    let created_at = moment(day, account.region.working_moment(rng));
    // Unplaced requesters must already be in the identity map for the ingest to place them.
    let with_organization =
        !(account.users[requester].seen_before(day) && rng.random_bool(WITHOUT_ORGANIZATION_SHARE));
    let wants_distress_topic = rng.random_bool(if failing { 0.7 } else { 0.15 });
    let topics: Vec<_> = TICKET_TOPICS
        .iter()
        .filter(|t| t.distress == wants_distress_topic)
        .collect();
    let topic = *pick(rng, &topics);
    let (priorities, ratings) = if failing {
        (&FAILING_PRIORITIES, &FAILING_RATINGS)
    } else {
        (&USUAL_PRIORITIES, &USUAL_RATINGS)
    };
    let priority = pick_weighted(rng, priorities);
    let rating = pick_weighted(rng, ratings);
    let changes = status_changes(rng, created_at, failing);
    Some(Ticket {
        id: 0,
        account: account_index,
        requester,
        with_organization,
        created_at,
        changes,
        priority,
        topic,
        rating,
    })
}

/// An agent replies within hours; some tickets wait on the customer; most are solved within
/// days (slower for failing accounts) and closed automatically after that.
fn status_changes(
    rng: &mut impl Rng,
    created_at: NaiveDateTime,
    failing: bool,
) -> Vec<(NaiveDateTime, Status)> {
    let first_reply = created_at + Duration::minutes(rng.random_range(10..=480));
    let mut changes = vec![(first_reply, Status::Open)];
    let waiting = pick_weighted(
        rng,
        &[
            (None, 0.7),
            (Some(Status::Pending), 0.25),
            (Some(Status::Hold), 0.05),
        ],
    );
    if let Some(status) = waiting {
        changes.push((
            first_reply + Duration::hours(rng.random_range(1..=24)),
            status,
        ));
    }
    if rng.random_bool(UNSOLVED_SHARE) {
        return changes;
    }
    let slowdown = if failing { 1.5 } else { 1.0 };
    let hours_to_solve = 0.5 * 2f64.powf(rng.random_range(0.0..9.5)) * slowdown;
    let last_change = changes.last().map_or(first_reply, |(at, _)| *at);
    let solved_at = (created_at + Duration::minutes((hours_to_solve * 60.0) as i64))
        .max(last_change + Duration::minutes(5));
    changes.push((solved_at, Status::Solved));
    changes.push((solved_at + Duration::days(AUTO_CLOSE_DAYS), Status::Closed));
    changes
}

/// The rows of an export taken at `instant` (only those updated since `since`, for an
/// incremental one), in `updated_at` order as Zendesk sends them.
fn export_rows(
    tickets: &[Ticket],
    instant: NaiveDateTime,
    since: Option<NaiveDateTime>,
) -> Vec<(&Ticket, Snapshot)> {
    let mut rows: Vec<_> = tickets
        .iter()
        .filter_map(|ticket| Some((ticket, ticket.as_of(instant)?)))
        .filter(|(_, snapshot)| since.is_none_or(|since| snapshot.updated_at >= since))
        .collect();
    rows.sort_by_key(|(ticket, snapshot)| (snapshot.updated_at, ticket.id));
    rows
}

fn write_export(
    planter: &Planter<'_>,
    root: &Path,
    relative: &str,
    rows: &[(&Ticket, Snapshot)],
    plants: &[Plant],
    defects: &mut DefectLog,
) -> Result<WrittenFile> {
    let compression = if relative.ends_with(".gz") {
        Compression::Gzip
    } else {
        Compression::Plain
    };
    let mut file = LineFile::create(root, relative, compression)?;
    let mut schedule = PlantSchedule::spread(rows.len(), plants);
    let mut previous: Option<TicketLine<'_>> = None;
    for (index, (ticket, snapshot)) in rows.iter().enumerate() {
        for plant in schedule.due_before(index) {
            let line = planter.line(plant, previous.as_ref());
            defects.plant_line(&mut file, line.as_bytes(), plant.defect())?;
        }
        let line = TicketLine::of(planter.world, ticket, snapshot);
        file.write_line(line.encode().as_bytes())?;
        previous = Some(line);
    }
    for plant in schedule.rest() {
        let line = planter.line(plant, previous.as_ref());
        defects.plant_line(&mut file, line.as_bytes(), plant.defect())?;
    }
    file.finish()
}

/// A ticket row's fields as the export writes them.
#[derive(Clone)]
struct TicketLine<'a> {
    id: Option<u64>,
    organization_id: Option<&'a str>,
    requester_id: &'a str,
    created_at: String,
    updated_at: String,
    solved_at: Option<String>,
    status: &'a str,
    priority: Option<&'a str>,
    kind: &'a str,
    subject: &'a str,
    tags: &'a [&'a str],
    satisfaction: &'a str,
}

impl<'a> TicketLine<'a> {
    fn of(world: &'a World, ticket: &'a Ticket, snapshot: &Snapshot) -> Self {
        let account = &world.accounts[ticket.account];
        Self {
            id: Some(ticket.id),
            organization_id: ticket.with_organization.then_some(account.id.as_str()),
            requester_id: &account.users[ticket.requester].id,
            created_at: rfc3339_seconds(ticket.created_at),
            updated_at: rfc3339_seconds(snapshot.updated_at),
            solved_at: snapshot.solved_at.map(rfc3339_seconds),
            status: snapshot.status.name(),
            priority: ticket.priority.map(Priority::name),
            kind: ticket.topic.kind,
            subject: ticket.topic.subject.text(account.language()),
            tags: ticket.topic.tags,
            satisfaction: snapshot.satisfaction.name(),
        }
    }

    fn encode(&self) -> String {
        let mut line = String::new();
        let mut object = JsonObject::begin(&mut line);
        if let Some(id) = self.id {
            object.integer("id", id);
        }
        object.nullable_string("organization_id", self.organization_id);
        object.string("requester_id", self.requester_id);
        object
            .string("created_at", &self.created_at)
            .string("updated_at", &self.updated_at);
        object.nullable_string("solved_at", self.solved_at.as_deref());
        object
            .string("status", self.status)
            .nullable_string("priority", self.priority);
        object
            .string("type", self.kind)
            .string("subject", self.subject)
            .strings("tags", self.tags);
        object.object("satisfaction_rating", |rating| {
            rating.string("score", self.satisfaction);
        });
        object.end();
        line
    }
}

/// The malformed rows planted in the ticket exports.
#[derive(Clone, Copy)]
enum Plant {
    /// A copy of the previous row cut off mid-line.
    Truncated,
    /// `created_at` on the 45th day of the 13th month.
    ImpossibleCreatedAt,
    /// A ticket without `id`.
    NoId,
    /// A later row of a settled ticket with status `deleted`: the valid earlier row must survive.
    DeletedStatus,
    /// Priority `critical`, which Zendesk does not have.
    CriticalPriority,
}

impl Plant {
    fn defect(self) -> Defect {
        match self {
            Plant::Truncated => Defect::UnparseableJson,
            Plant::ImpossibleCreatedAt => Defect::BadTimestamp,
            Plant::NoId => Defect::MissingRequired,
            Plant::DeletedStatus | Plant::CriticalPriority => Defect::BadEnum,
        }
    }
}

/// Builds planted rows from real ones, without randomness.
struct Planter<'a> {
    world: &'a World,
    cutoff: NaiveDateTime,
    settled: Option<(&'a Ticket, Snapshot)>,
}

impl<'a> Planter<'a> {
    fn line(&self, plant: Plant, previous: Option<&TicketLine<'a>>) -> String {
        let template = previous.cloned().unwrap_or_else(|| self.stand_in());
        let fresh = TicketLine {
            id: Some(PLANTED_TICKET_ID + plant as u64),
            ..template.clone()
        };
        match plant {
            Plant::Truncated => truncate_mid_line(template.encode()),
            Plant::ImpossibleCreatedAt => {
                let year = self.cutoff.format("%Y");
                TicketLine {
                    created_at: format!("{year}-13-45T00:00:00Z"),
                    ..fresh
                }
                .encode()
            }
            Plant::NoId => TicketLine {
                id: None,
                ..template
            }
            .encode(),
            Plant::DeletedStatus => {
                let settled = match self.settled {
                    Some((ticket, snapshot)) => TicketLine::of(self.world, ticket, &snapshot),
                    None => fresh,
                };
                let updated_at = rfc3339_seconds(self.cutoff + Duration::days(1));
                TicketLine {
                    status: "deleted",
                    updated_at,
                    ..settled
                }
                .encode()
            }
            Plant::CriticalPriority => TicketLine {
                priority: Some("critical"),
                ..fresh
            }
            .encode(),
        }
    }

    /// A plausible ticket of the first account, for an export with no row to copy.
    fn stand_in(&self) -> TicketLine<'a> {
        let account = &self.world.accounts[0];
        let topic = &TICKET_TOPICS[0];
        let at = rfc3339_seconds(self.cutoff - Duration::days(1));
        TicketLine {
            id: Some(PLANTED_TICKET_ID),
            organization_id: Some(&account.id),
            requester_id: &account.users[0].id,
            created_at: at.clone(),
            updated_at: at,
            solved_at: None,
            status: Status::Open.name(),
            priority: Some(Priority::Normal.name()),
            kind: topic.kind,
            subject: topic.subject.text(account.language()),
            tags: topic.tags,
            satisfaction: Satisfaction::Unoffered.name(),
        }
    }
}

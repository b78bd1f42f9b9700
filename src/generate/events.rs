//! Writes the product-usage logs (contract §1 source `events`): Segment `track`, `identify` and `group`
//! calls in `segment/events-YYYY-MM.ndjson`, one file per month, rotating plain / `.gz` / `.zst`.
//! Each day's calls are sampled from the world's usage curves and written in timestamp order. A
//! user's `identify` and `group` calls come just before their first `track` call, so every event
//! without `context.groupId` resolves through the identity map. Holds one day of calls in
//! memory, never a file.

use std::path::Path;

use chrono::{Datelike, NaiveDate, Weekday};
use rand::Rng;

use super::calendar::{DAY_MS, Month, ends_calendar_month};
use super::defects::{Defect, DefectLog};
use super::encode::{JsonObject, Timestamp, truncate_mid_line};
use super::sample::poisson;
use super::sink::{Compression, LineFile};
use super::vocab::{FEATURES, Feature};
use super::world::World;
use super::{Result, SourceOutput, Volume};

const DIRECTORY: &str = "segment";
/// Chance that a seen user is active on a fully engaged weekday / weekend day.
const WEEKDAY_ACTIVE_RATE: f64 = 0.30;
const WEEKEND_ACTIVE_RATE: f64 = 0.05;
/// Track calls sent without `context.groupId` (server-side sources often omit it).
const UNGROUPED_SHARE: f64 = 0.10;
/// Track calls whose timestamp has no offset and a space instead of `T`.
const NAIVE_TIMESTAMP_SHARE: f64 = 0.01;
/// Chance that an active user's `group` call is sent again (apps re-announce on login).
const REGROUP_RATE: f64 = 0.01;
/// Calls delivered twice by a Segment retry.
const RETRY_RATE: f64 = 0.005;
const MAX_GAP_BETWEEN_EVENTS_MS: u32 = 600_000;
/// Message ids of planted calls: recognizable, and never drawn by the random stream in practice.
const PLANTED_MESSAGE_ID: u128 = 0xdefec7ed_0000_4000_8000_000000000000;
const NOON_MS: u32 = DAY_MS / 2;

pub(super) fn month_file(month: &Month) -> String {
    let compression = Compression::rotating(month.index);
    format!(
        "{DIRECTORY}/events-{}.ndjson{}",
        month.label(),
        compression.extension()
    )
}

/// One Segment call of the day, kept compact until it is written.
struct Call {
    at_ms: u32,
    account: u32,
    user: u32,
    message_id: u128,
    kind: CallKind,
}

#[derive(Clone, Copy)]
enum CallKind {
    Identify,
    Group,
    Track {
        feature: u8,
        value: u8,
        grouped: bool,
        naive_time: bool,
    },
}

/// The malformed calls planted in event files.
#[derive(Clone, Copy)]
enum Plant {
    /// Bytes 0xFF 0xFE inside a property value.
    InvalidUtf8,
    /// `"timestamp":"yesterday"`.
    WordForTimestamp,
    /// A retried call cut off mid-line.
    Truncated,
    /// A track call without `messageId`.
    NoMessageId,
}

impl Plant {
    /// In this order, the i-th plant goes into month i (the last month of a short history), so
    /// no file gets more than a few, and invalid UTF-8 lands in month 0, always a plain file.
    const ALL: [Plant; 4] = [
        Plant::InvalidUtf8,
        Plant::WordForTimestamp,
        Plant::Truncated,
        Plant::NoMessageId,
    ];

    fn defect(self) -> Defect {
        match self {
            Plant::InvalidUtf8 => Defect::InvalidUtf8,
            Plant::WordForTimestamp => Defect::BadTimestamp,
            Plant::Truncated => Defect::UnparseableJson,
            Plant::NoMessageId => Defect::MissingRequired,
        }
    }

    fn for_month(month: usize, months: usize) -> Vec<Plant> {
        let month_of = |index: usize| index.min(months - 1);
        (0..Plant::ALL.len())
            .filter(|index| month_of(*index) == month)
            .map(|index| Plant::ALL[index])
            .collect()
    }
}

pub(super) fn write(
    world: &World,
    volume: &Volume,
    root: &Path,
    rng: &mut impl Rng,
    defects: &mut DefectLog,
) -> Result<SourceOutput> {
    let months = world.history.months();
    let mut output = SourceOutput::default();
    let mut calls = Vec::new();
    let mut line = String::new();
    let mut retried_next_month: Vec<String> = Vec::new();
    // Plants and cross-month retries follow calendar months, so daily files hold the same
    // rows as monthly ones.
    let calendar_months = months.last().map_or(0, |m| m.calendar + 1);
    for month in &months {
        let compression = Compression::rotating(month.index);
        let mut file = LineFile::create(root, &month_file(month), compression)?;
        for retry in retried_next_month.drain(..) {
            file.write_line(retry.as_bytes())?;
        }
        let has_next_month = month.index + 1 < months.len();
        let mut plants = if month.opens_calendar_month {
            Plant::for_month(month.calendar, calendar_months)
        } else {
            Vec::new()
        };
        for day in month.days() {
            let date = day.to_string();
            simulate_day(world, day, volume, rng, &mut calls);
            for call in &calls {
                line.clear();
                encode_call(&mut line, world, day, &date, call);
                file.write_line(line.as_bytes())?;
                if matches!(call.kind, CallKind::Track { .. }) {
                    output.records += 1;
                }
                if rng.random_bool(RETRY_RATE) {
                    // A retry of a late call sometimes lands in the next month's export.
                    if has_next_month && ends_calendar_month(day) && rng.random_bool(0.5) {
                        retried_next_month.push(line.clone());
                    } else {
                        file.write_line(line.as_bytes())?;
                    }
                }
            }
            for plant in plants.drain(..) {
                let planted = planted_call(plant, world, day, &date, &calls);
                defects.plant_line(&mut file, &planted, plant.defect())?;
            }
        }
        output.files.push(file.finish()?);
    }
    Ok(output)
}

/// Samples every account's calls on `day` into `calls`, in timestamp order.
fn simulate_day(
    world: &World,
    day: NaiveDate,
    volume: &Volume,
    rng: &mut impl Rng,
    calls: &mut Vec<Call>,
) {
    calls.clear();
    let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    let active_rate = volume.activity
        * if weekend {
            WEEKEND_ACTIVE_RATE
        } else {
            WEEKDAY_ACTIVE_RATE
        };
    for (account_index, account) in world.accounts.iter().enumerate() {
        let engagement = account.engagement(day, &world.history);
        if engagement <= 0.0 {
            continue;
        }
        let features = account.features_in_use(day, engagement, &world.history);
        let mean_events = volume.events_per_user_day * (0.5 + 0.5 * engagement.min(1.5));
        for (user_index, user) in account.users.iter().enumerate() {
            let first_day = user.first_seen == Some(day);
            let returns = user.seen_before(day)
                && rng.random_bool((active_rate * engagement * user.propensity).min(0.95));
            if !first_day && !returns {
                continue;
            }
            let (account_slot, user_slot) = (account_index as u32, user_index as u32);
            let mut push = |at_ms: u32, message_id: u128, kind: CallKind| {
                let (account, user) = (account_slot, user_slot);
                calls.push(Call {
                    at_ms,
                    account,
                    user,
                    message_id,
                    kind,
                });
            };
            // Leaves room before the session for the identify and group calls.
            let mut at_ms = account.region.working_moment(rng).max(2_000);
            if first_day {
                push(at_ms - 2_000, rng.random(), CallKind::Identify);
                push(at_ms - 1_000, rng.random(), CallKind::Group);
            } else if rng.random_bool(REGROUP_RATE) {
                push(at_ms - 1_000, rng.random(), CallKind::Group);
            }
            for _ in 0..track_count(rng, mean_events) {
                let feature = adopted_feature(rng, features);
                let kind = CallKind::Track {
                    feature: feature as u8,
                    value: rng.random_range(0..FEATURES[feature].values.len()) as u8,
                    grouped: !rng.random_bool(UNGROUPED_SHARE),
                    naive_time: rng.random_bool(NAIVE_TIMESTAMP_SHARE),
                };
                push(at_ms, rng.random(), kind);
                let gap = rng.random_range(5_000..MAX_GAP_BETWEEN_EVENTS_MS);
                at_ms = (at_ms + gap).min(DAY_MS - 1);
            }
        }
    }
    calls.sort_by_key(|call| call.at_ms);
}

/// Track calls in one active user-day: at least one, `mean` on average.
fn track_count(rng: &mut impl Rng, mean: f64) -> u32 {
    if mean >= 1.0 {
        1 + poisson(rng, mean - 1.0)
    } else {
        u32::from(rng.random_bool(mean))
    }
}

/// A feature among the first `breadth` of `FEATURES`, the core ones used most.
fn adopted_feature(rng: &mut impl Rng, breadth: usize) -> usize {
    let skewed = rng.random::<f64>().powf(1.5);
    ((breadth as f64 * skewed) as usize).min(breadth - 1)
}

fn encode_call(out: &mut String, world: &World, day: NaiveDate, date: &str, call: &Call) {
    let account = &world.accounts[call.account as usize];
    let user = &account.users[call.user as usize];
    let at = Timestamp::Millis {
        date,
        ms: call.at_ms,
    };
    let mut object = JsonObject::begin(out);
    match call.kind {
        CallKind::Identify => {
            object
                .string("type", "identify")
                .uuid("messageId", call.message_id);
            object.timestamp("timestamp", at).string("userId", &user.id);
            object.object("traits", |traits| {
                traits
                    .string("email", &user.email)
                    .string("name", &user.name);
                traits.string("role", user.role.name());
            });
        }
        CallKind::Group => {
            object
                .string("type", "group")
                .uuid("messageId", call.message_id);
            object.timestamp("timestamp", at).string("userId", &user.id);
            object.string("groupId", &account.id);
            object.object("traits", |traits| {
                traits
                    .string("name", &account.name)
                    .string("plan", account.plan_on(day).name());
            });
        }
        CallKind::Track {
            feature,
            value,
            grouped,
            naive_time,
        } => {
            let feature = &FEATURES[usize::from(feature)];
            let timestamp = if naive_time {
                Timestamp::Naive {
                    date,
                    ms: call.at_ms,
                }
            } else {
                at
            };
            let track = TrackCall {
                message_id: Some(call.message_id),
                timestamp,
                user_id: &user.id,
                feature,
                value: feature.values[usize::from(value)],
                group_id: grouped.then_some(account.id.as_str()),
            };
            track.members(&mut object);
        }
    }
    object.end();
}

/// A `track` call's fields, shared by sampled and planted calls.
#[derive(Clone, Copy)]
struct TrackCall<'a> {
    message_id: Option<u128>,
    timestamp: Timestamp<'a>,
    user_id: &'a str,
    feature: &'a Feature,
    value: &'a str,
    group_id: Option<&'a str>,
}

impl TrackCall<'_> {
    fn members(&self, object: &mut JsonObject<'_>) {
        object.string("type", "track");
        if let Some(message_id) = self.message_id {
            object.uuid("messageId", message_id);
        }
        object
            .timestamp("timestamp", self.timestamp)
            .string("userId", self.user_id);
        object.string("event", self.feature.event);
        object.object("properties", |properties| {
            properties.string(self.feature.property, self.value);
        });
        object.object("context", |context| {
            if let Some(group_id) = self.group_id {
                context.string("groupId", group_id);
            }
        });
    }

    fn encode(&self) -> String {
        let mut line = String::new();
        let mut object = JsonObject::begin(&mut line);
        self.members(&mut object);
        object.end();
        line
    }
}

/// A planted line, made from the first account's first user at noon (or, for a truncated
/// retry, from the day's last track call).
fn planted_call(
    plant: Plant,
    world: &World,
    day: NaiveDate,
    date: &str,
    calls: &[Call],
) -> Vec<u8> {
    const PLACEHOLDER: &str = "<invalid-utf8>";
    let account = &world.accounts[0];
    let feature = &FEATURES[0];
    let healthy = TrackCall {
        message_id: Some(PLANTED_MESSAGE_ID + plant as u128),
        timestamp: Timestamp::Millis { date, ms: NOON_MS },
        user_id: &account.users[0].id,
        feature,
        value: feature.values[0],
        group_id: Some(&account.id),
    };
    match plant {
        Plant::InvalidUtf8 => {
            let line = TrackCall {
                value: PLACEHOLDER,
                ..healthy
            }
            .encode();
            let (before, after) = line
                .split_once(PLACEHOLDER)
                .expect("the value is in the line");
            [before.as_bytes(), &[0xFF, 0xFE], after.as_bytes()].concat()
        }
        Plant::WordForTimestamp => TrackCall {
            timestamp: Timestamp::Text("yesterday"),
            ..healthy
        }
        .encode()
        .into_bytes(),
        Plant::NoMessageId => TrackCall {
            message_id: None,
            ..healthy
        }
        .encode()
        .into_bytes(),
        Plant::Truncated => {
            let last_track = calls
                .iter()
                .rev()
                .find(|c| matches!(c.kind, CallKind::Track { .. }));
            let mut line = String::new();
            match last_track {
                Some(call) => encode_call(&mut line, world, day, date, call),
                None => line = healthy.encode(),
            }
            truncate_mid_line(line).into_bytes()
        }
    }
}

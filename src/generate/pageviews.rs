//! Writes the help-site page views (contract §1 source `pageviews`): Segment `page` calls in
//! `helpsite/pages-YYYY-MM.ndjson`, one plain file per month. Users read more when their
//! account struggles (a churner's last months, a slow adopter) or is onboarding, and what they
//! read shifts with it (cancellation and export pages before a churn); anonymous visitors read
//! too, with no account. Holds one day of views in memory.

use std::path::Path;

use chrono::NaiveDate;
use rand::Rng;

use super::calendar::{DAY_MS, Month};
use super::encode::{JsonObject, Timestamp};
use super::sample::{pick, pick_weighted, poisson};
use super::sink::{Compression, LineFile};
use super::vocab::{HELP_PAGES, HELP_SITE, HelpPage, HelpTopic, REFERRERS};
use super::world::{Account, World};
use super::{Result, SourceOutput};

const DIRECTORY: &str = "helpsite";
/// Anonymous visitors (prospects, people not logged in) per account per day.
const ANONYMOUS_READS_PER_ACCOUNT_DAY: f64 = 0.03;
/// Views by a known user sent without `context.groupId`.
const UNGROUPED_SHARE: f64 = 0.25;

pub(super) fn month_file(month: &Month) -> String {
    format!("{DIRECTORY}/pages-{}.ndjson", month.label())
}

struct View {
    at_ms: u32,
    reader: Reader,
    page: &'static HelpPage,
    referrer: &'static str,
    message_id: u128,
}

enum Reader {
    User {
        account: u32,
        user: u32,
        grouped: bool,
    },
    Anonymous {
        visitor: u64,
    },
}

/// `reads_per_user_day`: help pages a user of a healthy account reads per day.
pub(super) fn write(
    world: &World,
    reads_per_user_day: f64,
    root: &Path,
    rng: &mut impl Rng,
) -> Result<SourceOutput> {
    let mut output = SourceOutput::default();
    let mut views = Vec::new();
    let mut line = String::new();
    for month in &world.history.months() {
        let mut file = LineFile::create(root, &month_file(month), Compression::Plain)?;
        for day in month.days() {
            let date = day.to_string();
            simulate_day(world, reads_per_user_day, day, rng, &mut views);
            for view in &views {
                line.clear();
                encode_view(&mut line, world, &date, view);
                file.write_line(line.as_bytes())?;
                output.records += 1;
            }
        }
        output.files.push(file.finish()?);
    }
    Ok(output)
}

/// Samples the day's page views into `views`, in timestamp order.
fn simulate_day(
    world: &World,
    reads_per_user_day: f64,
    day: NaiveDate,
    rng: &mut impl Rng,
    views: &mut Vec<View>,
) {
    views.clear();
    for (account_index, account) in world.accounts.iter().enumerate() {
        if !account.in_force(day) {
            continue;
        }
        let mean = reads_per_user_day * account.users.len() as f64 * account.help_need(day);
        for _ in 0..poisson(rng, mean) {
            let user_index = rng.random_range(0..account.users.len());
            // Only users the identity map already knows, so an ungrouped view still resolves.
            if !account.users[user_index].seen_before(day) {
                continue;
            }
            let grouped = !rng.random_bool(UNGROUPED_SHARE);
            views.push(View {
                at_ms: account.region.working_moment(rng),
                reader: Reader::User {
                    account: account_index as u32,
                    user: user_index as u32,
                    grouped,
                },
                page: pick_page(rng, reading_interest(account, day)),
                referrer: referrer(rng),
                message_id: rng.random(),
            });
        }
    }
    let anonymous_mean = ANONYMOUS_READS_PER_ACCOUNT_DAY * world.accounts.len() as f64;
    for _ in 0..poisson(rng, anonymous_mean) {
        views.push(View {
            at_ms: rng.random_range(0..DAY_MS),
            reader: Reader::Anonymous {
                visitor: rng.random(),
            },
            page: pick(rng, HELP_PAGES),
            referrer: referrer(rng),
            message_id: rng.random(),
        });
    }
    views.sort_by_key(|view| view.at_ms);
}

/// What an account's users look for: how to leave while failing, how to start while onboarding.
fn reading_interest(account: &Account, day: NaiveDate) -> &'static [(HelpTopic, f64)] {
    if account.decline(day).is_some() {
        &[
            (HelpTopic::Leaving, 0.45),
            (HelpTopic::Troubleshooting, 0.35),
            (HelpTopic::Reference, 0.2),
        ]
    } else if account.onboarding(day) {
        &[
            (HelpTopic::GettingStarted, 0.6),
            (HelpTopic::Reference, 0.25),
            (HelpTopic::Troubleshooting, 0.15),
        ]
    } else {
        &[
            (HelpTopic::Reference, 0.5),
            (HelpTopic::Troubleshooting, 0.25),
            (HelpTopic::GettingStarted, 0.2),
            (HelpTopic::Leaving, 0.05),
        ]
    }
}

fn pick_page(rng: &mut impl Rng, interest: &[(HelpTopic, f64)]) -> &'static HelpPage {
    let topic = pick_weighted(rng, interest);
    let pages: Vec<&'static HelpPage> = HELP_PAGES
        .iter()
        .filter(|page| page.topic == topic)
        .collect();
    pages[rng.random_range(0..pages.len())]
}

fn referrer(rng: &mut impl Rng) -> &'static str {
    REFERRERS[rng.random_range(0..REFERRERS.len())]
}

fn encode_view(out: &mut String, world: &World, date: &str, view: &View) {
    let mut object = JsonObject::begin(out);
    object
        .string("type", "page")
        .uuid("messageId", view.message_id);
    object.timestamp(
        "timestamp",
        Timestamp::Millis {
            date,
            ms: view.at_ms,
        },
    );
    match view.reader {
        Reader::User {
            account,
            user,
            grouped,
        } => {
            let account = &world.accounts[account as usize];
            object.string("userId", &account.users[user as usize].id);
            object.object("context", |context| {
                if grouped {
                    context.string("groupId", &account.id);
                }
            });
        }
        Reader::Anonymous { visitor } => {
            object.string("anonymousId", &format!("anon_{visitor:016x}"));
            object.object("context", |_| {});
        }
    }
    object.object("properties", |properties| {
        properties.string("path", view.page.path);
        properties.string("url", &format!("{HELP_SITE}{}", view.page.path));
        properties
            .string("title", view.page.title)
            .string("referrer", view.referrer);
    });
    object.end();
}

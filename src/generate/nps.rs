//! Writes `nps/nps.csv` (contract §1 source `nps`): a survey wave about every quarter, answered by about
//! a fifth of the users who already use the product. Scores follow the persona — churners 0–6,
//! expanders 9–10 — and some rows name only the user (the ingest resolves the account through
//! the identity map). One wave's responses are held to sort them by `responded_at`.

use std::path::Path;

use chrono::{Days, NaiveDate, NaiveDateTime};
use rand::Rng;

use super::calendar::{DAY_MS, moment};
use super::defects::{Defect, DefectLog, PlantSchedule};
use super::encode::rfc3339_seconds;
use super::sample::{early_days, pick, pick_weighted};
use super::sink::CsvFile;
use super::vocab::{DETRACTOR_COMMENTS, PASSIVE_COMMENTS, PROMOTER_COMMENTS};
use super::world::{Account, Lifecycle, World};
use super::{Result, SourceOutput};

pub(super) const PATH: &str = "nps/nps.csv";
const HEADER: [&str; 6] = [
    "response_id",
    "account_id",
    "user_id",
    "responded_at",
    "score",
    "comment",
];

const FIRST_WAVE_AFTER_DAYS: u64 = 20;
const DAYS_BETWEEN_WAVES: u64 = 91;
/// How long a wave stays open.
const ANSWER_WITHIN_DAYS: u32 = 14;
const RESPONSE_RATE: f64 = 0.2;
/// Responses the survey tool could not tie to an account (only the user is known).
const WITHOUT_ACCOUNT_SHARE: f64 = 0.15;
const WITH_COMMENT_SHARE: f64 = 0.55;
/// Response numbers of planted rows, far above the generated ones.
const PLANTED_RESPONSE_NUMBER: usize = 9_000_001;

struct Response {
    responded_at: NaiveDateTime,
    account: usize,
    user: usize,
    names_account: bool,
    score: u8,
    comment: &'static str,
}

pub(super) fn write(
    world: &World,
    root: &Path,
    rng: &mut impl Rng,
    defects: &mut DefectLog,
) -> Result<SourceOutput> {
    let mut file = CsvFile::create(root, PATH, &HEADER)?;
    let mut output = SourceOutput::default();
    let mut wave_day = world.history.first_day + Days::new(FIRST_WAVE_AFTER_DAYS);
    // Every plant goes into the first wave, spread among its responses.
    let mut plants: &[Plant] = &Plant::ALL;
    while wave_day <= world.history.last_day {
        let responses = survey(world, wave_day, rng);
        let mut schedule = PlantSchedule::spread(responses.len(), plants);
        for (index, response) in responses.iter().enumerate() {
            for plant in schedule.due_before(index) {
                defects.plant_record(&mut file, &plant.row(world, wave_day), plant.defect())?;
            }
            output.records += 1;
            let response_id = format!("r_{:06}", output.records);
            file.write_record(&response_row(world, response, &response_id))?;
        }
        for plant in schedule.rest() {
            defects.plant_record(&mut file, &plant.row(world, wave_day), plant.defect())?;
        }
        plants = &[];
        wave_day = wave_day + Days::new(DAYS_BETWEEN_WAVES);
    }
    output.files.push(file.finish()?);
    Ok(output)
}

/// One wave's responses, in `responded_at` order.
fn survey(world: &World, wave_day: NaiveDate, rng: &mut impl Rng) -> Vec<Response> {
    let mut responses = Vec::new();
    for (account_index, account) in world.accounts.iter().enumerate() {
        if !account.in_force(wave_day) {
            continue;
        }
        for (user_index, user) in account.users.iter().enumerate() {
            // Only users the identity map already knows, so a row without account resolves.
            if !user.seen_before(wave_day) || !rng.random_bool(RESPONSE_RATE) {
                continue;
            }
            let day = (wave_day + Days::new(early_days(rng, ANSWER_WITHIN_DAYS)))
                .min(world.history.last_day);
            let score = score(rng, account, day);
            let comment = if rng.random_bool(WITH_COMMENT_SHARE) {
                comment(rng, account, score)
            } else {
                ""
            };
            responses.push(Response {
                responded_at: moment(day, account.region.working_moment(rng)),
                account: account_index,
                user: user_index,
                names_account: !rng.random_bool(WITHOUT_ACCOUNT_SHARE),
                score,
                comment,
            });
        }
    }
    responses.sort_by_key(|response| response.responded_at);
    responses
}

/// Churners are detractors (lowest while failing), expanders promoters.
fn score(rng: &mut impl Rng, account: &Account, day: NaiveDate) -> u8 {
    match account.lifecycle {
        Lifecycle::Churner { .. } if account.decline(day).is_some() => rng.random_range(0..=4),
        Lifecycle::Churner { .. } => rng.random_range(2..=6),
        Lifecycle::Expander { .. } => rng.random_range(9..=10),
        Lifecycle::New { .. } => rng.random_range(7..=10),
        Lifecycle::Reactivator { .. } => rng.random_range(4..=8),
        Lifecycle::Steady => {
            pick_weighted(rng, &[(6, 0.1), (7, 0.25), (8, 0.35), (9, 0.2), (10, 0.1)])
        }
    }
}

fn comment(rng: &mut impl Rng, account: &Account, score: u8) -> &'static str {
    let band = match score {
        0..=6 => DETRACTOR_COMMENTS,
        7..=8 => PASSIVE_COMMENTS,
        _ => PROMOTER_COMMENTS,
    };
    pick(rng, band).text(account.language())
}

fn response_row(world: &World, response: &Response, response_id: &str) -> [String; 6] {
    let account = &world.accounts[response.account];
    let account_id = if response.names_account {
        account.id.clone()
    } else {
        String::new()
    };
    [
        response_id.to_owned(),
        account_id,
        account.users[response.user].id.clone(),
        rfc3339_seconds(response.responded_at),
        response.score.to_string(),
        response.comment.to_owned(),
    ]
}

/// The malformed rows planted in the survey export, each under a response id of its own.
#[derive(Clone, Copy)]
enum Plant {
    ScoreEleven,
    InvalidUtf8Comment,
    ScoreInWords,
}

impl Plant {
    const ALL: [Plant; 3] = [
        Plant::ScoreEleven,
        Plant::InvalidUtf8Comment,
        Plant::ScoreInWords,
    ];

    fn defect(self) -> Defect {
        match self {
            Plant::ScoreEleven => Defect::OutOfRange,
            Plant::InvalidUtf8Comment => Defect::InvalidUtf8,
            Plant::ScoreInWords => Defect::BadNumber,
        }
    }

    /// A response from the first account's first user, with one defect, as raw CSV fields.
    fn row(self, world: &World, wave_day: NaiveDate) -> Vec<Vec<u8>> {
        let account = &world.accounts[0];
        let response_id = format!("r_{}", PLANTED_RESPONSE_NUMBER + self as usize);
        let responded_at = rfc3339_seconds(moment(wave_day, DAY_MS / 2));
        let (score, comment): (&str, &[u8]) = match self {
            Plant::ScoreEleven => ("11", b"Best tool ever"),
            Plant::InvalidUtf8Comment => ("9", b"Great \xFF\xFE product"),
            Plant::ScoreInWords => ("ten", b""),
        };
        [
            response_id.as_bytes(),
            account.id.as_bytes(),
            account.users[0].id.as_bytes(),
            responded_at.as_bytes(),
            score.as_bytes(),
            comment,
        ]
        .map(<[u8]>::to_vec)
        .to_vec()
    }
}

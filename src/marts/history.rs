//! Health scores kept as history, so that a daily build need not recompute the past.
//!
//! A date's health score depends only on the inputs visible at the end of that date (contract §3)
//! and on the model. Once computed it stands until an ingest changes what a date up to it
//! sees, or the model changes. Every build keeps the scores of every date it computed
//! (account, date, score, band) under `_state/health_history/as_of_date=…/`, and
//! `_state/health_history.json` lists the dates still valid. A build then reads the scores
//! 7 and 30 days back, and those of the health cohorts' month boundaries, from there instead
//! of recomputing them from the whole history; an ingest drops the dates its new rows reach.

use crate::base::Written;
use crate::base::days::date_to_days;
use crate::base::error::FromFile;
use crate::engine::warehouse::Warehouse;
use crate::marts::{Error, Result};
use crate::staging::Reach;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

pub const HEALTH_HISTORY: &str = "_state/health_history.json";
pub const HEALTH_HISTORY_DIR: &str = "_state/health_history";

/// The directory of one date's kept scores.
pub fn partition_of(date: NaiveDate) -> String {
    format!("{HEALTH_HISTORY_DIR}/{}", partition_name(date))
}

/// `as_of_date=YYYY-MM-DD`.
pub fn partition_name(date: NaiveDate) -> String {
    format!("as_of_date={date}")
}

/// The kept dates a build may reuse, and the model they were computed with.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthHistory {
    /// Hash of everything that decides a date's score (see `marts::model_fingerprint`).
    pub fingerprint: String,
    pub dates: BTreeSet<NaiveDate>,
}

/// Health scores a build reads instead of computing them: the dates kept in the warehouse's
/// history, and the dates earlier passes of the same run computed, in their work directories.
#[derive(Debug, Default, Clone)]
pub struct KnownScores {
    pub kept: BTreeSet<i32>,
    /// (a pass's `health_history` directory, the dates it holds).
    pub passes: Vec<(std::path::PathBuf, BTreeSet<i32>)>,
}

impl KnownScores {
    /// Every date known, kept or computed by this run.
    pub fn dates(&self) -> BTreeSet<i32> {
        let mut dates = self.kept.clone();
        for (_, computed) in &self.passes {
            dates.extend(computed);
        }
        dates
    }
}

impl HealthHistory {
    /// The warehouse's list; empty when there is none. An unreadable list is empty too: it
    /// is a cache, and without it a build computes every date.
    pub async fn load(warehouse: &Warehouse) -> Result<HealthHistory> {
        Ok(warehouse
            .get(HEALTH_HISTORY)
            .await?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default())
    }

    /// The dates (days since the epoch) a model with `fingerprint` may reuse.
    pub fn reusable(&self, fingerprint: &str) -> BTreeSet<i32> {
        if self.fingerprint != fingerprint {
            return BTreeSet::new();
        }
        self.dates.iter().map(|d| date_to_days(*d)).collect()
    }

    /// The list after an ingest that reached `reach`, and the dates it drops.
    pub fn after_ingest(mut self, reach: Reach) -> (HealthHistory, Vec<NaiveDate>) {
        let keep = |d: &NaiveDate| match reach {
            Reach::Nothing => true,
            Reach::From(day) => date_to_days(*d) < day,
            Reach::Everything => false,
        };
        let dropped = self.dates.iter().filter(|d| !keep(d)).copied().collect();
        self.dates.retain(keep);
        (self, dropped)
    }

    /// The list after a build with `fingerprint` published `dates`.
    pub fn after_build(mut self, fingerprint: &str, dates: &[NaiveDate]) -> HealthHistory {
        if self.fingerprint != fingerprint {
            self.fingerprint = fingerprint.to_string();
            self.dates.clear();
        }
        self.dates.extend(dates.iter().copied());
        self
    }

    /// Writes the list into `scratch`, to be published with the tables it describes.
    pub fn write(&self, scratch: &Path) -> Result<Written> {
        let staged = "state/health_history.json";
        let file = scratch.join(staged);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let bytes = serde_json::to_vec_pretty(self).expect("a date list serializes");
        std::fs::write(&file, bytes).map_err(|e| Error::io(&file, e))?;
        Ok(Written {
            files: vec![(staged.to_string(), HEALTH_HISTORY.to_string())],
            superseded: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn history(dates: &[&str]) -> HealthHistory {
        HealthHistory {
            fingerprint: "m1".into(),
            dates: dates.iter().map(|d| day(d)).collect(),
        }
    }

    #[test]
    fn an_ingest_drops_the_dates_its_rows_reach() {
        let before = history(&["2026-01-01", "2026-01-02", "2026-01-03"]);
        let reach = Reach::From(date_to_days(day("2026-01-02")));
        let (after, dropped) = before.clone().after_ingest(reach);
        assert_eq!(after, history(&["2026-01-01"]));
        assert_eq!(dropped, vec![day("2026-01-02"), day("2026-01-03")]);
        assert_eq!(before.clone().after_ingest(Reach::Nothing).0, before);
        assert!(before.after_ingest(Reach::Everything).0.dates.is_empty());
    }

    #[test]
    fn another_model_reuses_nothing_and_starts_a_new_list() {
        let before = history(&["2026-01-01"]);
        assert_eq!(before.reusable("m1").len(), 1);
        assert!(before.reusable("m2").is_empty());
        let after = before.after_build("m2", &[day("2026-02-01")]);
        assert_eq!(after.fingerprint, "m2");
        assert_eq!(after.dates, [day("2026-02-01")].into_iter().collect());
    }
}

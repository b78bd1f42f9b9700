//! How far back an ingest changed the staged tables: the earliest day whose inputs the rows
//! of the files read this run reach, when every earlier file stands. The health history
//! forgets the scores of the dates from there on.

use crate::engine::{self, warehouse::Warehouse};
use crate::staging::Result;
use datafusion::prelude::SessionContext;

/// How far back an ingest changed the staged tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// No staged row changed.
    Nothing,
    /// Only what dates on or after this day (days since the epoch) see.
    From(i32),
    /// Anything: a file changed or went, a source's definition changed, a full refresh.
    Everything,
}

impl Reach {
    /// This reach widened to take in `day`.
    pub fn earliest(self, day: i32) -> Reach {
        match self {
            Reach::Nothing => Reach::From(day),
            Reach::From(from) => Reach::From(from.min(day)),
            Reach::Everything => Reach::Everything,
        }
    }
}

/// For each raw table, the day from which one of its rows can change what a date sees
/// (SQL over its columns, days since the epoch), and for keyed sources the key and the
/// staged table whose earlier version of the row it may replace (that version's day counts
/// too). Group and identify calls carry UTC timestamps; their local date is at most a day
/// earlier.
const CHANGE_DAYS: &[(&str, &str, Option<KeyedBy>)] = &[
    (
        "handoffs",
        "cast(start_date as int)",
        Some(("deal_id", "stg_handoffs")),
    ),
    (
        "tickets",
        "cast(created_date as int)",
        Some(("id", "stg_tickets")),
    ),
    (
        "nps",
        "cast(responded_date as int)",
        Some(("response_id", "stg_nps")),
    ),
    ("fx_rates", "cast(date as int)", None),
    ("events", "cast(event_date as int)", None),
    ("pageviews", "cast(event_date as int)", None),
    (
        "identities",
        "cast(cast(timestamp as date) as int) - 1",
        None,
    ),
    ("users", "cast(cast(timestamp as date) as int) - 1", None),
];

/// A keyed source's key and staged table.
type KeyedBy = (&'static str, &'static str);

/// How far back the rows of the files read this run (`new_raw_<table>`) change the staged
/// tables, when every earlier file stands: from the earliest day of any of them.
pub(super) async fn earliest_change(ctx: &SessionContext, warehouse: &Warehouse) -> Result<Reach> {
    let mut reach = Reach::Nothing;
    for (table, day, keyed) in CHANGE_DAYS {
        let replaced = match keyed {
            None => String::new(),
            Some((key, staged)) => {
                if !warehouse.exists(staged).await? {
                    return Ok(Reach::Everything);
                }
                let previous = format!("previous_{staged}");
                engine::register_location(ctx, &previous, &warehouse.url_of(staged), None).await?;
                format!(
                    " union all select {day} as day \
                     from (select distinct {key} from new_raw_{table}) as k \
                     join {previous} on {previous}.{key} = k.{key}"
                )
            }
        };
        // Day 0 (1970-01-01) stands for "no row": no real input is dated then.
        let sql = format!(
            "select coalesce(min(day), 0) from \
             (select {day} as day from new_raw_{table}{replaced})"
        );
        let first = engine::query_count(ctx, &sql).await?;
        if first > 0 {
            reach = reach.earliest(first as i32);
        }
    }
    Ok(reach)
}

//! Data quality: the last ingest's rows per source (`data_quality`), with a warning for a
//! source whose latest event is older than two days before D.

use super::page::{escape, table};
use super::{Built, Tables};
use crate::pipeline::Result;

/// A source is stale when its latest event is this many days before D or more.
const STALE_DAYS: i64 = 2;

pub(super) async fn data_quality(tables: &Tables) -> Result<Built> {
    const ID: &str = "quality";
    const HEADING: &str = "Data quality";
    if let Some(built) = tables.require(ID, HEADING, &["data_quality"]) {
        return Ok(built);
    }
    let rows = tables
        .rows(&format!(
            "select run_id, source, rows_read, rows_loaded, rows_quarantined, duplicates, orphans, \
             cast(max_event_time as varchar) as latest, status, \
             max_event_time is not null and cast(max_event_time as date) <= {} - interval '{STALE_DAYS} days' \
             from data_quality where run_id = (select max(run_id) from data_quality) \
             order by source",
            tables.day()
        ))
        .await?;
    let Some(run) = rows.first().map(|r| r[0].clone()) else {
        return Ok(Built::missing(ID, HEADING, "the last ingest read nothing"));
    };
    let list: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let latest = if r[9] == "true" {
                format!("<span class=\"warn\">{} — stale</span>", escape(&r[7]))
            } else {
                escape(&r[7])
            };
            vec![
                escape(&r[1]),
                escape(&r[2]),
                escape(&r[3]),
                escape(&r[4]),
                escape(&r[5]),
                escape(&r[6]),
                latest,
                escape(&r[8]),
            ]
        })
        .collect();
    let stale = rows.iter().filter(|r| r[9] == "true").count();
    let warning = if stale > 0 {
        format!(
            "<p class=\"warn\">{stale} source(s) have no event in the {STALE_DAYS} days before {}: \
             their exports may have stopped.</p>",
            tables.as_of
        )
    } else {
        String::new()
    };
    Ok(Built::new(
        ID,
        HEADING,
        format!(
            "<p>The last ingest, run {}.</p>{warning}{}",
            escape(&run),
            table(
                &[
                    "source",
                    "#read",
                    "#loaded",
                    "#quarantined",
                    "#duplicates",
                    "#orphans",
                    "latest event",
                    "status"
                ],
                &list
            )
        ),
    ))
}

//! Accounting for every row: per source, rows read = loaded + quarantined + duplicates, each
//! staged table unique on its grain, orphans and the latest event time counted, and every
//! line in another currency converted. The figures go to `data_quality` and the manifest.

use super::append;
use super::keyed;
use super::manifest::StagedFigures;
use super::models::STAGING_MODELS;
use crate::config::Pipeline;
use crate::engine;
use crate::ingest::SourceReport;
use crate::staging::{Error, Result};
use datafusion::prelude::SessionContext;
use std::collections::BTreeMap;

/// SQL counting the keys `table` holds more than once. Message ids are grouped by their
/// hash first (see `shape::ID_HASH`): the few hashes seen twice are the hash join's build
/// side, and their ids decide.
pub(super) fn repeated_keys_sql(table: &str, grain: &[&str]) -> String {
    if grain == ["message_id"] {
        return format!(
            "select count(*) from (select t.message_id from \
             (select h from (select id_hash(message_id) as h from {table}) \
              group by h having count(*) > 1) as c \
             join {table} as t on id_hash(t.message_id) = c.h \
             group by t.message_id having count(*) > 1)"
        );
    }
    let key = grain.join(", ");
    format!("select count(*) from (select {key} from {table} group by {key} having count(*) > 1)")
}

/// Rows of `table` (a name or a parenthesized query) whose `account` no handoff names.
async fn count_orphans(ctx: &SessionContext, table: &str, account: &str) -> Result<u64> {
    // Not `not in`: that anti join holds the staged rows, the handoffs stream.
    let sql = format!(
        "select count(*) from (select distinct account_id from stg_handoffs) as h \
         right join {table} as t on t.{account} = h.account_id \
         where h.account_id is null"
    );
    Ok(engine::query_count(ctx, &sql).await?)
}

/// Fills loaded, duplicate, orphan and event-time figures of a source, and checks grain and
/// that rows read = loaded + quarantined + duplicates. Returns each staged table's figures,
/// for the manifest. A table this run appended to is checked in the partitions it rewrote
/// and counts on from its figures after the last run; a table it kept (`kept`, with those
/// figures) has them, and only its orphans are counted again (the handoffs may have changed).
pub(super) async fn account_for(
    ctx: &SessionContext,
    report: &mut SourceReport,
    tables: &[(String, u64)],
    (appends, updates): (&[append::Append], &[keyed::KeyedUpdate]),
    kept_tables: &BTreeMap<&str, StagedFigures>,
) -> Result<Vec<(String, StagedFigures)>> {
    let kind = report.kind.clone();
    let models = STAGING_MODELS
        .iter()
        .filter(|m| m.kind.map(|k| k.name()) == Some(kind.as_str()) && m.published);
    let mut staged = Vec::new();
    for model in models {
        let loaded = tables
            .iter()
            .find(|(name, _)| name == model.name)
            .map(|(_, rows)| *rows)
            .unwrap_or(0);
        report.rows_loaded += loaded;
        let appended = appends.iter().find(|a| a.model == model.name);
        let updated = updates.iter().find(|u| u.model == model.name);
        let kept = kept_tables.get(model.name);
        let key = model.grain.join(", ");
        let duplicates = match (appended, model.repeats, model.raw) {
            _ if let Some(figures) = kept => figures.duplicates,
            // Every valid row is loaded or a duplicate, the last run's and this run's alike.
            _ if let Some(u) = updated => {
                (u.previous.rows + u.previous.duplicates + u.new_rows).saturating_sub(loaded)
            }
            (Some(a), _, _) => {
                (a.previous.rows + a.previous.duplicates + a.new_rows).saturating_sub(loaded)
            }
            (None, Some(repeats), _) => {
                let sql = format!("select coalesce(sum(later_reads), 0) from {repeats}");
                engine::query_count(ctx, &sql).await?
            }
            (None, None, Some(raw)) => {
                let sql = format!(
                    "select count(*) - (select count(*) from (select distinct {key} from {raw})) from {raw}"
                );
                engine::query_count(ctx, &sql).await?
            }
            (None, None, None) => 0,
        };
        report.duplicates += duplicates;
        // An appended table's other partitions were checked when they were written.
        // An updated table's other keys were checked when they were written.
        let (checked, scope) = match appended {
            _ if kept.is_some() => (None, " as the last run staged it (kept)".to_string()),
            _ if let Some(u) = updated => (
                Some(u.restaged_view()),
                format!(" in the {} keys this run restaged", u.restaged),
            ),
            None => (Some(model.name.to_string()), String::new()),
            Some(a) => (
                a.rewritten_view(),
                format!(" in the {} partitions this run rewrote", a.dates.len()),
            ),
        };
        let repeated = match &checked {
            Some(table) => engine::query_count(ctx, &repeated_keys_sql(table, model.grain)).await?,
            None => 0,
        };
        report.check(
            &format!("grain_{}", model.name),
            repeated == 0,
            format!(
                "{} is unique on ({key}){scope}: {repeated} repeated keys",
                model.name
            ),
        );
        let mut orphans = None;
        if let Some(account) = model.account_column {
            // While the handoffs stand, rows the run kept keep their orphan count.
            let handoffs_kept = kept_tables.contains_key("stg_handoffs");
            let count = match (kept, appended) {
                (Some(figures), _) if handoffs_kept && figures.orphans.is_some() => {
                    figures.orphans.unwrap_or_default()
                }
                (None, Some(a)) if handoffs_kept && a.previous.orphans.is_some() => {
                    let before = a.previous.orphans.unwrap_or_default();
                    let (replaced, restaged) = match a.rewritten_view() {
                        Some(rewritten) => (
                            count_orphans(ctx, &a.replaced_rows(), account).await?,
                            count_orphans(ctx, &rewritten, account).await?,
                        ),
                        None => (0, 0),
                    };
                    (before + restaged).saturating_sub(replaced)
                }
                _ => count_orphans(ctx, model.name, account).await?,
            };
            report.orphans += count;
            orphans = Some(count);
        }
        let mut max_event_time = None;
        if let Some(column) = model.event_time {
            // An append that restaged no kept row only added rows: the latest is the later of
            // the last run's and the rewritten partitions'.
            let (table, before) = match appended {
                _ if let Some(figures) = kept => (None, figures.max_event_time),
                Some(a) if a.kept_reads == 0 => (a.rewritten_view(), a.previous.max_event_time),
                _ => (Some(model.name.to_string()), None),
            };
            let micros = match table {
                Some(table) => {
                    engine::query_count(
                        ctx,
                        &format!(
                            "select coalesce(max(to_unixtime(cast({column} as timestamp)) * 1000000), 0) from {table}"
                        ),
                    )
                    .await?
                }
                None => 0,
            };
            max_event_time = (micros > 0).then_some(micros as i64).max(before);
            if let Some(micros) = max_event_time {
                report.max_event_time =
                    Some(report.max_event_time.map_or(micros, |m| m.max(micros)));
            }
        }
        staged.push((
            model.name.to_string(),
            StagedFigures {
                rows: loaded,
                duplicates,
                max_event_time,
                orphans,
            },
        ));
    }
    let accounted = report.rows_loaded + report.rows_quarantined + report.duplicates;
    report.check(
        "reconcile",
        accounted == report.rows_read,
        format!(
            "read {} = loaded {} + quarantined {} + duplicates {}{}",
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined,
            report.duplicates,
            if accounted == report.rows_read {
                ""
            } else {
                " does not hold"
            }
        ),
    );
    Ok(staged)
}

/// Every line in another currency needs a rate on or before its start (contract §1).
pub(super) async fn check_fx(ctx: &SessionContext, pipeline: &Pipeline) -> Result<()> {
    let missing = engine::query(
        ctx,
        "select currency, cast(start_date as varchar) as start_date, deal_id \
         from stg_handoffs where mrr_reporting is null order by start_date, deal_id limit 5",
    )
    .await?;
    let rows = engine::string_rows(&missing);
    if let Some(first) = rows.first() {
        let list = rows
            .iter()
            .map(|r| format!("{} on or before {} (deal {})", r[0], r[1], r[2]))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::Check(format!(
            "no exchange rate to {} for {list}; add the rate for {} to the fx_rates source",
            pipeline.reporting_currency, first[0]
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn repeated_keys_are_counted_by_hash_then_by_id_and_by_plain_grouping() {
        let ctx = engine::session();
        crate::staging::register_functions(&ctx);
        let ids = "select * from (values ('a', 1), ('b', 1), ('b', 2), ('c', 1), ('c', 1), \
                   ('c', 1), ('d', 1)) as v(message_id, day)";
        ctx.register_table("ids", ctx.sql(ids).await.unwrap().into_view())
            .unwrap();
        let count = |sql: String| {
            let ctx = ctx.clone();
            async move { engine::query_count(&ctx, &sql).await.unwrap() }
        };
        assert_eq!(count(repeated_keys_sql("ids", &["message_id"])).await, 2);
        assert_eq!(
            count(repeated_keys_sql("ids", &["message_id", "day"])).await,
            1
        );
        let unique = "(select distinct message_id from ids)";
        assert_eq!(count(repeated_keys_sql(unique, &["message_id"])).await, 0);
        // SQL's id_hash is the raw files' _id_hash.
        let hash = engine::string_rows(
            &engine::query(&ctx, "select id_hash('b') as h")
                .await
                .unwrap(),
        );
        assert_eq!(hash[0][0], crate::base::ids::hash_id("b").to_string());
    }
}

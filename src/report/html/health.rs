//! Health movement, the accounts to call today and whether the score works:
//! `health_scores`, `customer_daily`, `playbook_actions`, `mrr_monthly`, `health_cohorts` and
//! the scores kept for month starts (`_state/health_history`) as of D.

use super::page::{band, escape, missing, table};
use super::svg::{self, Chart, Series, Unit};
use super::{Built, Tables, number};
use crate::base::days::{date_to_days, days_to_date, month_starts, sql_date_list};
use crate::pipeline::Result;
use std::collections::BTreeSet;

const BANDS: [(&str, &str); 3] = [
    ("green", "#2e8b57"),
    ("yellow", "#d4a017"),
    ("red", "#c0392b"),
];

/// The distinct dates of rows whose first column is a date, in order.
fn dates_of(rows: &[Vec<String>]) -> Vec<String> {
    rows.iter()
        .map(|r| r[0].clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The number in `column` of the row for `date` (column 0) and `band` (column 1).
fn band_value(rows: &[Vec<String>], date: &str, band: &str, column: usize) -> Option<f64> {
    rows.iter()
        .find(|r| r[0] == date && r[1] == band)
        .and_then(|r| number(&r[column]))
}

pub(super) async fn movement(tables: &Tables) -> Result<Built> {
    const ID: &str = "movement";
    const HEADING: &str = "Health movement";
    if let Some(built) = tables.require(ID, HEADING, &["health_scores"]) {
        return Ok(built);
    }
    let d = date_to_days(tables.as_of);
    let mut body = String::new();
    if tables.has("health_history") {
        let year_ago = tables.as_of - chrono::Months::new(12);
        let mut dates: BTreeSet<i32> = month_starts(year_ago, tables.as_of)
            .into_iter()
            .filter(|day| days_to_date(*day) > year_ago)
            .collect();
        dates.insert(d);
        let rows = tables
            .rows(&format!(
                "select cast(as_of_date as varchar) as day_text, band, count(*) from health_history \
                 where as_of_date in ({}) and band is not null group by 1, 2 order by 1",
                sql_date_list(&dates)
            ))
            .await?;
        let labels = dates_of(&rows);
        let series: Vec<Series> = BANDS
            .iter()
            .map(|(name, color)| Series {
                name: name.to_string(),
                color,
                values: labels
                    .iter()
                    .map(|date| band_value(&rows, date, name, 2).or(Some(0.0)))
                    .collect(),
            })
            .collect();
        body.push_str(&svg::stacked_bars(
            &Chart {
                title: "Accounts per band, month starts of the last 12 months and D",
                caption: "Scored accounts (those churned within 90 days included) on each month \
                          start the builds scored; a growing red layer is trouble building up.",
                x_label: "date",
                y_label: "accounts",
                unit: Unit::Count,
            },
            &labels,
            &series,
        ));
    }
    let deltas = tables
        .rows(&format!(
            "select cast(floor(h.delta_30d / 5) * 5 as bigint) as bin, count(*) \
             from health_scores h join customer_daily c \
             on c.account_id = h.account_id and c.as_of_date = h.as_of_date \
             where h.as_of_date = {} and h.delta_30d is not null and {} \
             group by 1 order by 1",
            tables.day(),
            tables.account_filter()
        ))
        .await?;
    if deltas.is_empty() {
        body.push_str(&missing(
            "no delta_30d on this date (no score 30 days before)",
        ));
    } else {
        let labels: Vec<String> = deltas
            .iter()
            .map(|r| format!("{}…{}", r[0], r[0].parse::<i64>().unwrap_or(0) + 5))
            .collect();
        let values: Vec<f64> = deltas
            .iter()
            .map(|r| number(&r[1]).unwrap_or(0.0))
            .collect();
        body.push_str(&svg::bars(
            &Chart {
                title: "Change of the score in 30 days (delta_30d)",
                caption: "Accounts by 5-point bins of delta_30d; the left tail is the falling \
                          accounts to look at first.",
                x_label: "delta_30d (points)",
                y_label: "accounts",
                unit: Unit::Count,
            },
            &labels,
            &values,
            "#4a6fa5",
        ));
    }
    let mut html = format!("<div class=\"grid2\">{body}</div>");
    if tables.has("health_history") {
        let moves = tables
            .rows(&format!(
                "select coalesce(before.band, 'not scored'), h.band, count(*) \
                 from health_scores h join customer_daily c \
                 on c.account_id = h.account_id and c.as_of_date = h.as_of_date \
                 left join health_history before on before.account_id = h.account_id \
                 and before.as_of_date = date '{}' \
                 where h.as_of_date = {} and h.band is not null and {} \
                 group by 1, 2 order by 3 desc",
                days_to_date(d - 30),
                tables.day(),
                tables.account_filter()
            ))
            .await?;
        let rows: Vec<Vec<String>> = moves
            .iter()
            .map(|r| vec![band(&r[0]), band(&r[1]), escape(&r[2])])
            .collect();
        html.push_str(&format!(
            "<h3>Band transitions of the last 30 days ({} → {})</h3>{}",
            days_to_date(d - 30),
            tables.as_of,
            table(&["band 30 days before", "band now", "#accounts"], &rows)
        ));
    }
    Ok(Built::new(ID, HEADING, html))
}

pub(super) async fn calls(tables: &Tables) -> Result<Built> {
    const ID: &str = "calls";
    const HEADING: &str = "Who needs a call today";
    if let Some(built) = tables.require(ID, HEADING, &["health_scores", "customer_daily"]) {
        return Ok(built);
    }
    let actions = if tables.has("playbook_actions") {
        format!(
            "left join (select account_id, string_agg(rule_id, ', ' order by rule_id) as rules \
             from playbook_actions where as_of_date = {} group by account_id) a \
             on a.account_id = h.account_id",
            tables.day()
        )
    } else {
        "left join (select cast(null as varchar) as account_id, cast(null as varchar) as rules) a \
         on a.account_id = h.account_id"
            .to_string()
    };
    let rows = tables
        .rows(&format!(
            "select h.account_id, c.account_name, h.score, h.band, h.delta_30d, c.lifecycle_stage, \
             c.days_to_renewal, c.mrr, c.csm_owner, h.reasons, a.rules \
             from health_scores h join customer_daily c \
             on c.account_id = h.account_id and c.as_of_date = h.as_of_date \
             {actions} \
             where h.as_of_date = {} and c.lifecycle_stage <> 'churned' \
             and (h.band = 'red' or h.trend = 'down') and {} \
             order by c.mrr desc, h.score, h.account_id limit 50",
            tables.day(),
            tables.account_filter()
        ))
        .await?;
    let list: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                format!(
                    "<span data-account=\"{id}\">{}</span><br><small>{id}</small>",
                    escape(&r[1]),
                    id = escape(&r[0])
                ),
                escape(&r[2]),
                band(&r[3]),
                escape(&r[4]),
                escape(&r[5]),
                escape(&r[6]),
                number(&r[7]).map_or(String::new(), svg::thousands),
                escape(&r[8]),
                escape(&r[9]),
                escape(&r[10]),
            ]
        })
        .collect();
    let mut html = format!(
        "<p>Red or falling (trend down) active accounts on {}, the largest MRR at risk first \
         ({} shown, at most 50).</p>{}",
        tables.as_of,
        list.len(),
        table(
            &[
                "account",
                "#score",
                "band",
                "#Δ30d",
                "stage",
                "#renewal in (days)",
                "#MRR (USD)",
                "owner",
                "reasons",
                "playbook actions",
            ],
            &list
        )
    );
    html.push_str(&surprises(tables).await?);
    Ok(Built::new(ID, HEADING, html))
}

/// The churns of the last three months with the band `lead_days` before each.
async fn surprises(tables: &Tables) -> Result<String> {
    if !tables.has("mrr_monthly") || !tables.has("health_history") {
        return Ok(String::new());
    }
    let since = tables.as_of - chrono::Months::new(3);
    let rows = tables
        .rows(&format!(
            "select m.account_id, cast(m.month_end as varchar) as churned_on, m.churn, before.band, before.score \
             from (select account_id, churn, cast(month + interval '1 month' as date) as month_end \
                   from mrr_monthly where movement = 'churn') m \
             left join health_history before on before.account_id = m.account_id \
             and cast(before.as_of_date as int) = cast(m.month_end as int) - {lead} \
             where m.month_end > date '{since}' and m.month_end <= {} \
             order by m.month_end desc, m.churn desc",
            tables.day(),
            lead = tables.lead_days,
        ))
        .await?;
    let surprising = rows.iter().filter(|r| r[3] == "green").count();
    let list: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                escape(&r[0]),
                escape(&r[1]),
                number(&r[2]).map_or(String::new(), svg::thousands),
                band(if r[3].is_empty() { "not scored" } else { &r[3] }),
                escape(&r[4]),
            ]
        })
        .collect();
    Ok(format!(
        "<h3>Churns of the last three months ({} of {} green {} days before: surprises)</h3>{}",
        surprising,
        rows.len(),
        tables.lead_days,
        table(
            &[
                "account",
                "churned on",
                "#MRR lost (USD)",
                &format!("band {} days before", tables.lead_days),
                "#score then"
            ],
            &list
        )
    ))
}

pub(super) async fn score_works(tables: &Tables) -> Result<Built> {
    const ID: &str = "score";
    const HEADING: &str = "Does the score work?";
    if let Some(built) = tables.require(ID, HEADING, &["health_cohorts"]) {
        return Ok(built);
    }
    let rows = tables
        .rows(&format!(
            "select cast(observation_date as varchar) as observed, band, churn_rate, auc from health_cohorts \
             where observation_date <= {} order by observation_date",
            tables.day()
        ))
        .await?;
    if rows.is_empty() {
        return Ok(Built::missing(
            ID,
            HEADING,
            "no observation date has its 90-day outcome yet",
        ));
    }
    let labels = dates_of(&rows);
    let of = |band: &str, column: usize| -> Vec<Option<f64>> {
        labels
            .iter()
            .map(|date| band_value(&rows, date, band, column))
            .collect()
    };
    let by_band = svg::lines(
        &Chart {
            title: "Churn within the horizon by band, per observation date",
            caption: "A score that works keeps red's line far above green's on every date.",
            x_label: "observation date",
            y_label: "churn rate (%)",
            unit: Unit::Percent,
        },
        &labels,
        &BANDS
            .iter()
            .map(|(name, color)| Series {
                name: name.to_string(),
                color,
                values: of(name, 2),
            })
            .collect::<Vec<_>>(),
    );
    let auc = svg::lines(
        &Chart {
            title: "AUC of the score, per observation date",
            caption: "The chance a churner scored below a retained account: 0.5 is a coin toss; \
                      a falling line means the model no longer fits the customers.",
            x_label: "observation date",
            y_label: "AUC",
            unit: Unit::Plain,
        },
        &labels,
        &[Series {
            name: "AUC".into(),
            color: "#4a6fa5",
            values: of("all", 3),
        }],
    );
    let contributions = contributions(tables, &labels).await?;
    Ok(Built::new(
        ID,
        HEADING,
        format!("<div class=\"grid2\">{by_band}{auc}</div>{contributions}"),
    ))
}

/// Each component's mean contribution on the latest observation date with published
/// scores, for the accounts that churned within the horizon and those retained.
async fn contributions(tables: &Tables, observations: &[String]) -> Result<String> {
    let columns = tables.columns("health_scores").await?;
    let components: Vec<&str> = columns
        .iter()
        .filter_map(|c| c.strip_suffix("_contribution"))
        .collect();
    // The latest observation date with published scores, in one query.
    let dates: BTreeSet<i32> = observations
        .iter()
        .filter_map(|d| d.parse::<chrono::NaiveDate>().ok())
        .map(date_to_days)
        .collect();
    let latest = tables
        .rows(&format!(
            "select cast(max(as_of_date) as varchar) as latest from health_scores \
             where as_of_date in ({})",
            sql_date_list(&dates)
        ))
        .await?;
    let date = latest
        .first()
        .map(|r| r[0].clone())
        .filter(|d| !d.is_empty());
    let Some(date) = date else {
        return Ok(missing(&format!(
            "The components of churned against retained accounts need health_scores on an \
             observation date (a month start): e.g. `churnlake backfill --from {} --to {} \
             --every month`.",
            observations.first().map_or("", String::as_str),
            tables.as_of
        )));
    };
    let means: String = components
        .iter()
        .map(|c| format!(", avg(h.{c}_contribution)"))
        .collect();
    let rows = tables
        .rows(&format!(
            "select churned.account_id is not null as churned, count(*){means} \
             from health_scores h \
             left join (select distinct account_id from mrr_monthly where movement = 'churn' \
                 and cast(month + interval '1 month' as date) > date '{date}' \
                 and cast(month + interval '1 month' as date) <= date '{date}' + interval '{h} days') \
                 churned on churned.account_id = h.account_id \
             where h.as_of_date = date '{date}' and h.score is not null \
             group by 1 order by 1",
            h = tables.horizon_days
        ))
        .await?;
    let find = |churned: &str| rows.iter().find(|r| r[0] == churned);
    let (retained, churned) = (find("false"), find("true"));
    let list: Vec<Vec<String>> = components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let value = |row: Option<&Vec<String>>| row.and_then(|r| number(&r[2 + i]));
            let (a, b) = (value(churned), value(retained));
            let show = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.1}"));
            let gap = match (a, b) {
                (Some(a), Some(b)) => format!("{:+.1}", a - b),
                _ => "–".into(),
            };
            vec![escape(c), show(a), show(b), gap]
        })
        .collect();
    let count = |row: Option<&Vec<String>>| row.map_or("0".to_string(), |r| r[1].clone());
    Ok(format!(
        "<h3>Components on {date}: accounts churned within {} days ({}) against retained ({})</h3>\
         <p>Mean contribution to the score, in points: a component that does not score \
         churners lower does not earn its weight.</p>{}",
        tables.horizon_days,
        count(churned),
        count(retained),
        table(
            &["component", "#churned", "#retained", "#difference"],
            &list
        )
    ))
}

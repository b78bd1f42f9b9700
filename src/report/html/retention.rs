//! The headline, the retention equation and the cohorts: `retention_monthly`,
//! `retention_forecast`, `churn_cohorts`, `health_scores` and `health_cohorts` as of D.

use super::page::{escape, table};
use super::svg::{self, Chart, Series, Step, Unit};
use super::{Built, Tables, number};
use crate::pipeline::Result;

/// The complete months of the shown segment as of D, oldest first: month, mrr_start,
/// new_mrr, reactivation_mrr, expansion_mrr, contraction_mrr, churned_mrr, mrr_end, nrr,
/// grr, logo_churn_rate, logos_end.
async fn months(tables: &Tables) -> Result<Vec<Vec<String>>> {
    tables
        .rows(&format!(
            "select cast(month as varchar) as month_text, mrr_start, new_mrr, reactivation_mrr, expansion_mrr, \
             contraction_mrr, churned_mrr, mrr_end, nrr, grr, logo_churn_rate, logos_end \
             from retention_monthly where segment = {} \
             and cast(month + interval '1 month' as date) <= {} order by month",
            tables.retention_segment(),
            tables.day()
        ))
        .await
}

/// A headline figure; `key` and `raw` (the table's value) are data attributes, so that a
/// reader (or a test) can check the figure against the table.
fn tile(key: &str, raw: &str, label: &str, value: String, change: String) -> String {
    format!(
        "<div class=\"tile\" data-figure=\"{key}\" data-value=\"{}\"><div class=\"label\">{}</div>\
         <div class=\"value\">{}</div><div class=\"change\">{}</div></div>",
        escape(raw),
        escape(label),
        escape(&value),
        escape(&change)
    )
}

fn money(text: &str) -> String {
    number(text).map_or("–".into(), |v| format!("{} USD", svg::thousands(v)))
}

fn percent(text: &str) -> String {
    number(text).map_or("–".into(), |v| format!("{:.1}%", v * 100.0))
}

/// The change of a rate between two months, in points.
fn points_change(now: &str, before: &str) -> String {
    match (number(now), number(before)) {
        (Some(a), Some(b)) => format!("{:+.1} pts vs the month before", (a - b) * 100.0),
        _ => "no month before".into(),
    }
}

pub(super) async fn headline(tables: &Tables) -> Result<Built> {
    const ID: &str = "headline";
    const HEADING: &str = "Headline";
    if let Some(built) = tables.require(ID, HEADING, &["retention_monthly", "health_scores"]) {
        return Ok(built);
    }
    let months = months(tables).await?;
    let mut tiles = String::new();
    if let Some(last) = months.last() {
        let before = months.len().checked_sub(2).map(|i| &months[i]);
        let mrr_change = match (before.and_then(|b| number(&b[7])), number(&last[7])) {
            (Some(b), Some(a)) => format!(
                "{}{} USD vs the month before",
                if a >= b { "+" } else { "" },
                svg::thousands(a - b)
            ),
            _ => "no month before".into(),
        };
        let month = &last[0][..7];
        tiles.push_str(&tile(
            "mrr_end",
            &last[7],
            &format!("MRR, end of {month}"),
            money(&last[7]),
            mrr_change,
        ));
        for (key, label, column) in [
            ("nrr", "NRR", 8),
            ("grr", "GRR", 9),
            ("logo_churn_rate", "Logo churn", 10),
        ] {
            let change = before.map_or("no month before".into(), |b| {
                points_change(&last[column], &b[column])
            });
            tiles.push_str(&tile(
                key,
                &last[column],
                &format!("{label}, {month}"),
                percent(&last[column]),
                change,
            ));
        }
    }
    let bands = tables
        .rows(&format!(
            "select h.band, count(*) from health_scores h join customer_daily c \
             on c.account_id = h.account_id and c.as_of_date = h.as_of_date \
             where h.as_of_date = {} and c.lifecycle_stage <> 'churned' and {} \
             group by h.band",
            tables.day(),
            tables.account_filter()
        ))
        .await?;
    for band in ["green", "yellow", "red"] {
        let count = bands
            .iter()
            .find(|r| r[0] == band)
            .map_or("0".to_string(), |r| r[1].clone());
        tiles.push_str(&tile(
            &format!("accounts_{band}"),
            &count,
            &format!("Accounts {band} on {}", tables.as_of),
            count.clone(),
            "active accounts".into(),
        ));
    }
    if tables.has("health_cohorts") {
        let quality = tables
            .rows(&format!(
                "select cast(observation_date as varchar) as observed, auc, surprise_churn_rate \
                 from health_cohorts where band = 'all' and observation_date <= {} \
                 order by observation_date desc limit 1",
                tables.day()
            ))
            .await?;
        if let Some(row) = quality.first() {
            tiles.push_str(&tile(
                "surprise_churn_rate",
                &row[2],
                "Surprise-churn rate",
                percent(&row[2]),
                format!("churns green 30 days before, observed {}", row[0]),
            ));
            tiles.push_str(&tile(
                "auc",
                &row[1],
                "Health score AUC",
                number(&row[1]).map_or("–".into(), |v| format!("{v:.3}")),
                format!("churners scored lower, observed {}", row[0]),
            ));
        }
    }
    if months.is_empty() {
        tiles.push_str(&super::page::missing("no complete month as of this date"));
    }
    Ok(Built::new(
        ID,
        HEADING,
        format!("<div class=\"tiles\">{tiles}</div>"),
    ))
}

pub(super) async fn equation(tables: &Tables) -> Result<Built> {
    const ID: &str = "retention";
    const HEADING: &str = "Retention equation";
    if let Some(built) = tables.require(ID, HEADING, &["retention_monthly"]) {
        return Ok(built);
    }
    let months = months(tables).await?;
    let Some(last) = months.last() else {
        return Ok(Built::missing(
            ID,
            HEADING,
            "no complete month as of this date",
        ));
    };
    let value = |row: &[String], i: usize| number(&row[i]).unwrap_or(0.0);
    let steps = vec![
        Step::Total("start".into(), value(last, 1)),
        Step::Change("new".into(), value(last, 2)),
        Step::Change("reactivation".into(), value(last, 3)),
        Step::Change("expansion".into(), value(last, 4)),
        Step::Change("contraction".into(), -value(last, 5)),
        Step::Change("churn".into(), -value(last, 6)),
        Step::Total("end".into(), value(last, 7)),
    ];
    let waterfall = svg::waterfall(
        &Chart {
            title: &format!("MRR of {}: start to end", &last[0][..7]),
            caption: "Each bar starts where the last ended: what the month added and lost; the \
                      end bar is the month's mrr_end.",
            x_label: "movement",
            y_label: "MRR (USD)",
            unit: Unit::Money,
        },
        &steps,
    );
    let recent = &months[months.len().saturating_sub(12)..];
    let bridge_rows: Vec<Vec<String>> = recent
        .iter()
        .map(|r| {
            let cell = |i: usize| svg::thousands(value(r, i));
            vec![
                escape(&r[0][..7]),
                cell(1),
                format!("+{}", cell(2)),
                format!("+{}", cell(3)),
                format!("+{}", cell(4)),
                format!("−{}", cell(5)),
                format!("−{}", cell(6)),
                cell(7),
            ]
        })
        .collect();
    let bridge = table(
        &[
            "month",
            "#start",
            "#new",
            "#reactivation",
            "#expansion",
            "#contraction",
            "#churn",
            "#end",
        ],
        &bridge_rows,
    );
    let labels: Vec<String> = months.iter().map(|r| r[0][..7].to_string()).collect();
    let rate = |i: usize| -> Vec<Option<f64>> { months.iter().map(|r| number(&r[i])).collect() };
    let rates = svg::lines(
        &Chart {
            title: "NRR, GRR and logo churn by month",
            caption: "NRR above 100% means expansion outgrew churn and contraction; watch GRR \
                      for what is lost before expansion.",
            x_label: "month",
            y_label: "rate (%)",
            unit: Unit::Percent,
        },
        &labels,
        &[
            Series {
                name: "NRR".into(),
                color: "#4a6fa5",
                values: rate(8),
            },
            Series {
                name: "GRR".into(),
                color: "#2e8b57",
                values: rate(9),
            },
            Series {
                name: "logo churn".into(),
                color: "#c0392b",
                values: rate(10),
            },
        ],
    );
    let forecast = forecast(tables).await?;
    Ok(Built::new(
        ID,
        HEADING,
        format!(
            "<div class=\"grid2\">{waterfall}{rates}</div>\
             <h3>MRR bridge, last {} months (USD)</h3>{bridge}{forecast}",
            recent.len()
        ),
    ))
}

async fn forecast(tables: &Tables) -> Result<String> {
    if !tables.has("retention_forecast") {
        return Ok(String::new());
    }
    let rows = tables
        .rows(
            "select cast(month as varchar) as month_text, mrr_end, churned_mrr, new_mrr, \
             growth_ceiling_month from retention_forecast order by month",
        )
        .await?;
    if rows.is_empty() {
        return Ok(String::new());
    }
    let labels: Vec<String> = rows.iter().map(|r| r[0][..7].to_string()).collect();
    let column = |i: usize| -> Vec<Option<f64>> { rows.iter().map(|r| number(&r[i])).collect() };
    let ceiling = rows
        .iter()
        .find(|r| r[4] == "true")
        .map(|r| r[0].clone())
        .unwrap_or_default();
    let caption = if ceiling.is_empty() {
        "Projected from the trailing months' rates: new MRR stays above churned MRR over the \
         whole horizon."
            .to_string()
    } else {
        format!(
            "Projected from the trailing months' rates; the growth ceiling: from {} churned MRR \
             exceeds new MRR.",
            &ceiling[..7.min(ceiling.len())]
        )
    };
    let mrr = svg::lines(
        &Chart {
            title: "MRR forecast",
            caption: &caption,
            x_label: "month",
            y_label: "MRR (USD)",
            unit: Unit::Money,
        },
        &labels,
        &[Series {
            name: "projected mrr_end".into(),
            color: "#4a6fa5",
            values: column(1),
        }],
    );
    let flows = svg::lines(
        &Chart {
            title: "Forecast: new against churned MRR per month",
            caption: "Where the red line crosses the green one, churn outgrows acquisition.",
            x_label: "month",
            y_label: "MRR per month (USD)",
            unit: Unit::Money,
        },
        &labels,
        &[
            Series {
                name: "new".into(),
                color: "#2e8b57",
                values: column(3),
            },
            Series {
                name: "churned".into(),
                color: "#c0392b",
                values: column(2),
            },
        ],
    );
    Ok(format!("<div class=\"grid2\">{mrr}{flows}</div>"))
}

pub(super) async fn cohorts(tables: &Tables) -> Result<Built> {
    const ID: &str = "cohorts";
    const HEADING: &str = "Cohorts";
    if let Some(built) = tables.require(ID, HEADING, &["churn_cohorts"]) {
        return Ok(built);
    }
    const COHORTS: usize = 18;
    const PERIODS: usize = 12;
    let rows = tables
        .rows(&format!(
            "select cast(cohort_month as varchar) as cohort, cohort_size, months_since_start, logo_retention, \
             mrr_retention from churn_cohorts \
             where cohort_month in (select distinct cohort_month from churn_cohorts \
             order by cohort_month desc limit {COHORTS}) and months_since_start <= {PERIODS} \
             order by cohort_month, months_since_start"
        ))
        .await?;
    let mut names: Vec<String> = Vec::new();
    let mut logo: Vec<Vec<Option<f64>>> = Vec::new();
    let mut mrr: Vec<Vec<Option<f64>>> = Vec::new();
    for r in &rows {
        let name = format!("{} ({})", &r[0][..7], r[1]);
        if names.last() != Some(&name) {
            names.push(name);
            logo.push(vec![None; PERIODS + 1]);
            mrr.push(vec![None; PERIODS + 1]);
        }
        let k: usize = r[2].parse().unwrap_or(0);
        if k <= PERIODS {
            *logo
                .last_mut()
                .expect("a cohort")
                .get_mut(k)
                .expect("a period") = number(&r[3]);
            *mrr.last_mut()
                .expect("a cohort")
                .get_mut(k)
                .expect("a period") = number(&r[4]);
        }
    }
    let periods: Vec<String> = (0..=PERIODS).map(|k| k.to_string()).collect();
    let logo_map = svg::heatmap(
        "Logo retention by signup month",
        "Share of each cohort's accounts active k months after signup: a column that pales \
         early is where accounts are lost.",
        "cohort (size)",
        &names,
        &periods,
        &logo,
    );
    let mrr_map = svg::heatmap(
        "MRR retention by signup month",
        "Each cohort's MRR k months after signup over its starting MRR: above 100% the \
         survivors expanded more than the others took away.",
        "cohort (size)",
        &names,
        &periods,
        &mrr,
    );
    Ok(Built::new(
        ID,
        HEADING,
        format!("<p>Columns: months since signup.</p>{logo_map}{mrr_map}"),
    ))
}

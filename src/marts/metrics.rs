//! `[[metrics]]` compiled into SQL: the columns they add to the `window_figures` sweep and
//! the `m_<name>` columns of `customer_daily` (definitions: `config::metrics`, contract §4).
//!
//! A metric over events is swept like the built-in figures: each day's amount is a change on
//! that day and its negative on the day it leaves the window, a distinct user's runs of days
//! come from `key_window_changes(…, window)`, and `days_since` keeps the latest matching day
//! (a `w_<name>__last` day column, see `super::sweep`). Swept columns are named `w_…`;
//! `per_user` and `change` sweep a hidden column of their own (the users over the window,
//! the metric over the longer window). customer_daily turns the swept columns into the
//! metrics: sums of a property come back from millionths (swept as integers, exact to
//! 10⁻⁶), counts are scaled to tenure, and the derived metrics divide. Without metrics every
//! piece is empty and the SQL is the built-in one.

use crate::config::{Definition, EventMeasure, Measure, Metric, Per};

/// A property sum is swept in millionths.
const SUM_UNITS: f64 = 1_000_000.0;

/// One column the sweep computes for the metrics.
#[derive(Debug, Clone, PartialEq)]
struct Swept {
    /// `w_<…>`; a `days_since` column is `<column>__last` in the sweep's rows.
    column: String,
    measure: Measure,
    window: u32,
    /// SQL boolean over the event row: which events count.
    filter: String,
}

impl Swept {
    fn is_day(&self) -> bool {
        self.measure == Measure::DaysSince
    }

    /// The column in the sweep's change rows.
    fn input(&self) -> String {
        if self.is_day() {
            format!("{}__last", self.column)
        } else {
            self.column.clone()
        }
    }

    /// The column the running sums give, which customer_daily reads.
    fn output(&self) -> String {
        if self.is_day() {
            format!("{}__since", self.column)
        } else {
            self.column.clone()
        }
    }

    /// The no-change value of the column: nothing summed, no day.
    fn nothing(&self) -> &'static str {
        if self.is_day() {
            "cast(null as int)"
        } else {
            "cast(0 as bigint)"
        }
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Which events a measure counts, as SQL over the event row.
fn filter_sql(measure: &EventMeasure) -> String {
    let mut parts = Vec::new();
    if !measure.events.is_empty() {
        let names: Vec<String> = measure.events.iter().map(|e| quote(e)).collect();
        parts.push(format!("event in ({})", names.join(", ")));
    }
    if let Some(condition) = &measure.condition {
        parts.push(format!("({condition})"));
    }
    if parts.is_empty() {
        "true".into()
    } else {
        parts.join(" and ")
    }
}

fn event_measure<'a>(metrics: &'a [Metric], name: &str) -> Option<&'a EventMeasure> {
    metrics
        .iter()
        .find(|m| m.name == name)
        .and_then(|m| match &m.definition {
            Definition::Events(measure) => Some(measure),
            _ => None,
        })
}

/// The swept column of the users of any event over `window` days.
fn users_column(window: u32) -> String {
    format!("w_users_{window}d")
}

/// The swept column of event metric `name` over a longer `window`.
fn longer_column(name: &str, window: u32) -> String {
    format!("w_{name}_{window}d")
}

/// Every column the metrics need swept, each once, in declaration order.
fn swept_columns(metrics: &[Metric]) -> Vec<Swept> {
    let mut swept: Vec<Swept> = Vec::new();
    let mut add = |item: Swept| {
        if !swept.iter().any(|s| s.column == item.column) {
            swept.push(item);
        }
    };
    for metric in metrics {
        match &metric.definition {
            Definition::Events(measure) => add(Swept {
                column: format!("w_{}", metric.name),
                measure: measure.measure.clone(),
                window: measure.window_days,
                filter: filter_sql(measure),
            }),
            Definition::Per {
                metric: of,
                per: Per::ActiveUser,
            } => {
                let window = event_measure(metrics, of).map_or(30, |m| m.window_days);
                add(Swept {
                    column: users_column(window),
                    measure: Measure::DistinctUsers,
                    window,
                    filter: "true".into(),
                });
            }
            Definition::Change {
                metric: of,
                earlier_days,
            } => {
                if let Some(measure) = event_measure(metrics, of) {
                    let window = measure.window_days + earlier_days;
                    add(Swept {
                        column: longer_column(of, window),
                        measure: measure.measure.clone(),
                        window,
                        filter: filter_sql(measure),
                    });
                }
            }
            _ => {}
        }
    }
    swept
}

/// The days before a sweep's first date whose events reach its metrics: the longest window
/// (at least the built-in 30 days).
pub(super) fn lookback_days(metrics: &[Metric]) -> i32 {
    swept_columns(metrics)
        .iter()
        .map(|s| s.window as i32)
        .chain([30])
        .max()
        .unwrap_or(30)
}

/// The pieces the metrics add to sql/marts/window_figures.sql, by placeholder.
pub(super) fn window_figures_pieces(metrics: &[Metric]) -> Vec<(&'static str, String)> {
    let swept = swept_columns(metrics);
    let each = |f: &dyn Fn(&Swept) -> String| -> String {
        swept
            .iter()
            .map(|s| format!(",\n        {}", f(s)))
            .collect()
    };
    let zeros = each(&|s| format!("{} as {}", s.nothing(), s.input()));
    let sums = each(&|s| {
        let aggregate = if s.is_day() { "max" } else { "sum" };
        format!("{aggregate}({c}) as {c}", c = s.input())
    });
    let columns = each(&|s| s.input());
    let date_zeros = each(&|s| format!("{} as {}", s.nothing(), s.input()));
    let (ctes, branch) = if swept.is_empty() {
        (String::new(), String::new())
    } else {
        (
            metric_ctes(&swept),
            "    union all
    -- The metrics' changes (src/marts/metrics.rs).
    select account_id, day, 0, 0, 0, 0, 0, 0, 0, 0, cast(null as int), 0, 0, 0, 0, 0${columns}
    from metric_changes
"
            .replace("${columns}", &each(&|s| s.input())),
        )
    };
    vec![
        ("${metric_ctes}", ctes),
        ("${metric_zeros}", zeros),
        ("${metric_branch}", branch),
        ("${metric_sums}", sums),
        ("${metric_columns}", columns),
        ("${metric_date_zeros}", date_zeros),
    ]
}

/// The CTEs giving `metric_changes`: per account, the day and a change (or a day) of every
/// swept column.
fn metric_ctes(swept: &[Swept]) -> String {
    let filters: String = swept
        .iter()
        .enumerate()
        .map(|(i, s)| format!(",\n        coalesce({}, false) as f_{i}", s.filter))
        .collect();
    let values: String = swept
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.measure {
            Measure::Sum { property } => Some(format!(
                ",\n        cast(round(property_number(properties, {}) * {SUM_UNITS}) as bigint) as v_{i}",
                quote(property)
            )),
            _ => None,
        })
        .collect();
    let mut ctes = format!(
        "-- The events the metrics read, with which of them each metric counts.
metric_events as (
    select account_id, cast(event_date as int) as day, user_id{filters}{values}
    from stg_events
    where account_id is not null
        and event_date between date '${{metric_from_date}}' and date '${{last_date}}'
),

"
    );
    let daily: Vec<(usize, &Swept)> = swept
        .iter()
        .enumerate()
        .filter(|(_, s)| s.measure != Measure::DistinctUsers)
        .collect();
    let users: Vec<(usize, &Swept)> = swept
        .iter()
        .enumerate()
        .filter(|(_, s)| s.measure == Measure::DistinctUsers)
        .collect();
    let mut branches: Vec<String> = Vec::new();
    let row = |value: &dyn Fn(usize, &Swept) -> Option<String>| -> String {
        swept
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let value = value(i, s).unwrap_or_else(|| s.nothing().into());
                format!(", {value} as {}", s.input())
            })
            .collect()
    };
    if !daily.is_empty() {
        let amounts: String = daily
            .iter()
            .map(|(i, s)| {
                let amount = match &s.measure {
                    Measure::Count => format!("count(*) filter (where f_{i})"),
                    Measure::ActiveDays => {
                        format!("cast(max(case when f_{i} then 1 else 0 end) as bigint)")
                    }
                    Measure::Sum { .. } => {
                        format!("coalesce(sum(v_{i}) filter (where f_{i}), 0)")
                    }
                    _ => format!("max(case when f_{i} then day end)"),
                };
                format!(",\n        {amount} as a_{i}")
            })
            .collect();
        ctes.push_str(&format!(
            "-- Per account and day: each metric's amount (a day, for days_since).
metric_days as (
    select account_id, day{amounts}
    from metric_events
    group by account_id, day
),

"
        ));
        let is_daily = |i: usize| daily.iter().any(|(d, _)| *d == i);
        let mut windows: Vec<u32> = daily
            .iter()
            .filter(|(_, s)| !s.is_day())
            .map(|(_, s)| s.window)
            .collect();
        windows.sort_unstable();
        windows.dedup();
        // One pass over metric_days: each row on its day (days = 0) and on the day it
        // leaves each window (days = W); a CTE read twice is computed twice.
        let offsets: Vec<String> = std::iter::once(0)
            .chain(windows.iter().copied())
            .map(|d| d.to_string())
            .collect();
        branches.push(format!(
            "    select account_id, cast(day + days as bigint) as day{}
    from (
        select *, unnest(make_array({})) as days
        from metric_days
    )",
            row(&|i, s| {
                is_daily(i).then(|| {
                    if s.is_day() {
                        format!("case when days = 0 then a_{i} end")
                    } else {
                        format!(
                            "case when days = 0 then a_{i} when days = {} then -a_{i} else 0 end",
                            s.window
                        )
                    }
                })
            }),
            offsets.join(", ")
        ));
    }
    if !users.is_empty() {
        let aggregates: String = users
            .iter()
            .map(|(i, s)| {
                format!(
                    ",\n        key_window_changes(day, ${{metric_from_day}}, ${{last_day}}, {}) \
                     filter (where f_{i}) as c_{i}",
                    s.window
                )
            })
            .collect();
        ctes.push_str(&format!(
            "-- Per account and user: the runs of the user's days in each distinct_users window.
metric_users as (
    select account_id{aggregates}
    from metric_events
    where user_id is not null
    group by account_id, user_id
),

"
        ));
        for (i, _) in &users {
            branches.push(format!(
                "    select account_id, cast(change['day'] as bigint){}
    from (select account_id, unnest(c_{i}) as change from metric_users)",
                row(&|j, _| (j == *i).then(|| "cast(change['change'] as bigint)".to_string()))
            ));
        }
    }
    ctes.push_str(&format!(
        "-- Each amount enters the metric's window on its day and leaves it `window` days later.
metric_changes as (
{}
),

",
        branches.join("\n    union all\n")
    ));
    ctes
}

/// The pieces the metrics add to sql/marts/customer_daily.sql, by placeholder.
pub(super) fn customer_daily_pieces(metrics: &[Metric]) -> Vec<(&'static str, String)> {
    let swept = swept_columns(metrics);
    let figures: String = swept
        .iter()
        .map(|s| {
            let column = s.output();
            if s.is_day() {
                format!(",\n        windowed.{column}")
            } else {
                format!(",\n        coalesce(windowed.{column}, 0) as {column}")
            }
        })
        .collect();
    let values: String = metrics
        .iter()
        .map(|m| format!(",\n        {} as {}", value_sql(metrics, m), m.column()))
        .collect();
    let columns: String = metrics
        .iter()
        .map(|m| format!("\n        {},", m.column()))
        .collect();
    vec![
        ("${metric_figures}", figures),
        ("${metric_values}", values),
        ("${metric_columns}", columns),
    ]
}

/// A metric's value over the customer row's swept columns, seats, mrr and tenure_days.
fn value_sql(metrics: &[Metric], metric: &Metric) -> String {
    let of = |name: &str| -> String {
        metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| value_sql(metrics, m))
            .unwrap_or_else(|| "cast(null as double)".into())
    };
    let double = |sql: String| format!("cast(({sql}) as double)");
    match &metric.definition {
        Definition::Events(measure) => {
            let column = format!("w_{}", metric.name);
            let window = measure.window_days;
            let amount = match &measure.measure {
                Measure::DaysSince => {
                    return format!(
                        "case when {column}__since < {window} then {column}__since end"
                    );
                }
                Measure::Sum { .. } => format!("cast({column} as double) / {SUM_UNITS:?}"),
                _ => column,
            };
            if measure.scale_to_tenure {
                format!(
                    "cast({amount} as double) * {window} / greatest(1, least({window}, tenure_days + 1))"
                )
            } else {
                amount
            }
        }
        Definition::Ratio {
            numerator,
            denominator,
        } => format!(
            "{} / nullif({}, 0)",
            double(of(numerator)),
            double(of(denominator))
        ),
        Definition::Per { metric: name, per } => {
            let by = match per {
                Per::ActiveUser => {
                    users_column(event_measure(metrics, name).map_or(30, |m| m.window_days))
                }
                Per::Seat => "seats".into(),
                Per::Mrr => "mrr".into(),
            };
            format!("{} / nullif(cast({by} as double), 0)", double(of(name)))
        }
        Definition::Change {
            metric: name,
            earlier_days,
        } => {
            let window = event_measure(metrics, name).map_or(30, |m| m.window_days);
            let recent = format!("cast(w_{name} as double)");
            let longer = format!(
                "cast({} as double)",
                longer_column(name, window + earlier_days)
            );
            format!("({recent} / {window}) / nullif(({longer} - {recent}) / {earlier_days}, 0)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(name: &str, measure: Measure, window_days: u32) -> Metric {
        Metric {
            name: name.into(),
            definition: Definition::Events(EventMeasure {
                measure,
                window_days,
                events: vec!["post".into()],
                condition: None,
                scale_to_tenure: false,
            }),
        }
    }

    #[test]
    fn derived_metrics_sweep_the_columns_they_divide_by() {
        let metrics = vec![
            events("posts", Measure::Count, 14),
            Metric {
                name: "posts_per_user".into(),
                definition: Definition::Per {
                    metric: "posts".into(),
                    per: Per::ActiveUser,
                },
            },
            Metric {
                name: "posts_change".into(),
                definition: Definition::Change {
                    metric: "posts".into(),
                    earlier_days: 42,
                },
            },
            events("last_post", Measure::DaysSince, 90),
        ];
        let columns: Vec<String> = swept_columns(&metrics).iter().map(|s| s.input()).collect();
        assert_eq!(
            columns,
            vec!["w_posts", "w_users_14d", "w_posts_56d", "w_last_post__last"]
        );
        assert_eq!(lookback_days(&metrics), 90);
        assert_eq!(
            value_sql(&metrics, &metrics[2]),
            "(cast(w_posts as double) / 14) / nullif((cast(w_posts_56d as double) - \
             cast(w_posts as double)) / 42, 0)"
        );
        assert_eq!(lookback_days(&[]), 30);
        assert!(
            window_figures_pieces(&[])
                .iter()
                .all(|(_, piece)| piece.is_empty())
        );
    }
}

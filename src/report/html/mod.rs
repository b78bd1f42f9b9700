//! `churnlake report`: one self-contained HTML page for a Monday review, from the warehouse's
//! tables as of a date. Every figure on the page is a value of a table (or a count or mean
//! of its rows) as of D, so the page and a SQL query agree; the charts are inline SVG
//! ([`svg`]) and the page loads nothing ([`page`]).
//!
//! Sections: the headline and the retention equation and cohorts ([`retention`]), health
//! movement, the accounts to call and whether the score works ([`health`]), and data quality
//! ([`quality`]). A section whose tables are missing says what to run.

mod health;
pub mod page;
mod quality;
mod retention;
pub mod svg;

use crate::base::error::FromFile;
use crate::config::Pipeline;
use crate::engine;
use crate::engine::warehouse::Warehouse;
use crate::pipeline::{Error, Result};
use chrono::NaiveDate;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use std::path::{Path, PathBuf};

/// What `report` wrote.
pub struct HtmlReport {
    pub path: PathBuf,
    pub bytes: usize,
    /// The sections that could not be drawn, and why.
    pub missing: Vec<String>,
}

/// The warehouse's tables, registered for the sections to query.
pub(crate) struct Tables {
    ctx: SessionContext,
    pub as_of: NaiveDate,
    /// `--segment`: the retention rows and accounts of one segment.
    pub segment: Option<String>,
    /// `[retention]`: the horizon of health_cohorts and the surprise lead.
    pub horizon_days: u32,
    pub lead_days: u32,
}

impl Tables {
    pub fn has(&self, table: &str) -> bool {
        self.ctx.table_exist(table).unwrap_or(false)
    }

    /// A query's rows as display text (null as "").
    pub async fn rows(&self, sql: &str) -> Result<Vec<Vec<String>>> {
        Ok(engine::string_rows(&engine::query(&self.ctx, sql).await?))
    }

    /// The retention segment the page shows.
    pub fn retention_segment(&self) -> String {
        quote(self.segment.as_deref().unwrap_or("all"))
    }

    /// An SQL condition on `customer_daily` alias `c` for the segment, or `true`.
    pub fn account_filter(&self) -> String {
        match &self.segment {
            Some(segment) => format!("c.segment = {}", quote(segment)),
            None => "true".into(),
        }
    }

    /// A registered table's column names.
    pub async fn columns(&self, table: &str) -> Result<Vec<String>> {
        let df = self
            .ctx
            .table(table)
            .await
            .map_err(|e| crate::engine::Error::query(table, e))?;
        Ok(df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().to_string())
            .collect())
    }

    /// The section that says what to run when one of `needed` is missing: `None` when all
    /// are there.
    pub fn require(&self, id: &str, heading: &str, needed: &[&str]) -> Option<Built> {
        let table = needed.iter().find(|t| !self.has(t))?;
        let command = if *table == "data_quality" {
            "churnlake ingest".to_string()
        } else {
            format!("churnlake build --as-of {}", self.as_of)
        };
        Some(Built::missing(
            id,
            heading,
            &format!("no {table} yet: run `{command}`"),
        ))
    }

    pub fn day(&self) -> String {
        format!("date '{}'", self.as_of)
    }
}

pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A number from a table's display text.
pub fn number(text: &str) -> Option<f64> {
    text.parse().ok()
}

/// Writes the report of the warehouse as of `as_of` to `out`. A warehouse with no tables at
/// all is a usage error (exit 2): there is nothing to report.
pub async fn write_report(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    as_of: NaiveDate,
    segment: Option<String>,
    out: &Path,
) -> Result<HtmlReport> {
    if !warehouse.exists("stg_handoffs").await? {
        return Err(Error::Usage(format!(
            "no tables in {}; run `churnlake ingest` and `churnlake build --as-of {as_of}` first",
            warehouse.location
        )));
    }
    let ctx = engine::session();
    crate::pipeline::catalog::register_tables(&ctx, warehouse).await?;
    let history = crate::marts::history::HEALTH_HISTORY_DIR;
    if warehouse.exists(history).await? {
        let partition = Some(("as_of_date", DataType::Date32));
        engine::register_location(
            &ctx,
            "health_history",
            &warehouse.url_of(history),
            partition,
        )
        .await?;
    }
    let tables = Tables {
        ctx,
        as_of,
        segment: segment.clone(),
        horizon_days: pipeline.retention.health_horizon_days,
        lead_days: pipeline.retention.surprise_lead_days,
    };
    let mut missing = Vec::new();
    let mut sections = Vec::new();
    for built in [
        retention::headline(&tables).await?,
        retention::equation(&tables).await?,
        health::movement(&tables).await?,
        health::calls(&tables).await?,
        retention::cohorts(&tables).await?,
        health::score_works(&tables).await?,
        quality::data_quality(&tables).await?,
    ] {
        missing.extend(built.missing);
        sections.push(built.html);
    }
    let scope = match &segment {
        Some(s) => format!("segment {s}"),
        None => "all segments".to_string(),
    };
    let html = page::page(
        &format!("Customer health and retention as of {as_of}"),
        &format!(
            "{} · {scope} · every figure is read from the warehouse's tables as of {as_of}",
            warehouse.location
        ),
        &sections,
    );
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(out, &html).map_err(|e| Error::io(out, e))?;
    Ok(HtmlReport {
        path: out.to_path_buf(),
        bytes: html.len(),
        missing,
    })
}

/// A section's HTML and what it could not show.
pub(crate) struct Built {
    pub html: String,
    pub missing: Vec<String>,
}

impl Built {
    pub fn new(id: &str, heading: &str, body: String) -> Built {
        Built {
            html: page::section(id, heading, &body),
            missing: Vec::new(),
        }
    }

    /// A section that cannot be drawn: its heading and what to run.
    pub fn missing(id: &str, heading: &str, why: &str) -> Built {
        Built {
            html: page::section(id, heading, &page::missing(why)),
            missing: vec![format!("{heading}: {why}")],
        }
    }
}

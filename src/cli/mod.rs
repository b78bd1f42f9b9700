//! The command line: global options, and one file per command (each with examples in its
//! long help). A command parses its arguments, calls the pipeline and prints; it holds no
//! step of the work itself.

mod build;
mod calibrate;
mod cluster;
mod compact;
mod demo;
mod generate;
mod history;
mod ingest;
pub mod output;
mod query;
mod report;
mod run;
mod unlock;
mod validate;

use crate::config::{Engine, Overrides, Pipeline, TableFormat};
use crate::pipeline::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// The pipeline file compiled into the binary, used by `demo` and when the default path is
/// absent.
pub const BUILTIN_PIPELINE: &str = include_str!("../../pipelines/default.toml");
const DEFAULT_PIPELINE_PATH: &str = "pipelines/default.toml";

#[derive(Debug, Parser)]
#[command(
    name = "churnlake",
    version,
    about = "Customer Success ETL: sources in, health and retention tables out",
    long_about = "churnlake ingests CRM handoffs, Zendesk tickets, Segment page views and product \
events (plus optional NPS and FX rates) into typed, deduplicated Parquet tables.\n\n\
Exit codes: 0 ok; 1 a data check failed; 2 usage or config error; 3 runtime or I/O error; \
99 no input for the date asked."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Pipeline file (sources, timezone, warehouse).
    #[arg(long, global = true, default_value = DEFAULT_PIPELINE_PATH)]
    pub pipeline: PathBuf,
    /// Directory relative source paths start at (overrides `data_root`).
    #[arg(long, global = true)]
    pub data_root: Option<PathBuf>,
    /// Warehouse root for output tables (overrides `warehouse`).
    #[arg(long, global = true)]
    pub warehouse: Option<PathBuf>,
    /// Memory SQL work may use before spilling to disk, e.g. 3GiB (overrides `memory_limit`).
    #[arg(long, global = true)]
    pub memory_limit: Option<String>,
    /// How output tables are stored: parquet or delta (overrides `table_format`).
    #[arg(long, global = true, env = "CHURNLAKE_TABLE_FORMAT", value_parser = parse_table_format)]
    pub table_format: Option<TableFormat>,
    /// Where staging's and the marts' SQL runs: local, or ballista://HOST:PORT for a
    /// cluster started with `churnlake cluster` (overrides `engine`).
    #[arg(long, global = true, env = "CHURNLAKE_ENGINE", value_parser = Engine::parse)]
    pub engine: Option<Engine>,
    /// `text` for people; `json` for schedulers: JSON lines on stderr, the run results on
    /// stdout.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: crate::base::log::LogFormat,
    /// Also write the run-results JSON to this file (it is always published in the
    /// warehouse as `_run_results/<run_id>.json`).
    #[arg(long, global = true)]
    pub run_results: Option<PathBuf>,
}

impl GlobalArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            data_root: self.data_root.clone(),
            warehouse: self.warehouse.clone(),
            memory_limit: self.memory_limit.clone(),
            table_format: self.table_format,
            engine: self.engine.clone(),
        }
    }

    /// Loads and validates the pipeline file, its SQL expressions included.
    pub async fn load_pipeline(&self) -> Result<Pipeline> {
        crate::pipeline::load(&self.pipeline, &self.overrides()).await
    }
}

fn parse_table_format(text: &str) -> std::result::Result<TableFormat, String> {
    TableFormat::parse(text).ok_or_else(|| format!("`{text}`: use parquet or delta"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Validate(validate::ValidateArgs),
    Ingest(ingest::IngestArgs),
    Build(build::BuildArgs),
    Run(run::RunArgs),
    Backfill(run::BackfillArgs),
    Calibrate(calibrate::CalibrateArgs),
    Unlock(unlock::UnlockArgs),
    Compact(compact::CompactArgs),
    Query(query::QueryArgs),
    History(history::HistoryArgs),
    Report(report::ReportArgs),
    Generate(generate::GenerateArgs),
    Demo(demo::DemoArgs),
    Cluster(cluster::ClusterArgs),
}

pub async fn run(cli: Cli) -> Result<()> {
    output::init(cli.global.log_format, cli.global.run_results.clone());
    if std::env::var_os("CHURNLAKE_CLUSTER_LOG").is_some() {
        cluster::init_cluster_log();
    }
    match cli.command {
        Command::Validate(args) => validate::execute(&cli.global, args).await,
        Command::Ingest(args) => ingest::execute(&cli.global, args).await,
        Command::Build(args) => build::execute(&cli.global, args).await,
        Command::Run(args) => run::execute_run(&cli.global, args).await,
        Command::Backfill(args) => run::execute_backfill(&cli.global, args).await,
        Command::Calibrate(args) => calibrate::execute(&cli.global, args).await,
        Command::Unlock(args) => unlock::execute(&cli.global, args).await,
        Command::Compact(args) => compact::execute(&cli.global, args).await,
        Command::Query(args) => query::execute(&cli.global, args).await,
        Command::History(args) => history::execute(&cli.global, args).await,
        Command::Report(args) => report::execute(&cli.global, args).await,
        Command::Generate(args) => generate::execute(args),
        Command::Demo(args) => demo::execute(&cli.global, args).await,
        Command::Cluster(args) => cluster::execute(args).await,
    }
}

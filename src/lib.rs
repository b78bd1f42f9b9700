//! churnlake: a batch ETL that turns a SaaS business's customer traces into the tables a
//! Customer Success team runs on.
//!
//! Data flows one way, and the modules follow it: `config` (the pipeline file) →
//! `ingest` (typed, deduplicated, quarantined `stg_*` tables) → `publish` (warehouse tables
//! and the run log) → `report` (what the operator reads). `generate` makes demo data in the
//! real source formats; `cli` holds one file per command.

pub mod cli;
pub mod config;
pub mod contract;
pub mod engine;
pub mod error;
pub mod generate;
pub mod ingest;
pub mod marts;
pub mod publish;
pub mod report;
pub mod warehouse;

pub use error::{Error, ExitCode, Result};

//! churnlake: a batch ETL that turns a SaaS business's customer traces into the tables a
//! Customer Success team runs on.
//!
//! Data flows one way, and the modules follow it, bottom up as `LAYERS` lists them:
//! `base` (shared primitives) → `contract` (the source contract) → `config` (the pipeline
//! file) → `learn` (fitting a health model to churn history) → `engine` (DataFusion sessions, the warehouse's stores) → `ingest` (sources read,
//! typed and quarantined into raw files) → `staging` (`sql/staging`: the `stg_*` tables) →
//! `marts` (`sql/marts`: the customer table, health, playbook, retention) → `publish` (the
//! journaled commit and the run log) → `pipeline` (which dates, passes and publication a
//! command needs) → `report` (what the operator reads) → `cli`. `generate` makes demo data
//! in the real source formats. See docs/architecture.md.

pub mod base;
pub mod cli;
pub mod config;
pub mod contract;
pub mod engine;
pub mod generate;
pub mod ingest;
pub mod learn;
pub mod marts;
pub mod pipeline;
pub mod publish;
pub mod report;
pub mod staging;

pub use base::error::ExitCode;
pub use pipeline::{Error, Result};

//! Marts: the customer table (`customer_daily`), the health model (`health_scores`), the
//! playbook (`playbook_actions`) and the retention tables and cohorts, computed by
//! `sql/marts` and the SQL generated from the pipeline file, over the staged tables.
//!
//! A pass computes the dates the pipeline plans for it ([`PassDates`]) into its work
//! directory and says what it wrote ([`BuildOutcome`]); it neither chooses dates nor
//! publishes. The Rust functions the marts' SQL calls are registered by
//! [`register_functions`].

pub mod error;
pub use error::{Error, Result};
mod build;
pub mod calibration;
mod catalog;
mod check;
pub mod expressions;
mod health;
pub mod history;
pub mod key_windows;
pub mod last_active;
mod metrics;
mod playbook;
mod properties;
pub mod reasons;
mod retention;
#[doc(hidden)]
pub mod spec;
mod sweep;
mod window_figures;

pub use build::{BuildOutcome, PassDates, PassKind, build};
pub use catalog::{
    MART_TABLES, MartTable, WHOLE_TABLES, WholeTable, model_fingerprint, register_marts,
};
pub use check::expression_problems;
pub use window_figures::{compute_window_figures, dates_per_sweep};

use datafusion::prelude::SessionContext;

/// Registers the functions the marts' SQL calls (and those of the staging SQL it plans
/// over) with a session.
pub fn register_functions(ctx: &SessionContext) {
    crate::staging::register_functions(ctx);
    ctx.register_udaf(key_windows::key_window_changes_udaf());
    ctx.register_udf(reasons::health_reasons_udf());
    for udf in properties::property_udfs() {
        ctx.register_udf(udf);
    }
}

//! The staging models of `sql/staging`, in the order they run, with the facts the pipeline
//! checks about each: grain, partition column, source kind, account and event-time columns.

use crate::contract::SourceKind;

/// One `sql/staging` model.
pub struct StagingModel {
    pub name: &'static str,
    pub sql: &'static str,
    /// The source kind whose rows it loads; `None` for helper views.
    pub kind: Option<SourceKind>,
    /// The raw table it reads and the raw table's key, for counting duplicates.
    pub raw: Option<&'static str>,
    /// A helper that already counted the duplicates (`later_reads` per repeated key), so
    /// the raw table need not be aggregated again.
    pub repeats: Option<&'static str>,
    /// Columns of its primary key; checked after every run.
    pub grain: &'static [&'static str],
    pub partition_by: Option<&'static str>,
    /// Column holding the account, for orphan counts.
    pub account_column: Option<&'static str>,
    /// Column holding the latest event time, for `data_quality.max_event_time`.
    pub event_time: Option<&'static str>,
    /// Helper views are registered for later models but not written.
    pub published: bool,
    /// How a helper is registered for the models after it.
    pub held: Held,
}

/// How a helper (an unpublished model) is held for the models that read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// As a view: computed again by each model that reads it.
    View,
    /// Collected into memory: a small helper whose size joins then know, so they build
    /// their hash table on it rather than on the big side.
    Memory,
    /// Written once to the run's scratch folder: a helper several models read that is too
    /// costly to compute for each and too big to hold in memory at every scale.
    Scratch,
}

macro_rules! model_sql {
    ($name:literal) => {
        include_str!(concat!("../../sql/staging/", $name, ".sql"))
    };
}

pub const STAGING_MODELS: &[StagingModel] = &[
    StagingModel {
        name: "stg_fx_rates",
        sql: model_sql!("stg_fx_rates"),
        kind: Some(SourceKind::FxRates),
        raw: Some("raw_fx_rates"),
        repeats: None,
        grain: &["currency", "date"],
        partition_by: None,
        account_column: None,
        event_time: Some("date"),
        published: true,
        held: Held::View,
    },
    StagingModel {
        name: "stg_handoffs",
        sql: model_sql!("stg_handoffs"),
        kind: Some(SourceKind::Handoffs),
        raw: Some("raw_handoffs"),
        repeats: None,
        grain: &["deal_id"],
        partition_by: None,
        account_column: None,
        event_time: Some("updated_at"),
        published: true,
        held: Held::View,
    },
    StagingModel {
        name: "stg_identities",
        sql: model_sql!("stg_identities"),
        kind: Some(SourceKind::Events),
        raw: Some("raw_identities"),
        repeats: None,
        grain: &["message_id"],
        partition_by: None,
        account_column: None,
        event_time: Some("timestamp"),
        published: true,
        held: Held::View,
    },
    StagingModel {
        name: "identity_spans",
        sql: model_sql!("identity_spans"),
        kind: None,
        raw: None,
        repeats: None,
        grain: &[],
        partition_by: None,
        account_column: None,
        event_time: None,
        published: false,
        held: Held::Scratch,
    },
    StagingModel {
        name: "stg_users",
        sql: model_sql!("stg_users"),
        kind: Some(SourceKind::Events),
        raw: Some("raw_users"),
        repeats: None,
        grain: &["user_id"],
        partition_by: None,
        account_column: None,
        event_time: Some("identified_at"),
        published: true,
        held: Held::View,
    },
    StagingModel {
        name: "repeated_events",
        sql: model_sql!("repeated_events"),
        kind: None,
        raw: None,
        repeats: None,
        grain: &[],
        partition_by: None,
        account_column: None,
        event_time: None,
        published: false,
        held: Held::Memory,
    },
    StagingModel {
        name: "stg_events",
        sql: model_sql!("stg_events"),
        kind: Some(SourceKind::Events),
        raw: Some("raw_events"),
        repeats: Some("repeated_events"),
        grain: &["message_id"],
        partition_by: Some("event_date"),
        account_column: Some("account_id"),
        event_time: Some("timestamp"),
        published: true,
        held: Held::View,
    },
    StagingModel {
        name: "stg_tickets",
        sql: model_sql!("stg_tickets"),
        kind: Some(SourceKind::Tickets),
        raw: Some("raw_tickets"),
        repeats: None,
        grain: &["id"],
        partition_by: None,
        account_column: Some("account_id"),
        event_time: Some("updated_at"),
        published: true,
        held: Held::View,
    },
    StagingModel {
        name: "repeated_pageviews",
        sql: model_sql!("repeated_pageviews"),
        kind: None,
        raw: None,
        repeats: None,
        grain: &[],
        partition_by: None,
        account_column: None,
        event_time: None,
        published: false,
        held: Held::Memory,
    },
    StagingModel {
        name: "stg_pageviews",
        sql: model_sql!("stg_pageviews"),
        kind: Some(SourceKind::Pageviews),
        raw: Some("raw_pageviews"),
        repeats: Some("repeated_pageviews"),
        grain: &["message_id"],
        partition_by: Some("event_date"),
        account_column: Some("account_id"),
        event_time: Some("timestamp"),
        published: true,
        held: Held::View,
    },
    StagingModel {
        name: "stg_nps",
        sql: model_sql!("stg_nps"),
        kind: Some(SourceKind::Nps),
        raw: Some("raw_nps"),
        repeats: None,
        grain: &["response_id"],
        partition_by: None,
        account_column: Some("account_id"),
        event_time: Some("responded_at"),
        published: true,
        held: Held::View,
    },
];

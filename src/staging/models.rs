//! The staging models of `sql/staging`, in the order they run, with the facts the pipeline
//! checks about each: grain, partition column, source kind, account and event-time columns;
//! and the shared pieces a model's file includes, filled in as dbt fills in a macro.

use crate::contract::SourceKind;

/// The identity-map lookup of the models that resolve accounts (`${as_of_account}`).
const AS_OF_ACCOUNT_SQL: &str = include_str!("../../sql/staging/as_of_account.sql");

/// The first read of each Segment call, for the models of calls (`${first_read}`).
const FIRST_READ_SQL: &str = include_str!("../../sql/staging/first_read.sql");

/// One `sql/staging` model.
pub struct StagingModel {
    pub name: &'static str,
    /// The model's file; see [`StagingModel::sql`].
    template: &'static str,
    /// What the file's shared pieces take: `${name}` → text (the table a shared file reads,
    /// the rows, user column and time of an account lookup).
    pieces: &'static [(&'static str, &'static str)],
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

impl StagingModel {
    /// The model's SQL: its file with the shared pieces in (`${first_read}`,
    /// `${as_of_account}`, then each of `pieces`). The run's own variables
    /// (`${reporting_currency}`, `${identities}`) are left for the run to fill.
    pub fn sql(&self) -> String {
        let mut text = self
            .template
            .replace("${first_read}", FIRST_READ_SQL.trim_end())
            .replace("${as_of_account}", AS_OF_ACCOUNT_SQL.trim_end());
        for (name, value) in self.pieces {
            text = text.replace(&format!("${{{name}}}"), value);
        }
        text
    }
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
        template: model_sql!("stg_fx_rates"),
        pieces: &[],
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
        template: model_sql!("stg_handoffs"),
        pieces: &[],
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
        template: model_sql!("stg_identities"),
        pieces: &[],
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
        template: model_sql!("identity_spans"),
        pieces: &[],
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
        template: model_sql!("stg_users"),
        pieces: &[],
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
        template: model_sql!("repeated_reads"),
        pieces: &[("calls", "raw_events")],
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
        template: model_sql!("stg_events"),
        pieces: &[
            ("calls", "raw_events"),
            ("repeats", "repeated_events"),
            ("rows", "first_read"),
            ("user", "user_id"),
            ("at", "timestamp"),
        ],
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
        template: model_sql!("stg_tickets"),
        pieces: &[
            ("rows", "latest"),
            ("user", "requester_id"),
            ("at", "created_at"),
        ],
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
        template: model_sql!("repeated_reads"),
        pieces: &[("calls", "raw_pageviews")],
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
        template: model_sql!("stg_pageviews"),
        pieces: &[
            ("calls", "raw_pageviews"),
            ("repeats", "repeated_pageviews"),
            ("rows", "first_read"),
            ("user", "user_id"),
            ("at", "timestamp"),
        ],
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
        template: model_sql!("stg_nps"),
        pieces: &[
            ("rows", "latest"),
            ("user", "user_id"),
            ("at", "responded_at"),
        ],
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

//! The source contract (contract §1): which fields each kind of source carries, their types,
//! which are required, and where they sit by default in each file format.
//!
//! This is the single list that configuration checks, conversion and the staged schemas are
//! derived from, with the file formats sources come in. It reads no file.

use crate::base::table_file::ColumnType;
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// How records are laid out in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// Nested formats address fields by dotted path (Segment, Zendesk); flat ones by name.
    pub fn is_nested(self) -> bool {
        self == Format::Ndjson
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// A source file as the pipeline file names it: where it lies and how its bytes are laid out.
#[derive(Debug, Clone)]
pub struct SourcePath {
    pub path: PathBuf,
    pub format: Format,
    pub compression: Compression,
}

impl SourcePath {
    /// Detects compression from the last extension and the format from the one before it,
    /// unless `format` is given; the reason when neither tells, for the file's message.
    pub fn new(path: PathBuf, format: Option<Format>) -> Result<SourcePath, String> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let (stem, compression) = if let Some(stem) = name.strip_suffix(".gz") {
            (stem, Compression::Gzip)
        } else if let Some(stem) = name.strip_suffix(".zst") {
            (stem, Compression::Zstd)
        } else {
            (name.as_str(), Compression::None)
        };
        let detected = stem
            .rsplit_once('.')
            .and_then(|(_, ext)| Format::parse(ext));
        let format = format.or(detected).ok_or_else(|| {
            "cannot tell the format from the extension; name files .csv, .ndjson or \
             .parquet (optionally .gz or .zst) or set `format` on the source"
                .to_string()
        })?;
        if format == Format::Parquet && compression != Compression::None {
            return Err("Parquet files compress internally; remove the .gz/.zst layer".into());
        }
        Ok(SourcePath {
            path,
            format,
            compression,
        })
    }
}

/// An ISO 4217 currency code: three upper-case letters.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// The kinds of source churnlake understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Handoffs,
    Tickets,
    Pageviews,
    Events,
    Nps,
    FxRates,
}

impl SourceKind {
    pub const ALL: [SourceKind; 6] = [
        SourceKind::Handoffs,
        SourceKind::Tickets,
        SourceKind::Pageviews,
        SourceKind::Events,
        SourceKind::Nps,
        SourceKind::FxRates,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Handoffs => "handoffs",
            SourceKind::Tickets => "tickets",
            SourceKind::Pageviews => "pageviews",
            SourceKind::Events => "events",
            SourceKind::Nps => "nps",
            SourceKind::FxRates => "fx_rates",
        }
    }

    pub fn parse(name: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The order sources are staged in: FX before handoffs (conversion), events before the
    /// sources whose accounts resolve through the identity map.
    pub fn staging_rank(self) -> u8 {
        match self {
            SourceKind::FxRates => 0,
            SourceKind::Handoffs => 1,
            SourceKind::Events => 2,
            SourceKind::Tickets => 3,
            SourceKind::Pageviews => 4,
            SourceKind::Nps => 5,
        }
    }

    pub fn fields(self) -> &'static [Field] {
        match self {
            SourceKind::Handoffs => HANDOFFS,
            SourceKind::Tickets => TICKETS,
            SourceKind::Pageviews => PAGEVIEWS,
            SourceKind::Events => EVENTS,
            SourceKind::Nps => NPS,
            SourceKind::FxRates => FX_RATES,
        }
    }

    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.name == name)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a raw text value is converted and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    /// Non-negative 32-bit integer (seats, employees).
    Count,
    /// Non-negative decimal with 6 fractional digits (money).
    Money,
    /// Positive decimal with 10 fractional digits (exchange rates).
    Rate,
    Date,
    Timestamp,
    /// ISO 4217 code, three upper-case letters.
    Currency,
    /// One of the listed values, matched case-insensitively, stored lower case.
    Enum(&'static [&'static str]),
    /// Integer in an inclusive range (NPS score).
    Score {
        min: i32,
        max: i32,
    },
    /// A JSON array of strings, or one string split on commas and spaces.
    Tags,
    /// Nested JSON kept as its text (Segment `properties`, `traits`).
    Json,
}

impl FieldType {
    /// How values of this type are stored in the raw and staged tables.
    pub fn column_type(self) -> ColumnType {
        match self {
            FieldType::Text | FieldType::Json | FieldType::Currency | FieldType::Enum(_) => {
                ColumnType::Text
            }
            FieldType::Count | FieldType::Score { .. } => ColumnType::Int,
            FieldType::Money => ColumnType::Money,
            FieldType::Rate => ColumnType::Rate,
            FieldType::Date => ColumnType::Date,
            FieldType::Timestamp => ColumnType::Timestamp,
            FieldType::Tags => ColumnType::Tags,
        }
    }
}

/// One contract field of a source kind.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
    /// Where the field sits in a Segment or Zendesk NDJSON export (dotted path).
    pub json_path: &'static str,
}

impl Field {
    /// The default column for a format: nested exports use their native paths, flat files
    /// (CSV, Parquet) use the contract name.
    pub fn default_column(&self, nested: bool) -> &'static str {
        if nested { self.json_path } else { self.name }
    }
}

const fn field(name: &'static str, ty: FieldType, required: bool) -> Field {
    Field {
        name,
        ty,
        required,
        json_path: name,
    }
}

const fn nested(name: &'static str, ty: FieldType, required: bool, path: &'static str) -> Field {
    Field {
        name,
        ty,
        required,
        json_path: path,
    }
}

use FieldType::*;

pub const TICKET_STATUSES: &[&str] = &["new", "open", "pending", "hold", "solved", "closed"];
pub const TICKET_PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];
pub const TICKET_TYPES: &[&str] = &["question", "incident", "problem", "task"];
pub const SATISFACTION: &[&str] = &["good", "bad", "offered", "unoffered"];
/// Segment call types an events source carries; `page` calls belong to pageviews.
pub const EVENT_CALLS: &[&str] = &["track", "group", "identify"];
pub const PAGE_CALLS: &[&str] = &["page"];

/// Handoff fields that may also come from `Key: value` lines of the notes.
pub const NOTE_FIELDS: [&str; 5] = ["goal", "kpi", "decision_maker", "champion", "risks"];

static HANDOFFS: &[Field] = &[
    field("deal_id", Text, true),
    field("account_id", Text, true),
    field("account_name", Text, false),
    field("plan", Text, false),
    field("segment", Text, false),
    field("industry", Text, false),
    field("region", Text, false),
    field("employees", Count, false),
    field("seats", Count, false),
    field("start_date", Date, true),
    field("end_date", Date, false),
    field("mrr", Money, false),
    field("arr", Money, false),
    field("currency", Currency, false),
    field("sales_owner", Text, false),
    field("csm_owner", Text, false),
    field("closed_at", Timestamp, false),
    field("updated_at", Timestamp, false),
    field("goal", Text, false),
    field("kpi", Text, false),
    field("decision_maker", Text, false),
    field("champion", Text, false),
    field("risks", Text, false),
    field("notes", Text, false),
];

static TICKETS: &[Field] = &[
    field("id", Text, true),
    nested("account_id", Text, false, "organization_id"),
    field("requester_id", Text, false),
    field("created_at", Timestamp, true),
    field("updated_at", Timestamp, false),
    field("solved_at", Timestamp, false),
    field("status", Enum(TICKET_STATUSES), true),
    field("priority", Enum(TICKET_PRIORITIES), false),
    field("type", Enum(TICKET_TYPES), false),
    field("subject", Text, false),
    field("tags", Tags, false),
    nested(
        "satisfaction",
        Enum(SATISFACTION),
        false,
        "satisfaction_rating.score",
    ),
];

static PAGEVIEWS: &[Field] = &[
    nested("call_type", Enum(PAGE_CALLS), false, "type"),
    nested("message_id", Text, true, "messageId"),
    field("timestamp", Timestamp, true),
    nested("user_id", Text, false, "userId"),
    nested("anonymous_id", Text, false, "anonymousId"),
    nested("account_id", Text, false, "context.groupId"),
    nested("path", Text, false, "properties.path"),
    nested("url", Text, false, "properties.url"),
    nested("title", Text, false, "properties.title"),
    nested("referrer", Text, false, "properties.referrer"),
];

static EVENTS: &[Field] = &[
    nested("call_type", Enum(EVENT_CALLS), false, "type"),
    nested("message_id", Text, true, "messageId"),
    field("timestamp", Timestamp, true),
    nested("user_id", Text, false, "userId"),
    nested("anonymous_id", Text, false, "anonymousId"),
    nested("account_id", Text, false, "context.groupId"),
    field("event", Text, false),
    field("properties", Json, false),
    nested("group_id", Text, false, "groupId"),
    field("traits", Json, false),
];

static NPS: &[Field] = &[
    field("response_id", Text, true),
    field("account_id", Text, false),
    field("user_id", Text, false),
    field("responded_at", Timestamp, true),
    field("score", Score { min: 0, max: 10 }, true),
    field("comment", Text, false),
];

static FX_RATES: &[Field] = &[
    field("date", Date, true),
    field("currency", Currency, true),
    field("rate", Rate, true),
];

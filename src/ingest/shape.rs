//! Turning one source record's converted fields into a row of a raw staged table.
//!
//! Each kind adds what only a row-level view can give: `arr`/12 and the default currency for
//! handoffs, note fields parsed out of the notes, `event_date` in the pipeline timezone, the
//! routing of Segment calls (track → events, group → identities, identify → users), and the
//! rules that tie fields together (mrr or arr; account or user). Deduplication, identity
//! resolution and FX are set-level and belong to `sql/staging`.

use super::notes::NoteParser;
use crate::base::days::{days_to_date, local_date};
use crate::base::decimal::{MONEY_SCALE, divide_rounded};
use crate::base::table_file::{Column, ColumnType, Value};
use crate::config::{Pipeline, Source};
use crate::contract::{NOTE_FIELDS, SourceKind};
use chrono_tz::Tz;

/// A raw staged table: what `sql/staging` reads as `raw_<name>`.
#[derive(Debug, Clone)]
pub struct RawTable {
    pub name: &'static str,
    /// Data columns; the `_file` and `_line` lineage columns follow them.
    pub columns: Vec<Column>,
}

impl RawTable {
    /// Columns of a raw file: data columns then lineage, the source file's id (see
    /// [`crate::ingest::state`]) and the line (or row index). The staging models see
    /// `raw_<name>` with the file's position in path order, `_file_ord`, instead of its id.
    pub fn all_columns(&self) -> Vec<Column> {
        let mut columns = self.columns.clone();
        columns.push(Column::new("_file", ColumnType::Text));
        columns.push(Column::new("_line", ColumnType::Long));
        columns
    }
}

/// Why a record was rejected, and which field.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub field: Option<String>,
    pub reason: String,
}

impl Rejection {
    fn new(field: &str, reason: impl Into<String>) -> Rejection {
        Rejection {
            field: Some(field.to_string()),
            reason: reason.into(),
        }
    }
}

/// Shapes records of one source kind.
pub struct Shaper {
    kind: SourceKind,
    tz: Tz,
    reporting_currency: String,
    notes: NoteParser,
    tables: Vec<RawTable>,
}

/// The raw tables a kind feeds, in the order [`Shaper::shape`] indexes them.
pub fn raw_tables(kind: SourceKind) -> Vec<RawTable> {
    let contract = |kind: SourceKind, skip: &[&str]| -> Vec<Column> {
        kind.fields()
            .iter()
            .filter(|f| !skip.contains(&f.name))
            .map(|f| Column::new(f.name, f.ty.column_type()))
            .collect()
    };
    let named = |names: &[(&str, ColumnType)]| -> Vec<Column> {
        names.iter().map(|(n, t)| Column::new(*n, *t)).collect()
    };
    use ColumnType::*;
    match kind {
        SourceKind::Handoffs => vec![RawTable {
            name: "handoffs",
            columns: contract(kind, &[]),
        }],
        SourceKind::Tickets => vec![RawTable {
            name: "tickets",
            columns: with_local_dates(contract(kind, &[]), &["created_date", "solved_date"]),
        }],
        SourceKind::Pageviews => vec![RawTable {
            name: "pageviews",
            columns: named(&[
                ("message_id", Text),
                ("timestamp", Timestamp),
                ("event_date", Date),
                ("user_id", Text),
                ("anonymous_id", Text),
                ("account_id", Text),
                ("path", Text),
                ("url", Text),
                ("title", Text),
                ("referrer", Text),
                (ID_HASH, Long),
            ]),
        }],
        SourceKind::Events => vec![
            RawTable {
                name: "events",
                columns: named(&[
                    ("message_id", Text),
                    ("timestamp", Timestamp),
                    ("event_date", Date),
                    ("user_id", Text),
                    ("anonymous_id", Text),
                    ("account_id", Text),
                    ("event", Text),
                    ("properties", Text),
                    (ID_HASH, Long),
                ]),
            },
            RawTable {
                name: "identities",
                columns: named(&[
                    ("message_id", Text),
                    ("timestamp", Timestamp),
                    ("user_id", Text),
                    ("account_id", Text),
                    ("traits", Text),
                ]),
            },
            RawTable {
                name: "users",
                columns: named(&[
                    ("message_id", Text),
                    ("timestamp", Timestamp),
                    ("user_id", Text),
                    ("email", Text),
                    ("name", Text),
                    ("role", Text),
                    ("traits", Text),
                ]),
            },
        ],
        SourceKind::Nps => vec![RawTable {
            name: "nps",
            columns: with_local_dates(contract(kind, &[]), &["responded_date"]),
        }],
        SourceKind::FxRates => vec![RawTable {
            name: "fx_rates",
            columns: contract(kind, &[]),
        }],
    }
}

/// The last column of the raw tables ingest appends to (events, page views): a 64-bit hash
/// of `message_id`. A daily run looks for the new ids among every kept raw row; comparing
/// eight bytes a row, then the ids of the few rows whose hash matches, reads a fraction of
/// what comparing every id would.
pub const ID_HASH: &str = "_id_hash";

fn id_hash(message_id: &Value) -> Value {
    match message_id.as_text() {
        Some(id) => Value::Long(crate::base::ids::hash_id(id)),
        None => Value::Null,
    }
}

/// Appends Date columns: the calendar dates of timestamps in the pipeline timezone, which
/// make every as-of comparison a date comparison (contract §3).
fn with_local_dates(mut columns: Vec<Column>, names: &[&str]) -> Vec<Column> {
    columns.extend(names.iter().map(|n| Column::new(*n, ColumnType::Date)));
    columns
}

impl Shaper {
    pub fn new(source: &Source, pipeline: &Pipeline) -> Shaper {
        Shaper {
            kind: source.kind,
            tz: pipeline.timezone,
            reporting_currency: pipeline.reporting_currency.clone(),
            notes: NoteParser::new(&source.note_aliases),
            tables: raw_tables(source.kind),
        }
    }

    pub fn tables(&self) -> &[RawTable] {
        &self.tables
    }

    /// `fields`: converted values in contract order. Returns the raw table index and its
    /// data row (without lineage columns).
    pub fn shape(&self, fields: Vec<Value>) -> Result<(usize, Vec<Value>), Rejection> {
        let record = Record {
            kind: self.kind,
            fields,
        };
        match self.kind {
            SourceKind::Handoffs => self.handoff(record).map(|row| (0, row)),
            SourceKind::Tickets => Ok((0, self.ticket(record))),
            SourceKind::Pageviews => Ok((0, self.pageview(record))),
            SourceKind::Events => self.segment_call(record),
            SourceKind::Nps => self.nps(record).map(|row| (0, row)),
            SourceKind::FxRates => Ok((0, record.fields)),
        }
    }

    fn handoff(&self, mut record: Record) -> Result<Vec<Value>, Rejection> {
        let (start, end) = (record.get("start_date"), record.get("end_date"));
        if let (Value::Date(start), Value::Date(end)) = (start, end)
            && end < start
        {
            return Err(Rejection::new(
                "end_date",
                format!(
                    "`end_date` {} is before `start_date` {}",
                    days_to_date(*end),
                    days_to_date(*start)
                ),
            ));
        }
        let mrr = match (record.get("mrr"), record.get("arr")) {
            (Value::Decimal(mrr), _) => *mrr,
            (Value::Null, Value::Decimal(arr)) => divide_rounded(*arr, 12),
            _ => {
                return Err(Rejection::new(
                    "mrr",
                    "missing required field `mrr` (or `arr` to derive it)",
                ));
            }
        };
        debug_assert_eq!(MONEY_SCALE, 6);
        record.set("mrr", Value::Decimal(mrr));
        if record.get("currency").is_null() {
            record.set("currency", Value::Text(self.reporting_currency.clone()));
        }
        let from_notes = match record.get("notes") {
            Value::Text(notes) => self.notes.parse(notes),
            _ => Default::default(),
        };
        for field in NOTE_FIELDS {
            if record.get(field).is_null()
                && let Some(value) = from_notes.get(field)
            {
                record.set(field, Value::Text(value.clone()));
            }
        }
        Ok(record.fields)
    }

    fn event_date(&self, timestamp: &Value) -> Value {
        match timestamp {
            Value::Timestamp(micros) => Value::Date(local_date(*micros, self.tz)),
            _ => Value::Null,
        }
    }

    fn ticket(&self, mut record: Record) -> Vec<Value> {
        if record.get("priority").is_null() {
            record.set("priority", Value::Text("normal".into()));
        }
        let created = self.event_date(record.get("created_at"));
        let solved = self.event_date(record.get("solved_at"));
        record.fields.extend([created, solved]);
        record.fields
    }

    fn nps(&self, mut record: Record) -> Result<Vec<Value>, Rejection> {
        if record.get("account_id").is_null() && record.get("user_id").is_null() {
            return Err(Rejection::new(
                "account_id",
                "a response needs `account_id` or `user_id`",
            ));
        }
        let responded = self.event_date(record.get("responded_at"));
        record.fields.push(responded);
        Ok(record.fields)
    }

    fn pageview(&self, mut record: Record) -> Vec<Value> {
        let timestamp = record.get("timestamp").clone();
        let id_hash = id_hash(record.get("message_id"));
        vec![
            record.take("message_id"),
            timestamp.clone(),
            self.event_date(&timestamp),
            record.take("user_id"),
            record.take("anonymous_id"),
            record.take("account_id"),
            record.take("path"),
            record.take("url"),
            record.take("title"),
            record.take("referrer"),
            id_hash,
        ]
    }

    fn segment_call(&self, mut record: Record) -> Result<(usize, Vec<Value>), Rejection> {
        let call = match record.get("call_type").as_text() {
            None | Some("track") => "track",
            Some("group") => "group",
            Some(_) => "identify",
        };
        let timestamp = record.get("timestamp").clone();
        match call {
            "track" => {
                record.require("event", "a track call needs `event`")?;
                let id_hash = id_hash(record.get("message_id"));
                Ok((
                    0,
                    vec![
                        record.take("message_id"),
                        timestamp.clone(),
                        self.event_date(&timestamp),
                        record.take("user_id"),
                        record.take("anonymous_id"),
                        record.take("account_id"),
                        record.take("event"),
                        record.take("properties"),
                        id_hash,
                    ],
                ))
            }
            "group" => {
                record.require("user_id", "a group call needs `userId`")?;
                record.require("group_id", "a group call needs `groupId`")?;
                Ok((
                    1,
                    vec![
                        record.take("message_id"),
                        timestamp,
                        record.take("user_id"),
                        record.take("group_id"),
                        record.take("traits"),
                    ],
                ))
            }
            _ => {
                record.require("user_id", "an identify call needs `userId`")?;
                let traits = record.take("traits");
                let trait_of = |name: &str| -> Value {
                    traits
                        .as_text()
                        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                        .and_then(|t| t.get(name).and_then(|v| v.as_str().map(str::to_string)))
                        .map(Value::Text)
                        .unwrap_or(Value::Null)
                };
                Ok((
                    2,
                    vec![
                        record.take("message_id"),
                        timestamp,
                        record.take("user_id"),
                        trait_of("email"),
                        trait_of("name"),
                        trait_of("role"),
                        traits,
                    ],
                ))
            }
        }
    }
}

/// Converted fields of one record, addressed by contract name.
struct Record {
    kind: SourceKind,
    fields: Vec<Value>,
}

impl Record {
    fn index(&self, name: &str) -> usize {
        self.kind
            .fields()
            .iter()
            .position(|f| f.name == name)
            .unwrap_or_else(|| panic!("{} has no field `{name}`", self.kind))
    }

    fn get(&self, name: &str) -> &Value {
        &self.fields[self.index(name)]
    }

    fn set(&mut self, name: &str, value: Value) {
        let index = self.index(name);
        self.fields[index] = value;
    }

    /// Moves a field's value out (rows are built once per record).
    fn take(&mut self, name: &str) -> Value {
        let index = self.index(name);
        std::mem::replace(&mut self.fields[index], Value::Null)
    }

    fn require(&self, name: &str, reason: &str) -> Result<(), Rejection> {
        if self.get(name).is_null() {
            Err(Rejection::new(
                name,
                format!("missing required field: {reason}"),
            ))
        } else {
            Ok(())
        }
    }
}

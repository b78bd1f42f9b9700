//! The `[sources.*]` sections: each validated into a [`Source`] (its kind, the mapping of
//! contract fields to columns, note aliases, limits) with its glob resolved into files, and
//! the set of sources checked (one per kind, a handoffs source).

use super::Problems;
use super::sections::{SourceSection, deserialize_all, suggest};
use crate::contract::{Format, NOTE_FIELDS, SourceKind, SourcePath};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A validated source.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    /// The glob as given, for messages.
    pub path: String,
    /// The format the pipeline file gives, if any (else detected per file).
    pub format: Option<Format>,
    /// Matching files in path order (empty for an object-store URL: listed at ingest).
    pub files: Vec<SourcePath>,
    pub max_bad_rows: u64,
    pub max_bad_ratio: f64,
    /// Field → column overrides; `None` means the source has no such column.
    columns: BTreeMap<String, Option<String>>,
    /// Field → accepted note keys, lower case.
    pub note_aliases: BTreeMap<String, Vec<String>>,
}

impl Source {
    /// Everything in the source's definition that shapes its rows, as text (for the
    /// incremental-ingest fingerprint).
    pub fn definition(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}",
            self.columns, self.note_aliases, self.format
        )
    }

    /// The column (or dotted path) a contract field is read from in a file of this format.
    pub fn column_for(&self, field: &str, format: Format) -> Option<&str> {
        match self.columns.get(field) {
            Some(column) => column.as_deref(),
            None => self
                .kind
                .field(field)
                .map(|f| f.default_column(format.is_nested())),
        }
    }
}

/// English and Japanese spellings of the note keys (contract §1).
fn default_note_aliases() -> BTreeMap<String, Vec<String>> {
    let pairs: [(&str, &[&str]); 5] = [
        ("goal", &["goal", "目標", "ゴール"]),
        ("kpi", &["kpi"]),
        (
            "decision_maker",
            &["decision maker", "決裁者", "意思決定者"],
        ),
        ("champion", &["champion", "推進者"]),
        ("risks", &["risks", "risk", "リスク", "懸念"]),
    ];
    pairs
        .into_iter()
        .map(|(field, keys)| {
            (
                field.to_string(),
                keys.iter().map(|k| k.to_string()).collect(),
            )
        })
        .collect()
}

pub(super) fn check_source_set(sources: &[Source], problems: &mut Problems) {
    for kind in SourceKind::ALL {
        let of_kind: Vec<&Source> = sources.iter().filter(|s| s.kind == kind).collect();
        if of_kind.len() > 1 {
            let names: Vec<&str> = of_kind.iter().map(|s| s.name.as_str()).collect();
            problems.at(
                &["sources", &of_kind[1].name],
                format!(
                    "sources {} are all of kind `{kind}`; one source per kind is supported, \
                     widen one glob to cover every file instead",
                    names.join(", ")
                ),
            );
        }
    }
    if !sources.is_empty() && !sources.iter().any(|s| s.kind == SourceKind::Handoffs) {
        problems.at(
            &["sources"],
            "no source of kind `handoffs`: contracts come from the handoffs; add one",
        );
    }
}

pub(super) fn validate_source(
    name: &str,
    value: &toml::Value,
    data_root: &Path,
    problems: &mut Problems,
) -> Option<Source> {
    let at = ["sources", name];
    let section: SourceSection = deserialize_all(value, &at, problems)?;
    let kind_names: Vec<&str> = SourceKind::ALL.iter().map(|k| k.name()).collect();
    let Some(kind) = SourceKind::parse(&section.kind) else {
        problems.at(
            &["sources", name, "kind"],
            format!(
                "unknown kind `{}` for source `{name}`{}; kinds are {}",
                section.kind,
                suggest(&section.kind, &kind_names),
                kind_names.join(", ")
            ),
        );
        // What does not depend on the kind is still checked: the format and the glob.
        let format = source_format(name, &section, problems).ok()?;
        if let Err(message) = resolve_files(&location(&section, data_root), data_root, format) {
            problems.at(&["sources", name, "path"], message);
        }
        return None;
    };
    let mut ok = true;
    let mut columns = BTreeMap::new();
    let field_names: Vec<&str> = kind.fields().iter().map(|f| f.name).collect();
    for (field, column) in &section.columns {
        match kind.field(field) {
            None => {
                ok = false;
                problems.at(
                    &["sources", name, "columns", field],
                    format!(
                        "`{field}` is not a field of {kind}{}; fields are {}",
                        suggest(field, &field_names),
                        field_names.join(", ")
                    ),
                );
            }
            Some(f) if f.required && column.trim().is_empty() => {
                ok = false;
                problems.at(
                    &["sources", name, "columns", field],
                    format!(
                        "required field `{field}` of {kind} is mapped to nothing; \
                         set it to the column that holds it"
                    ),
                );
            }
            Some(_) => {
                let column = Some(column.trim().to_string()).filter(|c| !c.is_empty());
                columns.insert(field.clone(), column);
            }
        }
    }
    if kind == SourceKind::Handoffs
        && ["mrr", "arr"]
            .iter()
            .all(|f| columns.get(*f).is_some_and(|c| c.is_none()))
    {
        ok = false;
        problems.at(
            &["sources", name, "columns"],
            "handoffs need `mrr` or `arr`; map at least one of them to a column",
        );
    }
    if !(0.0..=1.0).contains(&section.max_bad_ratio) {
        ok = false;
        problems.at(
            &["sources", name, "max_bad_ratio"],
            format!(
                "max_bad_ratio {} is outside 0–1; use a share such as 0.01",
                section.max_bad_ratio
            ),
        );
    }
    let mut note_aliases = default_note_aliases();
    if !section.note_aliases.is_empty() && kind != SourceKind::Handoffs {
        ok = false;
        problems.at(
            &["sources", name, "note_aliases"],
            "note_aliases apply to handoffs sources only; remove it",
        );
    }
    for (field, keys) in &section.note_aliases {
        if NOTE_FIELDS.contains(&field.as_str()) {
            let aliases = note_aliases.entry(field.clone()).or_default();
            aliases.extend(keys.iter().map(|k| k.trim().to_lowercase()));
        } else {
            ok = false;
            problems.at(
                &["sources", name, "note_aliases", field],
                format!(
                    "`{field}` cannot come from notes{}; note fields are {}",
                    suggest(field, &NOTE_FIELDS),
                    NOTE_FIELDS.join(", ")
                ),
            );
        }
    }
    let Ok(format) = source_format(name, &section, problems) else {
        return None;
    };
    let location = location(&section, data_root);
    let files = match resolve_files(&location, data_root, format) {
        Ok(files) => files,
        Err(message) => {
            problems.at(&["sources", name, "path"], message);
            return None;
        }
    };
    let source = Source {
        name: name.to_string(),
        kind,
        path: location,
        format,
        files,
        max_bad_rows: section.max_bad_rows,
        max_bad_ratio: section.max_bad_ratio,
        columns,
        note_aliases,
    };
    ok.then_some(source)
}

/// The format a source's `format` names, if any; `Err` when it names none we read.
fn source_format(
    name: &str,
    section: &SourceSection,
    problems: &mut Problems,
) -> std::result::Result<Option<Format>, ()> {
    match section.format.as_deref().map(Format::parse) {
        Some(None) => {
            problems.at(
                &["sources", name, "format"],
                format!(
                    "unknown format `{}`; use csv, ndjson or parquet, or leave it out to \
                     detect it from the extension",
                    section.format.as_deref().unwrap_or_default()
                ),
            );
            Err(())
        }
        Some(Some(f)) => Ok(Some(f)),
        None => Ok(None),
    }
}

/// A source's glob, under `data_root` when that is an object-store URL and the glob is
/// relative.
fn location(section: &SourceSection, data_root: &Path) -> String {
    match data_root.to_str() {
        Some(root)
            if crate::base::is_url(root)
                && !crate::base::is_url(&section.path)
                && !Path::new(&section.path).is_absolute() =>
        {
            format!("{}/{}", root.trim_end_matches('/'), section.path)
        }
        _ => section.path.clone(),
    }
}

/// Expands a source glob into files in path order, each with its format.
fn resolve_files(
    pattern: &str,
    data_root: &Path,
    format: Option<Format>,
) -> std::result::Result<Vec<SourcePath>, String> {
    if crate::base::is_url(pattern) {
        // Objects are listed when ingest runs (see `ingest::remote`).
        return url::Url::parse(pattern)
            .map(|_| Vec::new())
            .map_err(|e| format!("`{pattern}` is not a valid URL: {e}"));
    }
    let local = pattern.strip_prefix("file://").unwrap_or(pattern);
    let full = if Path::new(local).is_absolute() {
        PathBuf::from(local)
    } else {
        data_root.join(local)
    };
    let full_text = full.to_string_lossy().to_string();
    let paths =
        glob::glob(&full_text).map_err(|e| format!("`{pattern}` is not a valid glob: {e}"))?;
    let mut files = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| format!("cannot list `{pattern}`: {e}"))?;
        if !path.is_file() {
            continue;
        }
        let file = SourcePath::new(path.clone(), format)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        files.push(file);
    }
    if files.is_empty() {
        return Err(format!(
            "no file matches `{pattern}` (looked for `{full_text}`); check `path` (relative \
             paths start at data_root `{}`, which --data-root overrides)",
            data_root.display()
        ));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

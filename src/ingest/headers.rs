//! The CSV headers of a pipeline's local source files, checked before anything runs: a
//! header lacking the column of a required field, or naming a mapped column twice, fails its
//! file at ingest, so `validate` (and every command) says so first, for every file.

use super::reader::{SourceFile, repeated_column};
use crate::config::{Pipeline, Source};
use crate::contract::Format;

/// (source name, problem) for every header problem of the pipeline's CSV files.
pub fn problems(pipeline: &Pipeline) -> Vec<(String, String)> {
    pipeline
        .sources
        .iter()
        .flat_map(|source| {
            source_problems(source)
                .into_iter()
                .map(|problem| (source.name.clone(), problem))
        })
        .collect()
}

/// The header problems of one source's local CSV files.
fn source_problems(source: &Source) -> Vec<String> {
    let mut problems = Vec::new();
    for file in source.files.iter().filter(|f| f.format == Format::Csv) {
        let header = match SourceFile::local(file).csv_header() {
            Ok(Some(header)) => header,
            Ok(None) => continue,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let fields: Vec<&str> = source.kind.fields().iter().map(|f| f.name).collect();
        let columns: Vec<Option<String>> = fields
            .iter()
            .map(|f| source.column_for(f, Format::Csv).map(str::to_string))
            .collect();
        let names = header.iter().map(String::as_str);
        if let Some(problem) = repeated_column(&fields, &columns, names, "header") {
            problems.push(format!("{}: {problem}", file.path.display()));
        }
        for field in source.kind.fields().iter().filter(|f| f.required) {
            if let Some(column) = source.column_for(field.name, Format::Csv)
                && !header.iter().any(|h| h == column)
            {
                problems.push(format!(
                    "{}: header has no column `{column}`, which required field `{}` maps to; \
                     set `{} = \"<column>\"` under [sources.{}.columns]",
                    file.path.display(),
                    field.name,
                    field.name,
                    source.name
                ));
            }
        }
    }
    problems
}

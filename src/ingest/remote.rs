//! Sources in object stores: a source `path` such as `s3://bucket/exports/events-*.ndjson.gz`
//! is listed when ingest runs, and each object to read is downloaded into the run's scratch
//! directory first, so every reader works on a local file. Messages and the quarantine name
//! the object's URL.

use crate::base::error::FromFile;
use crate::base::is_url;
use crate::config::Source;
use crate::engine::warehouse::{download, store_for};
use crate::ingest::reader::SourceFile;
use crate::ingest::state::FileStat;
use crate::ingest::{Error, Result};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use std::path::Path;
use url::Url;

/// The files of a source: as resolved from the pipeline file for local paths, listed now for
/// an object-store URL (in key order).
pub async fn resolve(source: &Source, work: &Path) -> Result<Vec<SourceFile>> {
    if !is_url(&source.path) {
        return Ok(source.files.iter().map(SourceFile::local).collect());
    }
    let url = Url::parse(&source.path)
        .map_err(|e| Error::Source(format!("`{}` is not a valid URL: {e}", source.path)))?;
    let store = store_for(&url)?;
    let key_pattern = url.path().trim_start_matches('/').to_string();
    let decoded = percent_decode(&key_pattern);
    let fixed = decoded
        .find(['*', '?', '['])
        .map(|at| &decoded[..at])
        .unwrap_or(&decoded);
    let prefix = match fixed.rfind('/') {
        Some(at) => ObjectPath::from(&fixed[..at]),
        None => ObjectPath::default(),
    };
    let pattern = glob::Pattern::new(&decoded)
        .map_err(|e| Error::Source(format!("`{}` is not a valid glob: {e}", source.path)))?;
    let objects: Vec<_> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| Error::io(&source.path, format!("cannot list: {e}")))?;
    let base = format!("{}://{}", url.scheme(), url.authority());
    let mut files = Vec::new();
    for meta in objects {
        let key = meta.location.to_string();
        if !pattern.matches(&key) {
            continue;
        }
        let local = work.join("downloads").join(&source.name).join(&key);
        let mut file = SourceFile::new(local, source.format)?;
        file.origin = Some(format!("{base}/{key}"));
        file.remote_stat = Some(FileStat {
            size: meta.size,
            modified: meta.last_modified.timestamp_micros(),
            e_tag: meta.e_tag.clone(),
        });
        files.push(file);
    }
    if files.is_empty() {
        return Err(Error::Source(format!(
            "source `{}`: no object matches `{}`; check `path` and the credentials in the \
             environment",
            source.name, source.path
        )));
    }
    files.sort_by(|a, b| a.origin.cmp(&b.origin));
    Ok(files)
}

/// Downloads an object-store file to its local path; local files need nothing.
pub async fn fetch(file: &SourceFile) -> Result<()> {
    let Some(origin) = &file.origin else {
        return Ok(());
    };
    let url = Url::parse(origin).map_err(|e| Error::io(origin, e))?;
    let store = store_for(&url)?;
    let key = ObjectPath::from(percent_decode(url.path().trim_start_matches('/')));
    Ok(download(&store, &key, &file.path, origin).await?)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(value) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(value);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

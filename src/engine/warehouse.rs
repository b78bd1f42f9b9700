//! Where the output tables live: a local directory or an object-store URL (`s3://`, `gs://`,
//! `az://`), reached through `object_store` with credentials from the usual environment
//! variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
//!
//! Runs compute into a local scratch directory and only ever change the warehouse through
//! [`crate::publish`]; this module is the small set of storage operations publishing, the
//! lock and the incremental-ingest state need. Keys are relative to the warehouse root and
//! use `/`.

use crate::base::error::FromFile;
use crate::config::TableFormat;
use crate::engine::delta::TimeTravel;
use crate::engine::{Error, Result};
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

/// An object store for a URL such as `s3://bucket/prefix`, configured from the environment.
pub fn store_for(url: &Url) -> Result<Arc<dyn ObjectStore>> {
    let fail = |e: object_store::Error| {
        Error::Location(format!(
            "cannot use `{url}`: {e}; check the credentials and endpoint in the environment \
             (AWS_*, GOOGLE_*, AZURE_* variables)"
        ))
    };
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "s3" | "s3a" => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(fail)?,
        ),
        "gs" => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(fail)?,
        ),
        "az" | "azure" | "abfs" | "abfss" => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(fail)?,
        ),
        other => {
            return Err(Error::Location(format!(
                "`{url}`: unsupported scheme `{other}://`; use a local path, s3://, gs:// or az://"
            )));
        }
    };
    Ok(store)
}

/// The warehouse a pipeline writes to.
#[derive(Clone)]
pub struct Warehouse {
    /// As given, for messages.
    pub location: String,
    store: Arc<dyn ObjectStore>,
    /// The warehouse root inside the store.
    root: ObjectPath,
    /// `scheme://authority` of the store, for registering it with DataFusion.
    base: Url,
    /// The directory, when the warehouse is local.
    local: Option<PathBuf>,
    /// How its tables are written.
    format: TableFormat,
    /// Which version of its Delta tables reads see (the newest without one).
    travel: Option<TimeTravel>,
}

impl std::fmt::Debug for Warehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Warehouse({})", self.location)
    }
}

impl Warehouse {
    /// Opens a warehouse; a local directory is created if missing.
    pub fn open(location: &Path) -> Result<Warehouse> {
        let text = location.to_string_lossy().to_string();
        if crate::base::is_url(&text) {
            let url = Url::parse(&text)
                .map_err(|e| Error::Location(format!("warehouse `{text}` is not a URL: {e}")))?;
            let store = store_for(&url)?;
            let root = ObjectPath::from_url_path(url.path())
                .map_err(|e| Error::Location(format!("warehouse `{text}`: {e}")))?;
            let base = Url::parse(&format!("{}://{}", url.scheme(), url.authority()))
                .map_err(|e| Error::Location(format!("warehouse `{text}`: {e}")))?;
            return Ok(Warehouse {
                location: text.trim_end_matches('/').to_string(),
                store,
                root,
                base,
                local: None,
                format: TableFormat::default(),
                travel: None,
            });
        }
        let dir = PathBuf::from(text.strip_prefix("file://").unwrap_or(&text));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let dir = dir.canonicalize().map_err(|e| Error::io(&dir, e))?;
        let store = LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .with_automatic_cleanup(true);
        Ok(Warehouse {
            location: location.display().to_string(),
            store: Arc::new(store),
            root: ObjectPath::default(),
            base: Url::parse("file:///").expect("a valid URL"),
            local: Some(dir),
            format: TableFormat::default(),
            travel: None,
        })
    }

    /// The warehouse, its tables written as `format`.
    pub fn with_format(mut self, format: TableFormat) -> Warehouse {
        self.format = format;
        self
    }

    pub fn format(&self) -> TableFormat {
        self.format
    }

    /// The warehouse as reads see it at `travel` (Delta tables only).
    pub fn at(mut self, travel: Option<TimeTravel>) -> Warehouse {
        self.travel = travel;
        self
    }

    pub fn travel(&self) -> Option<TimeTravel> {
        self.travel
    }

    /// The store with `/` at its root (the bucket's, for an object store).
    pub(crate) fn root_store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The local directory of a local warehouse.
    pub fn local(&self) -> Option<&Path> {
        self.local.as_deref()
    }

    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    fn key(&self, rel: &str) -> ObjectPath {
        let mut key = self.root.clone();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            key = key.join(part);
        }
        key
    }

    /// `key` relative to `base`.
    fn relative(key: &ObjectPath, base: &ObjectPath) -> String {
        match key.prefix_match(base) {
            Some(parts) => parts
                .map(|p| p.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/"),
            None => key.to_string(),
        }
    }

    /// The location of `rel` for messages and for DataFusion's table paths.
    pub fn url_of(&self, rel: &str) -> String {
        match &self.local {
            Some(dir) => dir.join(rel).display().to_string(),
            None => format!("{}/{}", self.location, rel.trim_start_matches('/')),
        }
    }

    /// Lets DataFusion read this warehouse's tables.
    pub fn register_with(&self, ctx: &SessionContext) {
        if self.local.is_none() {
            ctx.register_object_store(&self.base, self.store.clone());
        }
    }

    fn error(&self, rel: &str, e: impl std::fmt::Display) -> Error {
        Error::io(self.url_of(rel), e)
    }

    /// Whether any object exists at or under `rel`.
    pub async fn exists(&self, rel: &str) -> Result<bool> {
        if let Some(dir) = &self.local {
            return Ok(dir.join(rel).exists());
        }
        let key = self.key(rel);
        let mut listing = self.store.list(Some(&key));
        match listing.next().await {
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(self.error(rel, e)),
            None => match self.store.head(&key).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(self.error(rel, e)),
            },
        }
    }

    /// Every object under `rel`, with keys relative to `rel`, sorted.
    pub async fn list(&self, rel: &str) -> Result<Vec<Entry>> {
        let key = self.key(rel);
        let mut entries: Vec<Entry> = self
            .store
            .list(Some(&key))
            .map_ok(|meta| Entry {
                key: Self::relative(&meta.location, &key),
                size: meta.size,
                modified: meta.last_modified.timestamp_micros(),
                e_tag: meta.e_tag,
            })
            .try_collect()
            .await
            .or_else(|e| match e {
                object_store::Error::NotFound { .. } => Ok(Vec::new()),
                e => Err(self.error(rel, e)),
            })?;
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(entries)
    }

    /// The names of the "directories" directly under `rel`.
    pub async fn list_dirs(&self, rel: &str) -> Result<Vec<String>> {
        let key = self.key(rel);
        match self.store.list_with_delimiter(Some(&key)).await {
            Ok(listing) => Ok(listing
                .common_prefixes
                .iter()
                .filter_map(|p| p.filename().map(str::to_string))
                .collect()),
            Err(object_store::Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(self.error(rel, e)),
        }
    }

    /// The bytes of a small object, or `None` when it does not exist.
    pub async fn get(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        match self.store.get(&self.key(rel)).await {
            Ok(result) => {
                let bytes = result.bytes().await.map_err(|e| self.error(rel, e))?;
                Ok(Some(bytes.to_vec()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(rel, e)),
        }
    }

    /// Writes a small object whole (a single put: readers see the old or the new bytes).
    pub async fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&self.key(rel), PutPayload::from(bytes))
            .await
            .map_err(|e| self.error(rel, e))?;
        Ok(())
    }

    /// Writes an object only if none exists; `false` when one does.
    pub async fn put_new(&self, rel: &str, bytes: Vec<u8>) -> Result<bool> {
        let options = object_store::PutOptions::from(PutMode::Create);
        match self
            .store
            .put_opts(&self.key(rel), PutPayload::from(bytes), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.error(rel, e)),
        }
    }

    /// Deletes one object; a missing one is not an error.
    pub async fn delete(&self, rel: &str) -> Result<()> {
        match self.store.delete(&self.key(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(rel, e)),
        }
    }

    /// Deletes everything under `rel`.
    pub async fn delete_tree(&self, rel: &str) -> Result<()> {
        if let Some(dir) = &self.local {
            let path = dir.join(rel);
            return match std::fs::remove_dir_all(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::io(&path, e)),
            };
        }
        for entry in self.list(rel).await? {
            self.delete(&format!("{rel}/{}", entry.key)).await?;
        }
        Ok(())
    }

    /// Copies a local file to `rel`, streaming it in parts.
    pub async fn upload(&self, file: &Path, rel: &str) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut source = tokio::fs::File::open(file)
            .await
            .map_err(|e| Error::io(file, e))?;
        let mut writer = object_store::buffered::BufWriter::new(self.store.clone(), self.key(rel));
        tokio::io::copy(&mut source, &mut writer)
            .await
            .map_err(|e| self.error(rel, e))?;
        writer.shutdown().await.map_err(|e| self.error(rel, e))?;
        Ok(())
    }

    /// Copies an object to a local file.
    pub async fn download(&self, rel: &str, file: &Path) -> Result<()> {
        download(&self.store, &self.key(rel), file, &self.url_of(rel)).await
    }

    /// Makes `to` hold what `from` holds, atomically for readers of `to`: a rename in a
    /// local directory, a server-side copy in an object store. Returns `false` when `from`
    /// no longer exists (a local rename already done).
    pub async fn promote(&self, from: &str, to: &str) -> Result<bool> {
        let (from_key, to_key) = (self.key(from), self.key(to));
        let done = if self.local.is_some() {
            self.store.rename(&from_key, &to_key).await
        } else {
            self.store.copy(&from_key, &to_key).await
        };
        match done {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error(to, e)),
        }
    }
}

/// One object of a listing.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Relative to the listed root.
    pub key: String,
    pub size: u64,
    /// Microseconds since the epoch.
    pub modified: i64,
    pub e_tag: Option<String>,
}

/// Streams an object into a local file.
pub async fn download(
    store: &Arc<dyn ObjectStore>,
    key: &ObjectPath,
    file: &Path,
    name: &str,
) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let result = store.get(key).await.map_err(|e| Error::io(name, e))?;
    let mut stream = result.into_stream();
    let mut out = tokio::fs::File::create(file)
        .await
        .map_err(|e| Error::io(file, e))?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::io(name, e))?;
        out.write_all(&chunk)
            .await
            .map_err(|e| Error::io(file, e))?;
    }
    out.flush().await.map_err(|e| Error::io(file, e))?;
    Ok(())
}

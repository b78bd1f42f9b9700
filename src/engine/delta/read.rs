//! Reading a Delta table through its log: registered with a session at its newest version
//! or the one a [`TimeTravel`] names, its columns read as the caller's types.

use super::{LOG_DIR, TimeTravel, delta_error, load};
use crate::engine::{EngineContext, Result};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::{SessionContext, cast, col};
use deltalake::ObjectStore;
use futures::StreamExt;
use std::sync::Arc;
use url::Url;

/// Whether the table at `location` (a local directory or a URL of a store registered with
/// `ctx`) is a Delta table; its store when it is one.
async fn delta_at(
    ctx: &SessionContext,
    location: &str,
) -> Result<Option<Option<Arc<dyn ObjectStore>>>> {
    if !crate::base::is_url(location) {
        let dir = std::path::Path::new(location.strip_prefix("file://").unwrap_or(location));
        return Ok(dir.join(LOG_DIR).is_dir().then_some(None));
    }
    let url = Url::parse(location).map_err(|e| delta_error(location, e))?;
    let Ok(store) = ctx.runtime_env().object_store(
        datafusion::execution::object_store::ObjectStoreUrl::parse(
            &url[..url::Position::BeforePath],
        )
        .map_err(|e| delta_error(location, e))?,
    ) else {
        return Ok(None);
    };
    let log = object_store::path::Path::from_url_path(format!(
        "{}/{LOG_DIR}",
        url.path().trim_end_matches('/')
    ))
    .map_err(|e| delta_error(location, e))?;
    match store.list(Some(&log)).next().await {
        Some(Ok(_)) => Ok(Some(Some(store))),
        Some(Err(e)) => Err(delta_error(location, e)),
        None => Ok(None),
    }
}

/// What [`register`] found at a location.
#[derive(Debug, PartialEq, Eq)]
pub enum Registered {
    Yes,
    /// The location holds no Delta table.
    NotDelta,
    /// The table has no version at the time travel asked (it is younger, say): why.
    NotThen(String),
}

/// Registers the Delta table at `location` as `name` when it is one, reading the columns
/// as `schema` (the file columns, then the partition column) where given, and string views
/// as strings.
pub async fn register(
    ctx: &SessionContext,
    name: &str,
    location: &str,
    schema: Option<&Schema>,
    travel: Option<TimeTravel>,
) -> Result<Registered> {
    let Some(store) = delta_at(ctx, location).await? else {
        return Ok(Registered::NotDelta);
    };
    let table = match load(location, store, travel).await {
        Ok(table) => table,
        Err(e) if travel.is_some() => return Ok(Registered::NotThen(e.to_string())),
        Err(e) => return Err(e),
    };
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| delta_error(location, e))?;
    let provider = table
        .table_provider()
        .await
        .context(format!("reading the Delta table {location}"))?;
    let df = ctx
        .read_table(provider)
        .context(format!("reading the Delta table {location}"))?;
    let wanted: Vec<Field> = match schema {
        Some(schema) => schema.fields().iter().map(|f| f.as_ref().clone()).collect(),
        None => df
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect(),
    };
    let columns = wanted
        .iter()
        .map(|field| {
            let ty = match field.data_type() {
                DataType::Utf8View => DataType::Utf8,
                other => other.clone(),
            };
            cast(col(format!("\"{}\"", field.name())), ty).alias(field.name())
        })
        .collect::<Vec<_>>();
    let df = df
        .select(columns)
        .context(format!("reading the Delta table {location}"))?;
    ctx.register_table(name, df.into_view())
        .context(format!("registering {name} at {location}"))?;
    Ok(Registered::Yes)
}

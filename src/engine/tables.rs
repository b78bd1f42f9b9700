//! Registering tables with a session: a directory written by [`super::write_table`], at a
//! local path or an object-store URL, with its partition column and, where asked, the column
//! types to read it with. A Delta table is read through its log, any other directory as the
//! Parquet files under it.

use super::delta::{Registered, TimeTravel};
use super::warehouse::Warehouse;
use crate::engine::EngineContext;
use crate::engine::Result;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use std::path::Path;

/// Registers a table directory written by [`write_table`].
pub async fn register_table(
    ctx: &SessionContext,
    name: &str,
    dir: &Path,
    partition: Option<(&str, DataType)>,
) -> Result<()> {
    register_location(ctx, name, &dir.display().to_string(), partition).await
}

/// Registers a table written by [`write_table`] at a local path or an object-store URL
/// (whose store is registered with the session).
pub async fn register_location(
    ctx: &SessionContext,
    name: &str,
    location: &str,
    partition: Option<(&str, DataType)>,
) -> Result<()> {
    register_location_typed(ctx, name, location, None, partition).await
}

/// [`register_location`], reading the files' columns as `schema` (the columns of the files,
/// without the partition column) when given: tables meant for a union with rows of those
/// types then need no coercion.
pub async fn register_location_typed(
    ctx: &SessionContext,
    name: &str,
    location: &str,
    schema: Option<&Schema>,
    partition: Option<(&str, DataType)>,
) -> Result<()> {
    register_at(ctx, name, location, schema, partition, None).await
}

/// [`register_location_typed`] at a version of a Delta table.
async fn register_at(
    ctx: &SessionContext,
    name: &str,
    location: &str,
    schema: Option<&Schema>,
    partition: Option<(&str, DataType)>,
    travel: Option<TimeTravel>,
) -> Result<()> {
    let delta_schema = schema.map(|schema| {
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        if let Some((column, ty)) = &partition {
            fields.push(Field::new(*column, ty.clone(), true));
        }
        Schema::new(fields)
    });
    match super::delta::register(ctx, name, location, delta_schema.as_ref(), travel).await? {
        Registered::Yes => return Ok(()),
        Registered::NotThen(why) => {
            crate::base::log::warn(&format!("{name} is left out: {why}"));
            return Ok(());
        }
        Registered::NotDelta if travel.is_some() => {
            return Err(crate::engine::Error::Location(format!(
                "{name} at {location} is a Parquet table, which keeps no old versions; \
                 time travel reads Delta tables (table_format = \"delta\")"
            )));
        }
        Registered::NotDelta => {}
    }
    let partition_cols: Vec<(String, DataType)> = partition
        .into_iter()
        .map(|(column, ty)| (column.to_string(), ty))
        .collect();
    let mut options = ParquetReadOptions::default().table_partition_cols(partition_cols);
    if let Some(schema) = schema {
        options = options.schema(schema);
    }
    let path = format!("{}/", location.trim_end_matches('/'));
    ctx.register_parquet(name, &path, options)
        .await
        .context(format!("registering {name} at {location}"))
}

/// Registers the warehouse table `name` under that name, if it has been published.
pub async fn register_published(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    name: &str,
    partition: Option<(&str, DataType)>,
) -> Result<()> {
    if warehouse.exists(name).await? {
        let location = warehouse.url_of(name);
        register_at(ctx, name, &location, None, partition, warehouse.travel()).await?;
    }
    Ok(())
}

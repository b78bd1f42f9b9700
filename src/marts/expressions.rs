//! Safe SQL expressions from the pipeline file: maturity and touch rules, health metrics,
//! playbook conditions and message placeholders.
//!
//! An expression must parse as exactly one SQL expression (no statement, no second
//! expression, no subquery), name only columns of the row it is evaluated on, and plan in
//! DataFusion against that row's schema. Nothing is executed here.

use crate::engine;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::sql::sqlparser::ast::{Expr, visit_expressions};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;
use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::Arc;

/// Checks one expression; returns the columns it names, or what is wrong.
pub fn parse(text: &str) -> Result<BTreeSet<String>, String> {
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(text)
        .map_err(|e| format!("`{text}` is not SQL: {e}"))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| format!("`{text}` is not an SQL expression: {e}"))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(format!(
            "`{text}` must be a single expression; found `{}` after it (statements and lists are not allowed)",
            next.token
        ));
    }
    let mut columns = BTreeSet::new();
    let mut forbidden = None;
    let _ = visit_expressions(&expr, |e| {
        match e {
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => {
                forbidden = Some("subqueries are not allowed");
                return ControlFlow::Break(());
            }
            Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => {
                forbidden = Some("`*` is not allowed");
                return ControlFlow::Break(());
            }
            Expr::Identifier(ident) => {
                columns.insert(ident.value.to_lowercase());
            }
            Expr::CompoundIdentifier(parts) => {
                forbidden = Some("qualified names are not allowed; name the column alone");
                let _ = parts;
                return ControlFlow::Break(());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    });
    if let Some(why) = forbidden {
        return Err(format!("`{text}`: {why}"));
    }
    Ok(columns)
}

/// Checks an expression against the columns of the row it runs on, then plans it.
pub async fn check(
    text: &str,
    row: &SchemaRef,
    expect_boolean: bool,
) -> Result<BTreeSet<String>, String> {
    let columns = parse(text)?;
    let known: Vec<&str> = row.fields().iter().map(|f| f.name().as_str()).collect();
    let unknown: Vec<&String> = columns
        .iter()
        .filter(|c| !known.contains(&c.as_str()))
        .collect();
    if !unknown.is_empty() {
        let names = unknown
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(format!(
            "`{text}` names unknown column(s) {names}; columns are: {}",
            known.join(", ")
        ));
    }
    let ctx = engine::session();
    super::register_functions(&ctx);
    let table = MemTable::try_new(row.clone(), vec![vec![]]).map_err(|e| e.to_string())?;
    ctx.register_table("subject", Arc::new(table))
        .map_err(|e| e.to_string())?;
    let df = ctx
        .sql(&format!("select ({text}) as value from subject"))
        .await
        .map_err(|e| format!("`{text}` does not plan: {}", first_line(&e.to_string())))?;
    if expect_boolean {
        let ty = df.schema().field(0).data_type().clone();
        if ty != datafusion::arrow::datatypes::DataType::Boolean {
            return Err(format!("`{text}` must be true or false, but gives {ty}"));
        }
    }
    Ok(columns)
}

/// The columns of `schema` without `excluded`.
pub fn without(schema: &Schema, excluded: &[&str]) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .filter(|f| !excluded.contains(&f.name().as_str()))
            .cloned()
            .collect::<Vec<_>>(),
    ))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// The `{column}` placeholders of a message template, in order.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("message `{template}` has a `{{` without its `}}`"))?;
        names.push(after[..close].trim().to_string());
        rest = &after[close + 1..];
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_only() {
        assert_eq!(
            parse("mrr >= 2000 or segment = 'enterprise'").unwrap(),
            BTreeSet::from(["mrr".to_string(), "segment".to_string()])
        );
        let rejected = [
            ("mrr > 1; drop table x", "must be a single expression"),
            ("select 1", "must be a single expression"),
            (
                "mrr > (select max(mrr) from customer_daily)",
                "subqueries are not allowed",
            ),
            ("exists (select 1)", "subqueries are not allowed"),
            ("c.mrr > 1", "qualified names are not allowed"),
            ("mrr >", "is not an SQL expression"),
        ];
        for (text, why) in rejected {
            let err = parse(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn placeholders_are_listed() {
        assert_eq!(
            placeholders("{account_name} fell {delta_30d} points").unwrap(),
            vec!["account_name", "delta_30d"]
        );
        assert!(placeholders("broken {x").is_err());
    }
}

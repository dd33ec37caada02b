//! The expression language of tables: SQL expressions, as polars SQL reads them.
//!
//! One language everywhere: a Rust guest, a guest in any other language and a
//! Rhai script all pass expressions as text (`revenue > 0 AND region = 'north'`,
//! `revenue * 1.2 AS gross`), and the host turns them into polars expressions.
//! Aggregations are expressions too (`SUM(revenue)`, `COUNT(DISTINCT product)`);
//! the short forms `sum(x)`, `mean(x)`, `min(x)`, `max(x)`, `count(x)`,
//! `n_unique(x)`, `first(x)`, `last(x)` and `median(x)` name one column.
//!
//! Nothing in an expression or a query may reach outside the tables it is
//! given: table functions (`read_csv('...')` and friends) and statements other
//! than `SELECT` are refused before polars sees the text.

use std::ops::ControlFlow;

use polars::prelude::{Expr, col};
use sqlparser::ast::{Statement, TableFactor, Visit, Visitor};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::TableError;

/// Longest expression or query accepted, in bytes.
pub const MAX_TEXT: usize = 64 << 10;

/// Parse one expression (optionally `... AS name`).
pub fn parse(text: &str) -> Result<Expr, TableError> {
    let text = text.trim();
    check_length(text)?;
    if text.is_empty() {
        return Err(TableError::new("an empty expression"));
    }
    if let Some(column) = plain_column(text) {
        return Ok(col(column));
    }
    // Parse once ourselves to refuse subqueries (they could name table functions).
    let mut parser = Parser::new(&GenericDialect)
        .try_with_sql(text)
        .map_err(|e| TableError::new(format!("in expression `{text}`: {e}")))?;
    let item =
        parser.parse_select_item().map_err(|e| TableError::new(format!("in expression `{text}`: {e}")))?;
    let mut guard = Guard { problem: None, in_expression: true, tables: 0 };
    let _ = item.visit(&mut guard);
    if let Some(problem) = guard.problem {
        return Err(TableError::new(format!("in expression `{text}`: {problem}")));
    }
    super::guarded(|| polars::sql::sql_expr(text))
        .map_err(|e| TableError::new(format!("in expression `{text}`: {}", e.message)))
}

/// Parse an aggregation: a short form (`sum(revenue)`) or any SQL aggregate expression.
pub fn parse_agg(text: &str) -> Result<Expr, TableError> {
    let trimmed = text.trim();
    if let Some((func, arg)) = trimmed.strip_suffix(')').and_then(|t| t.split_once('(')) {
        let (func, arg) = (func.trim().to_ascii_lowercase(), arg.trim());
        if let Some(column) = plain_column(arg) {
            let c = col(column);
            let short = match func.as_str() {
                "sum" => Some(c.sum()),
                "mean" | "avg" => Some(c.mean()),
                "min" => Some(c.min()),
                "max" => Some(c.max()),
                "count" => Some(c.count()),
                "n_unique" => Some(c.n_unique()),
                "first" => Some(c.first()),
                "last" => Some(c.last()),
                "median" => Some(c.median()),
                _ => None,
            };
            if let Some(expr) = short {
                return Ok(expr);
            }
        }
    }
    parse(text)
}

/// Refuse a query that is not one `SELECT` over the named tables.
/// Check a query; returns how many times it names a table (each may be
/// expanded at every place it is named).
pub fn check_query(query: &str) -> Result<usize, TableError> {
    check_length(query)?;
    let statements =
        Parser::parse_sql(&GenericDialect, query).map_err(|e| TableError::new(format!("in SQL: {e}")))?;
    let [statement] = statements.as_slice() else {
        return Err(TableError::new(format!(
            "SQL must be exactly one SELECT statement (found {})",
            statements.len()
        )));
    };
    if !matches!(statement, Statement::Query(_)) {
        return Err(TableError::new("SQL must be a SELECT query; other statements are not allowed"));
    }
    let mut guard = Guard::default();
    let _ = statement.visit(&mut guard);
    match guard.problem {
        Some(problem) => Err(TableError::new(format!("in SQL: {problem}"))),
        None => Ok(guard.tables),
    }
}

fn check_length(text: &str) -> Result<(), TableError> {
    if text.len() > MAX_TEXT {
        return Err(TableError::new(format!(
            "an expression of {} bytes; the limit is {} KiB",
            text.len(),
            MAX_TEXT >> 10
        )));
    }
    Ok(())
}

/// `name` or `"quoted name"`: a column reference needing no parser.
fn plain_column(text: &str) -> Option<&str> {
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return (!inner.contains('"')).then_some(inner);
    }
    let mut chars = text.chars();
    let first = chars.next()?;
    ((first.is_alphabetic() || first == '_') && chars.all(|c| c.is_alphanumeric() || c == '_'))
        .then_some(text)
        .filter(|t| !is_keyword(t))
}

fn is_keyword(word: &str) -> bool {
    matches!(word.to_ascii_uppercase().as_str(), "NULL" | "TRUE" | "FALSE")
}

#[derive(Default)]
struct Guard {
    problem: Option<String>,
    in_expression: bool,
    /// Tables named (`FROM t`, `JOIN t`).
    tables: usize,
}

impl Visitor for Guard {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        let allowed = match factor {
            TableFactor::Table { args, .. } => {
                self.tables += 1;
                args.is_none()
            }
            TableFactor::Derived { .. } | TableFactor::NestedJoin { .. } => true,
            _ => false,
        };
        if allowed {
            ControlFlow::Continue(())
        } else {
            self.problem = Some(format!(
                "`{factor}` is not allowed: a query may only read the tables passed to it \
                 (table functions such as read_csv cannot reach files)"
            ));
            ControlFlow::Break(())
        }
    }

    fn pre_visit_query(&mut self, _query: &sqlparser::ast::Query) -> ControlFlow<()> {
        if self.in_expression {
            self.problem = Some("subqueries are not allowed in expressions (use `sql`)".into());
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

//! Playbook rules compiled into SQL: one branch per rule over `subject` (the customer row
//! joined to its health row), unioned into `playbook_actions`.
//!
//! A rule fires for an account on a date when its condition holds; the message fills the
//! template's `{column}` placeholders and the evidence lists the values of the columns its
//! condition names. Expressions are checked beforehand by `expressions`.

use super::expressions;
use crate::config::PlaybookRule;

/// The query producing `playbook_actions` from `subject`.
pub fn playbook_sql(rules: &[PlaybookRule]) -> Result<String, String> {
    if rules.is_empty() {
        // A rule that never fires keeps the table's schema.
        return branch_sql(&empty_rule());
    }
    let branches = rules
        .iter()
        .map(branch_sql)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!(
        "-- playbook_actions: one row per account, as_of_date and rule that fired.\n{}",
        branches.join("\nunion all\n")
    ))
}

fn empty_rule() -> PlaybookRule {
    PlaybookRule {
        id: "none".into(),
        when: "false".into(),
        severity: "low".into(),
        touch: None,
        message: String::new(),
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn display(column: &str) -> String {
    format!("coalesce(cast({column} as varchar), 'n/a')")
}

fn branch_sql(rule: &PlaybookRule) -> Result<String, String> {
    let mut parts = Vec::new();
    let mut rest = rule.message.as_str();
    for name in expressions::placeholders(&rule.message)? {
        let marker = rest.find('{').expect("placeholder found above");
        let close = rest[marker..].find('}').expect("closing brace found above") + marker;
        parts.push(quote(&rest[..marker]));
        parts.push(display(&name));
        rest = &rest[close + 1..];
    }
    parts.push(quote(rest));
    let evidence: Vec<String> = expressions::parse(&rule.when)?
        .into_iter()
        .map(|column| {
            format!(
                "concat({}, {})",
                quote(&format!("{column}=")),
                display(&column)
            )
        })
        .collect();
    let evidence = if evidence.is_empty() {
        "''".to_string()
    } else {
        format!("concat_ws(', ', {})", evidence.join(", "))
    };
    let touch = rule
        .touch
        .as_deref()
        .map_or("touch_model".to_string(), quote);
    Ok(format!(
        "select account_id, as_of_date, {id} as rule_id, {severity} as severity, \
         {touch} as touch, csm_owner as owner, concat({message}) as message, \
         {evidence} as evidence\nfrom subject\nwhere coalesce(({when}), false)",
        id = quote(&rule.id),
        severity = quote(&rule.severity),
        message = parts.join(", "),
        when = rule.when,
    ))
}

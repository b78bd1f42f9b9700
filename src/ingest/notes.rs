//! Parsing `Key: value` lines out of free-text sales handoff notes (contract §1).
//!
//! Keys are matched case-insensitively against configured aliases (English and Japanese by
//! default), with an ASCII or full-width colon; the first matching line wins. This module
//! only reads text: whether a column beats the note is the caller's rule.

use std::collections::BTreeMap;

/// Finds note fields by their aliases.
pub struct NoteParser {
    /// (normalized alias, index of the field in `fields`)
    aliases: Vec<(String, usize)>,
    fields: Vec<String>,
}

impl NoteParser {
    /// `aliases`: field name → accepted keys.
    pub fn new(aliases: &BTreeMap<String, Vec<String>>) -> NoteParser {
        let fields: Vec<String> = aliases.keys().cloned().collect();
        let aliases = aliases
            .values()
            .enumerate()
            .flat_map(|(index, keys)| keys.iter().map(move |k| (normalize_key(k), index)))
            .collect();
        NoteParser { aliases, fields }
    }

    /// The value of each field found in `notes`, by field name.
    pub fn parse(&self, notes: &str) -> BTreeMap<&str, String> {
        let mut found = BTreeMap::new();
        for line in notes.lines() {
            let Some((key, value)) = split_key_value(line) else {
                continue;
            };
            let key = normalize_key(key);
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            if let Some((_, index)) = self.aliases.iter().find(|(alias, _)| *alias == key) {
                found
                    .entry(self.fields[*index].as_str())
                    .or_insert_with(|| value.to_string());
            }
        }
        found
    }
}

/// Splits at the first ASCII or full-width colon.
fn split_key_value(line: &str) -> Option<(&str, &str)> {
    let at = line.find([':', '：'])?;
    let colon_len = line[at..].chars().next()?.len_utf8();
    Some((&line[..at], &line[at + colon_len..]))
}

/// Lower case, bullets stripped, `_`/`-` and runs of spaces (ASCII or full-width) as one space.
fn normalize_key(key: &str) -> String {
    let key = key.trim_start_matches(|c: char| c.is_whitespace() || "-*•・".contains(c));
    key.to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> NoteParser {
        let mut aliases = BTreeMap::new();
        aliases.insert("goal".to_string(), vec!["Goal".into(), "目標".into()]);
        aliases.insert(
            "decision_maker".to_string(),
            vec!["decision maker".into(), "決裁者".into()],
        );
        NoteParser::new(&aliases)
    }

    #[test]
    fn english_and_japanese_keys_with_either_colon() {
        let notes = "Met the team.\nGOAL : Cut churn\n 決裁者 ：山田 太郎\nGoal: second";
        let parser = parser();
        let found = parser.parse(notes);
        assert_eq!(found["goal"], "Cut churn");
        assert_eq!(found["decision_maker"], "山田 太郎");
    }

    #[test]
    fn bullets_and_separators_are_tolerated() {
        let parser = parser();
        let found = parser.parse("- Decision_maker: Jane Doe (VP Ops)\n目標：\n");
        assert_eq!(found["decision_maker"], "Jane Doe (VP Ops)");
        assert!(!found.contains_key("goal"), "an empty value is not a value");
    }
}

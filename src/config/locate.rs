//! Finds the line of a key in a TOML document, so problems can say where they are.
//!
//! A deliberately small scanner: it understands `[table]` headers and `key = value` lines
//! (dotted and quoted keys included), which is all a pipeline file uses. It never fails; a
//! key it cannot find is reported at the line of its nearest enclosing table.

/// 1-based line of `path` in `text`; the closest enclosing table's line when absent.
pub fn line_of(text: &str, path: &[&str]) -> usize {
    let mut header: Vec<String> = Vec::new();
    let mut best = (0usize, 1usize); // (matched depth, line)
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let number = index + 1;
        if line.starts_with('[') {
            let inner = line.trim_start_matches('[').split(']').next().unwrap_or("");
            header = split_key(inner);
            consider(&header, path, number, &mut best);
        } else if let Some((key, _)) = line.split_once('=')
            && !line.starts_with('#')
        {
            let mut full = header.clone();
            full.extend(split_key(key));
            consider(&full, path, number, &mut best);
        }
    }
    best.1
}

/// 1-based line where `value` first appears in `text` (1 when absent).
pub fn line_of_text(text: &str, value: &str) -> usize {
    let needle = value.lines().next().unwrap_or(value);
    text.lines()
        .position(|line| !needle.is_empty() && line.contains(needle))
        .map_or(1, |index| index + 1)
}

fn consider(candidate: &[String], path: &[&str], line: usize, best: &mut (usize, usize)) {
    let depth = candidate
        .iter()
        .zip(path)
        .take_while(|(a, b)| a.as_str() == **b)
        .count();
    // Only prefixes of the wanted path count; the first line at the deepest match wins.
    if depth == candidate.len().min(path.len()) && depth > best.0 {
        *best = (depth, line);
    }
}

fn split_key(key: &str) -> Vec<String> {
    key.split('.')
        .map(|part| part.trim().trim_matches('"').trim_matches('\'').to_string())
        .filter(|part| !part.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const DOC: &str = "[pipeline]\nname = \"x\"\n\n[sources.tickets]\nkind = \"tickets\"\ncolums = 1\n[sources.tickets.columns]\nid = \"ticket_id\"\n";

    #[test]
    fn finds_keys_and_tables() {
        assert_eq!(line_of(DOC, &["pipeline", "name"]), 2);
        assert_eq!(line_of(DOC, &["sources", "tickets", "colums"]), 6);
        assert_eq!(line_of(DOC, &["sources", "tickets", "columns", "id"]), 8);
        assert_eq!(line_of(DOC, &["sources", "tickets", "missing"]), 4);
    }
}

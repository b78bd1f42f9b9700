//! NDJSON records (one JSON document a line, Segment and Zendesk exports): only the mapped
//! dotted paths are extracted, in one parse of each line; a value of the wrong shape, a
//! mapped key given twice or a path through a non-object makes the record unreadable.

use super::{FileRead, Item, Projection, RawText, SourceFile, ValueKind, misfit};
use crate::ingest::Result;
use std::borrow::Cow;
use std::io::BufRead;

pub(super) fn read(
    file: &SourceFile,
    projection: &Projection,
    on_item: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<FileRead> {
    let mut input = file.open()?;
    let paths = PathTree::new(projection.columns);
    let mut buffer = Vec::with_capacity(4096);
    let mut line = 0u64;
    let mut rows = 0;
    let mut bytes = 0;
    loop {
        buffer.clear();
        let read = input
            .read_until(b'\n', &mut buffer)
            .map_err(|e| file.read_error(&e))?;
        if read == 0 {
            break;
        }
        bytes += read as u64;
        line += 1;
        let bytes = buffer.trim_ascii();
        if bytes.is_empty() {
            continue;
        }
        rows += 1;
        let Ok(text) = std::str::from_utf8(bytes) else {
            on_item(Item::Unreadable {
                line,
                raw: String::from_utf8_lossy(bytes).to_string(),
                field: None,
                reason: "line holds bytes that are not UTF-8".into(),
            })?;
            continue;
        };
        let mut found: Vec<Option<Leaf>> = vec![None; projection.columns.len()];
        let mut trouble = None;
        if let Err(e) = paths.extract(text, &mut found, &mut trouble) {
            on_item(Item::Unreadable {
                line,
                raw: text.to_string(),
                field: None,
                reason: format!("not valid JSON: {e}"),
            })?;
            continue;
        }
        let misfit = found.iter().enumerate().find_map(|(slot, leaf)| {
            let leaf = leaf.as_ref()?;
            let shape = projection.shapes[slot];
            (!shape.takes(leaf.kind)).then(|| {
                let column = projection.columns[slot].as_deref().unwrap_or_default();
                let field = projection.fields[slot];
                Trouble {
                    slot,
                    reason: misfit(field, column, "JSON", leaf.kind, shape),
                }
            })
        });
        if let Some(trouble) = trouble.or(misfit) {
            on_item(Item::Unreadable {
                line,
                raw: text.to_string(),
                field: Some(projection.fields[trouble.slot].to_string()),
                reason: trouble.reason,
            })?;
            continue;
        }
        let values: Vec<Option<&str>> = found
            .iter()
            .map(|v| v.as_ref().map(|leaf| leaf.text.as_ref()))
            .collect();
        on_item(Item::Record {
            line,
            values: &values,
            raw: RawText::Line(text),
        })?;
    }
    Ok(FileRead { rows, bytes })
}

/// A mapped value as found in a document: its text (see [`LeafText`]) and its kind.
#[derive(Debug, Clone)]
struct Leaf<'de> {
    text: Cow<'de, str>,
    kind: ValueKind,
}

impl Leaf<'_> {
    fn of_json(value: &serde_json::Value) -> Option<Leaf<'static>> {
        Some(Leaf {
            kind: ValueKind::of_json(value)?,
            text: Cow::Owned(json_text(value)?),
        })
    }
}

/// A document whose mapped paths cannot be read as they stand: a key given twice, or an
/// object on the way to a field that is not one. `slot` is the field it concerns.
struct Trouble {
    slot: usize,
    reason: String,
}

/// The mapped dotted paths of an NDJSON source as a tree of keys, so that a document is
/// parsed once keeping only the mapped values: everything else is skipped, never built.
#[derive(Debug, Default)]
struct PathTree {
    /// The dotted path to this key (empty at the root), for messages.
    path: String,
    /// The projection slot this key's value fills, when a path ends here.
    slot: Option<usize>,
    children: Vec<(String, PathTree)>,
}

impl PathTree {
    fn new(columns: &[Option<String>]) -> PathTree {
        let mut root = PathTree::default();
        for (slot, column) in columns.iter().enumerate() {
            let Some(column) = column else { continue };
            let mut node = &mut root;
            for key in column.split('.') {
                let at = match node.children.iter().position(|(k, _)| k == key) {
                    Some(at) => at,
                    None => {
                        let path = match node.path.as_str() {
                            "" => key.to_string(),
                            parent => format!("{parent}.{key}"),
                        };
                        let child = PathTree {
                            path,
                            ..PathTree::default()
                        };
                        node.children.push((key.to_string(), child));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[at].1;
            }
            node.slot = Some(slot);
        }
        root
    }

    fn child(&self, key: &str) -> Option<(usize, &PathTree)> {
        self.children
            .iter()
            .enumerate()
            .find(|(_, (k, _))| k == key)
            .map(|(at, (_, c))| (at, c))
    }

    /// The first slot this subtree fills: the field a problem with it is reported under.
    fn first_slot(&self) -> usize {
        self.slot
            .into_iter()
            .chain(self.children.iter().map(|(_, c)| c.first_slot()))
            .min()
            .unwrap_or(0)
    }

    /// Fills `found` (one slot per column) from one document; the first problem with the
    /// mapped paths goes to `trouble`.
    fn extract<'de>(
        &self,
        text: &'de str,
        found: &mut [Option<Leaf<'de>>],
        trouble: &mut Option<Trouble>,
    ) -> serde_json::Result<()> {
        use serde::de::DeserializeSeed;
        let mut deserializer = serde_json::Deserializer::from_str(text);
        Extract {
            node: self,
            found,
            trouble,
        }
        .deserialize(&mut deserializer)?;
        deserializer.end()
    }

    /// The slots of this subtree from a parsed value.
    fn fill_from(
        &self,
        value: &serde_json::Value,
        found: &mut [Option<Leaf<'_>>],
        trouble: &mut Option<Trouble>,
    ) {
        if let Some(slot) = self.slot {
            found[slot] = Leaf::of_json(value);
        }
        if self.children.is_empty() {
            return;
        }
        match value {
            serde_json::Value::Object(object) => {
                for (key, child) in &self.children {
                    if let Some(inner) = object.get(key) {
                        child.fill_from(inner, found, trouble);
                    }
                }
            }
            serde_json::Value::Null => {}
            // A path ends here as well, so this value is that field's: only the deeper
            // paths go unread.
            _ if self.slot.is_some() => {}
            other => self.not_an_object(ValueKind::of_json(other), trouble),
        }
    }

    /// Records that this node's value, which mapped paths go through, is not an object.
    fn not_an_object(&self, found: Option<ValueKind>, trouble: &mut Option<Trouble>) {
        let Some(found) = found else { return };
        let what = match self.path.as_str() {
            "" => "the record".to_string(),
            path => format!("`{path}`"),
        };
        trouble.get_or_insert(Trouble {
            slot: self.first_slot(),
            reason: format!(
                "{what} is a JSON {}, not an object holding the mapped paths below it",
                found.name()
            ),
        });
    }
}

/// Walks one JSON value for the paths of `node`.
struct Extract<'t, 'f, 'de> {
    node: &'t PathTree,
    found: &'f mut [Option<Leaf<'de>>],
    trouble: &'f mut Option<Trouble>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Extract<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D>(self, deserializer: D) -> std::result::Result<(), D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        use serde::Deserialize;
        match (self.node.slot, self.node.children.is_empty()) {
            (Some(slot), true) => {
                self.found[slot] = deserializer.deserialize_any(LeafText)?;
                Ok(())
            }
            (Some(_), false) => {
                // A path ends here and others go on below it: rare, so parsed whole.
                let value = serde_json::Value::deserialize(deserializer)?;
                self.node.fill_from(&value, self.found, self.trouble);
                Ok(())
            }
            (None, _) => deserializer.deserialize_any(self),
        }
    }
}

impl<'t, 'de> Extract<'t, '_, 'de> {
    /// A value other than an object where mapped paths go on below.
    fn not_an_object(self, kind: Option<ValueKind>) {
        self.node.not_an_object(kind, self.trouble);
    }
}

impl<'de> serde::de::Visitor<'de> for Extract<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A>(self, mut map: A) -> std::result::Result<(), A::Error>
    where
        A: serde::de::MapAccess<'de>,
    {
        // A mapped key given twice: which value holds is a guess, so the record is refused.
        let mut seen = vec![false; self.node.children.len()];
        while let Some(key) = map.next_key_seed(KeyText)? {
            match self.node.child(&key) {
                Some((at, child)) => {
                    if std::mem::replace(&mut seen[at], true) {
                        self.trouble.get_or_insert(Trouble {
                            slot: child.first_slot(),
                            reason: format!(
                                "key `{}` appears twice in the record; keep one",
                                child.path
                            ),
                        });
                    }
                    map.next_value_seed(Extract {
                        node: child,
                        found: &mut *self.found,
                        trouble: &mut *self.trouble,
                    })?
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A>(self, mut seq: A) -> std::result::Result<(), A::Error>
    where
        A: serde::de::SeqAccess<'de>,
    {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        self.not_an_object(Some(ValueKind::Array));
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        self.not_an_object(Some(ValueKind::Bool));
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        self.not_an_object(Some(ValueKind::Number));
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        self.not_an_object(Some(ValueKind::Number));
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        self.not_an_object(Some(ValueKind::Number));
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        self.not_an_object(Some(ValueKind::String));
        Ok(())
    }

    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }
}

/// An object key, borrowed from the line unless it holds escapes.
struct KeyText;

impl<'de> serde::de::DeserializeSeed<'de> for KeyText {
    type Value = Cow<'de, str>;

    fn deserialize<D>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyText {
    type Value = Cow<'de, str>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_string()))
    }
}

/// A mapped value as [`json_text`] gives it, with its kind: strings as themselves (borrowed
/// from the line unless they hold escapes), other scalars and objects and arrays as JSON
/// text, null as absent.
struct LeafText;

impl LeafText {
    fn leaf<'de, E>(
        text: Cow<'de, str>,
        kind: ValueKind,
    ) -> std::result::Result<Option<Leaf<'de>>, E> {
        Ok(Some(Leaf { text, kind }))
    }
}

impl<'de> serde::de::Visitor<'de> for LeafText {
    type Value = Option<Leaf<'de>>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> std::result::Result<Self::Value, E> {
        Self::leaf(Cow::Borrowed(text), ValueKind::String)
    }

    fn visit_str<E>(self, text: &str) -> std::result::Result<Self::Value, E> {
        Self::leaf(Cow::Owned(text.to_string()), ValueKind::String)
    }

    fn visit_string<E>(self, text: String) -> std::result::Result<Self::Value, E> {
        Self::leaf(Cow::Owned(text), ValueKind::String)
    }

    fn visit_bool<E>(self, value: bool) -> std::result::Result<Self::Value, E> {
        let text = if value { "true" } else { "false" };
        Self::leaf(Cow::Borrowed(text), ValueKind::Bool)
    }

    fn visit_i64<E>(self, value: i64) -> std::result::Result<Self::Value, E> {
        Self::leaf(Cow::Owned(value.to_string()), ValueKind::Number)
    }

    fn visit_u64<E>(self, value: u64) -> std::result::Result<Self::Value, E> {
        Self::leaf(Cow::Owned(value.to_string()), ValueKind::Number)
    }

    fn visit_f64<E>(self, value: f64) -> std::result::Result<Self::Value, E> {
        Ok(Leaf::of_json(&serde_json::Value::from(value)))
    }

    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A>(self, map: A) -> std::result::Result<Self::Value, A::Error>
    where
        A: serde::de::MapAccess<'de>,
    {
        use serde::Deserialize;
        let value =
            serde_json::Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(Leaf::of_json(&value))
    }

    fn visit_seq<A>(self, seq: A) -> std::result::Result<Self::Value, A::Error>
    where
        A: serde::de::SeqAccess<'de>,
    {
        use serde::Deserialize;
        let value =
            serde_json::Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Leaf::of_json(&value))
    }
}

/// Scalars as their text; arrays and objects as JSON text; null as absent.
fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

//! Text encodings shared by the NDJSON writers: a small streaming JSON object writer (properly
//! escaped strings, no `serde_json::Value` tree per line, since multi-GB runs format millions of
//! lines), timestamps in the forms the sources send, and UUID-shaped message ids. Writes into a
//! caller's reusable `String`; never touches files.

use std::fmt::{Display, Write as _};

use chrono::NaiveDateTime;

/// A timestamp as a source writes it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Timestamp<'a> {
    /// `2026-01-05T10:11:12.345Z`, as Segment libraries send it.
    Millis { date: &'a str, ms: u32 },
    /// `2026-01-05 10:11:12`: no offset, a space for the `T` — valid, read in the pipeline's
    /// timezone; some server-side senders write it.
    Naive { date: &'a str, ms: u32 },
    /// Verbatim text (an RFC 3339 timestamp formatted elsewhere, or a planted bad one).
    Text(&'a str),
}

/// `2026-03-01T09:30:00Z`: CRM and Zendesk timestamps, to the second.
pub(super) fn rfc3339_seconds(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Writes one JSON object member by member; `end` closes it.
pub(super) struct JsonObject<'a> {
    out: &'a mut String,
    has_members: bool,
}

impl<'a> JsonObject<'a> {
    pub fn begin(out: &'a mut String) -> Self {
        out.push('{');
        Self {
            out,
            has_members: false,
        }
    }

    pub fn end(self) {
        self.out.push('}');
    }

    fn key(&mut self, key: &str) {
        if self.has_members {
            self.out.push(',');
        }
        self.has_members = true;
        push_json_string(self.out, key);
        self.out.push(':');
    }

    pub fn string(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_json_string(self.out, value);
        self
    }

    /// A string, or `null` when absent.
    pub fn nullable_string(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.string(key, value),
            None => {
                self.key(key);
                self.out.push_str("null");
                self
            }
        }
    }

    pub fn integer(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        push_display(self.out, value);
        self
    }

    pub fn strings(&mut self, key: &str, values: &[&str]) -> &mut Self {
        self.key(key);
        self.out.push('[');
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                self.out.push(',');
            }
            push_json_string(self.out, value);
        }
        self.out.push(']');
        self
    }

    pub fn object(&mut self, key: &str, members: impl FnOnce(&mut JsonObject<'_>)) -> &mut Self {
        self.key(key);
        let mut inner = JsonObject::begin(self.out);
        members(&mut inner);
        inner.end();
        self
    }

    pub fn timestamp(&mut self, key: &str, at: Timestamp<'_>) -> &mut Self {
        self.key(key);
        self.out.push('"');
        match at {
            Timestamp::Millis { date, ms } => {
                self.out.push_str(date);
                self.out.push('T');
                push_time_of_day(self.out, ms, true);
                self.out.push('Z');
            }
            Timestamp::Naive { date, ms } => {
                self.out.push_str(date);
                self.out.push(' ');
                push_time_of_day(self.out, ms, false);
            }
            Timestamp::Text(text) => escape_into(self.out, text),
        }
        self.out.push('"');
        self
    }

    /// A 128-bit id written as a version-4 UUID, the shape Segment message ids take.
    pub fn uuid(&mut self, key: &str, id: u128) -> &mut Self {
        self.key(key);
        let variant = ((id >> 48) as u16 & 0x3fff) | 0x8000;
        let version = ((id >> 64) as u16 & 0x0fff) | 0x4000;
        push_display(
            self.out,
            format_args!(
                "\"{:08x}-{:04x}-{version:04x}-{variant:04x}-{:012x}\"",
                (id >> 96) as u32,
                (id >> 80) as u16,
                id & 0xffff_ffff_ffff,
            ),
        );
        self
    }
}

fn push_display(out: &mut String, value: impl Display) {
    write!(out, "{value}").expect("formatting into a String cannot fail");
}

/// `HH:MM:SS` or `HH:MM:SS.mmm` from milliseconds into the day.
fn push_time_of_day(out: &mut String, ms: u32, with_millis: bool) {
    let seconds = ms / 1000;
    push_two_digits(out, seconds / 3600);
    out.push(':');
    push_two_digits(out, seconds / 60 % 60);
    out.push(':');
    push_two_digits(out, seconds % 60);
    if with_millis {
        let millis = ms % 1000;
        out.push('.');
        out.push(char::from(b'0' + (millis / 100) as u8));
        push_two_digits(out, millis % 100);
    }
}

fn push_two_digits(out: &mut String, value: u32) {
    out.push(char::from(b'0' + (value / 10 % 10) as u8));
    out.push(char::from(b'0' + (value % 10) as u8));
}

/// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped,
/// everything else (UTF-8 included) verbatim.
pub(super) fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    escape_into(out, value);
    out.push('"');
}

fn escape_into(out: &mut String, value: &str) {
    let mut verbatim_from = 0;
    for (index, byte) in value.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `index` is at an ASCII byte, so both slices end on character boundaries.
        out.push_str(&value[verbatim_from..index]);
        if escaped.is_empty() {
            push_display(out, format_args!("\\u{byte:04x}"));
        } else {
            out.push_str(escaped);
        }
        verbatim_from = index + 1;
    }
    out.push_str(&value[verbatim_from..]);
}

/// The first half of `line`, as a connection dropped mid-write leaves it.
pub(super) fn truncate_mid_line(mut line: String) -> String {
    let mut cut = line.len() / 2;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    line.truncate(cut);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_with_quotes_newlines_and_control_characters_stay_valid_json() {
        let mut line = String::new();
        let mut object = JsonObject::begin(&mut line);
        object.string("subject", "Say \"hi\"\\ now\n\ttab \u{1} 日本語");
        object.end();
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["subject"], "Say \"hi\"\\ now\n\ttab \u{1} 日本語");
    }

    #[test]
    fn timestamps_render_in_segment_and_naive_forms() {
        let mut line = String::new();
        let mut object = JsonObject::begin(&mut line);
        let ms = 10 * 3_600_000 + 11 * 60_000 + 12_345;
        object.timestamp(
            "a",
            Timestamp::Millis {
                date: "2026-01-05",
                ms,
            },
        );
        object.timestamp(
            "b",
            Timestamp::Naive {
                date: "2026-01-05",
                ms,
            },
        );
        object.end();
        assert_eq!(
            line,
            r#"{"a":"2026-01-05T10:11:12.345Z","b":"2026-01-05 10:11:12"}"#
        );
    }

    #[test]
    fn message_ids_are_uuid_shaped() {
        let mut line = String::new();
        let mut object = JsonObject::begin(&mut line);
        object.uuid("messageId", u128::MAX);
        object.end();
        assert_eq!(
            line,
            r#"{"messageId":"ffffffff-ffff-4fff-bfff-ffffffffffff"}"#
        );
    }
}

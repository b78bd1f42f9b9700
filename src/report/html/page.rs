//! The page around the sections: one HTML file with its style inline, a system font stack
//! that covers Japanese, and no script or external resource.

/// Text made safe for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A table with a header row; cells are already HTML (escape text first). Columns whose
/// header starts with `#` are numeric (right-aligned; the `#` is dropped).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let numeric: Vec<bool> = header.iter().map(|h| h.starts_with('#')).collect();
    let head: String = header
        .iter()
        .map(|h| {
            let class = if h.starts_with('#') {
                " class=\"num\""
            } else {
                ""
            };
            format!("<th{class}>{}</th>", escape(h.trim_start_matches('#')))
        })
        .collect();
    let body: String = rows
        .iter()
        .map(|row| {
            let cells: String = row
                .iter()
                .enumerate()
                .map(|(i, cell)| {
                    let class = if numeric.get(i).copied().unwrap_or(false) {
                        " class=\"num\""
                    } else {
                        ""
                    };
                    format!("<td{class}>{cell}</td>")
                })
                .collect();
            format!("<tr>{cells}</tr>")
        })
        .collect();
    format!(
        "<div class=\"scroll\"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )
}

/// A note that something is missing, and what to run.
pub fn missing(text: &str) -> String {
    format!("<p class=\"missing\">{}</p>", escape(text))
}

const STYLE: &str = "
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Hiragino Sans',
  'Hiragino Kaku Gothic ProN', 'Noto Sans CJK JP', 'Noto Sans JP', 'Yu Gothic', Meiryo,
  'Helvetica Neue', Arial, sans-serif; margin: 0; color: #1c2330; background: #f5f6f8; }
header { background: #1f2d3d; color: #fff; padding: 18px 28px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; color: #c8d1dc; font-size: 13px; }
main { max-width: 1500px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border-radius: 8px; padding: 12px 20px 18px; margin: 18px 0;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); }
h2 { font-size: 18px; margin: 6px 0 10px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 18px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; }
.tile { border: 1px solid #e1e5ea; border-radius: 6px; padding: 10px 12px; }
.tile .label { font-size: 12px; color: #5b6573; }
.tile .value { font-size: 24px; font-weight: 600; margin-top: 2px; }
.tile .change { font-size: 12px; color: #5b6573; }
figure { margin: 0; }
figcaption.title { font-weight: 600; font-size: 14px; margin-bottom: 4px; }
figcaption.caption { font-size: 12px; color: #5b6573; margin-top: 4px; }
svg { width: 100%; height: auto; background: #fff; }
svg .grid { stroke: #e6e9ed; stroke-width: 1; }
svg .tick { font-size: 11px; fill: #5b6573; }
svg .axis { font-size: 12px; fill: #1c2330; }
svg .value { font-size: 10px; fill: #1c2330; }
.legend { font-size: 12px; margin: 2px 0 4px; }
.key { margin-right: 14px; white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px;
  vertical-align: -1px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { border-bottom: 1px solid #e6e9ed; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.heat td { text-align: center; font-size: 11px; min-width: 34px; border: 1px solid #fff; }
.scroll { overflow-x: auto; }
.band-green { color: #1e7b45; font-weight: 600; }
.band-yellow { color: #a67c00; font-weight: 600; }
.band-red { color: #b03024; font-weight: 600; }
.missing { color: #8a5a00; background: #fff6e0; padding: 8px 10px; border-radius: 6px; }
.warn { color: #b03024; font-weight: 600; }
";

/// The whole page: its title line and the sections' HTML.
pub fn page(title: &str, subtitle: &str, sections: &[String]) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\
         <header><h1>{t}</h1><p>{s}</p></header><main>{}</main></body></html>\n",
        sections.join("\n"),
        t = escape(title),
        s = escape(subtitle),
    )
}

/// A section with its heading.
pub fn section(id: &str, heading: &str, body: &str) -> String {
    format!(
        "<section id=\"{id}\"><h2>{}</h2>{body}</section>",
        escape(heading)
    )
}

/// A band name, coloured.
pub fn band(band: &str) -> String {
    match band {
        "green" | "yellow" | "red" => format!("<span class=\"band-{band}\">{band}</span>"),
        other => escape(other),
    }
}

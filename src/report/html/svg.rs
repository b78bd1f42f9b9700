//! The report's charts as inline SVG: lines, stacked bars, a waterfall, a histogram and a
//! heatmap. Each chart is a `<figure>` with its title, axis labels with units, a legend where
//! colours carry meaning, and a one-line caption saying what to look at. No script, no
//! external resource: the page opens offline.

use super::page::escape;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 64.0;

/// One coloured line or bar stack, with its legend name.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub values: Vec<Option<f64>>,
}

/// How a value axis prints its numbers.
#[derive(Clone, Copy)]
pub enum Unit {
    Count,
    Money,
    Percent,
    Plain,
}

impl Unit {
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Count => thousands(value.round()),
            Unit::Money => {
                if value.abs() >= 1e6 {
                    format!("{:.2}M", value / 1e6)
                } else if value.abs() >= 1e4 {
                    format!("{:.0}k", value / 1e3)
                } else {
                    thousands(value.round())
                }
            }
            Unit::Percent => format!("{:.1}%", value * 100.0),
            Unit::Plain => format!("{value:.2}"),
        }
    }
}

/// 12345 → "12,345".
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 && digits != "0" {
        format!("-{out}")
    } else {
        out
    }
}

/// Round tick values covering [low, high].
fn ticks(low: f64, high: f64) -> Vec<f64> {
    let (low, high) = if high > low {
        (low, high)
    } else {
        (low - 1.0, low + 1.0)
    };
    let raw = (high - low) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (low / step).floor() * step;
    let mut values = vec![first];
    while *values.last().expect("a tick") < high - step * 1e-9 {
        values.push(values.last().expect("a tick") + step);
    }
    values
}

/// The frame of a chart: value axis with ticks and label, category labels, and a function
/// from value to y.
struct Frame {
    low: f64,
    high: f64,
    svg: String,
}

impl Frame {
    fn new(chart: &Chart, low: f64, high: f64, x_labels: &[String]) -> Frame {
        let (unit, y_label, x_label) = (chart.unit, chart.y_label, chart.x_label);
        let ticks = ticks(low.min(0.0), high.max(low + f64::EPSILON));
        let (low, high) = (ticks[0], *ticks.last().expect("ticks"));
        let mut frame = Frame {
            low,
            high,
            svg: String::new(),
        };
        for tick in &ticks {
            let y = frame.y(*tick);
            frame.svg.push_str(&format!(
                "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"grid\"/>\
                 <text x=\"{}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{}</text>",
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                escape(&unit.format(*tick))
            ));
        }
        frame.svg.push_str(&format!(
            "<text transform=\"translate(14 {:.1}) rotate(-90)\" class=\"axis\" text-anchor=\"middle\">{}</text>",
            TOP + (HEIGHT - TOP - BOTTOM) / 2.0,
            escape(y_label)
        ));
        let every = x_labels.len().div_ceil(12).max(1);
        for (i, label) in x_labels.iter().enumerate() {
            if i % every != 0 {
                continue;
            }
            let x = frame.x(i, x_labels.len());
            frame.svg.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
                HEIGHT - BOTTOM + 16.0,
                escape(label)
            ));
        }
        frame.svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"middle\">{}</text>",
            LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
            HEIGHT - BOTTOM + 36.0,
            escape(x_label)
        ));
        frame
    }

    fn y(&self, value: f64) -> f64 {
        let span = (self.high - self.low).max(f64::EPSILON);
        HEIGHT - BOTTOM - (value - self.low) / span * (HEIGHT - TOP - BOTTOM)
    }

    /// The centre of category `i` of `n`.
    fn x(&self, i: usize, n: usize) -> f64 {
        let band = (WIDTH - LEFT - RIGHT) / n.max(1) as f64;
        LEFT + band * (i as f64 + 0.5)
    }

    fn band(&self, n: usize) -> f64 {
        (WIDTH - LEFT - RIGHT) / n.max(1) as f64
    }
}

fn legend(series: &[(&str, &str)]) -> String {
    let items: String = series
        .iter()
        .map(|(name, color)| {
            format!(
                "<span class=\"key\"><span class=\"swatch\" style=\"background:{color}\"></span>{}</span>",
                escape(name)
            )
        })
        .collect();
    format!("<div class=\"legend\">{items}</div>")
}

fn figure(title: &str, caption: &str, body: &str, legend: &str) -> String {
    format!(
        "<figure><figcaption class=\"title\">{}</figcaption>{legend}\
         <svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">{body}</svg>\
         <figcaption class=\"caption\">{}</figcaption></figure>",
        escape(title),
        escape(title),
        escape(caption)
    )
}

/// What a chart draws: its title, caption and axes.
pub struct Chart<'a> {
    pub title: &'a str,
    pub caption: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub unit: Unit,
}

fn extent<'a>(values: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)))
}

/// Lines over categories; a missing value breaks its line.
pub fn lines(chart: &Chart, x_labels: &[String], series: &[Series]) -> String {
    let (low, high) = extent(series.iter().flat_map(|s| s.values.iter().flatten()));
    let frame = Frame::new(chart, low, high, x_labels);
    let mut body = frame.svg.clone();
    for s in series {
        let mut path = String::new();
        let mut pen_up = true;
        for (i, value) in s.values.iter().enumerate() {
            match value {
                Some(v) => {
                    let command = if pen_up { 'M' } else { 'L' };
                    path.push_str(&format!(
                        "{command}{:.1} {:.1} ",
                        frame.x(i, x_labels.len()),
                        frame.y(*v)
                    ));
                    pen_up = false;
                }
                None => pen_up = true,
            }
        }
        body.push_str(&format!(
            "<path d=\"{path}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
            s.color
        ));
        for (i, value) in s.values.iter().enumerate() {
            if let Some(v) = value {
                body.push_str(&format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"><title>{} {}: {}</title></circle>",
                    frame.x(i, x_labels.len()),
                    frame.y(*v),
                    s.color,
                    escape(&s.name),
                    escape(&x_labels[i]),
                    escape(&chart.unit.format(*v))
                ));
            }
        }
    }
    let keys: Vec<(&str, &str)> = series.iter().map(|s| (s.name.as_str(), s.color)).collect();
    figure(chart.title, chart.caption, &body, &legend(&keys))
}

/// Bars stacked per category, in series order from the bottom.
pub fn stacked_bars(chart: &Chart, x_labels: &[String], series: &[Series]) -> String {
    let totals: Vec<f64> = (0..x_labels.len())
        .map(|i| series.iter().map(|s| s.values[i].unwrap_or(0.0)).sum())
        .collect();
    let (low, high) = extent(totals.iter());
    let frame = Frame::new(chart, low, high, x_labels);
    let mut body = frame.svg.clone();
    let width = frame.band(x_labels.len()) * 0.7;
    for (i, label) in x_labels.iter().enumerate() {
        let mut base = 0.0;
        for s in series {
            let value = s.values[i].unwrap_or(0.0);
            let (top, bottom) = (frame.y(base + value), frame.y(base));
            body.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                frame.x(i, x_labels.len()) - width / 2.0,
                (bottom - top).max(0.0),
                s.color,
                escape(label),
                escape(&s.name),
                escape(&chart.unit.format(value))
            ));
            base += value;
        }
    }
    let keys: Vec<(&str, &str)> = series.iter().map(|s| (s.name.as_str(), s.color)).collect();
    figure(chart.title, chart.caption, &body, &legend(&keys))
}

/// A waterfall step: a total (from 0) or a change (from the running total).
pub enum Step {
    Total(String, f64),
    Change(String, f64),
}

pub const UP: &str = "#2e8b57";
pub const DOWN: &str = "#c0392b";
pub const TOTAL: &str = "#4a6fa5";

/// Totals and the changes between them, each bar starting where the last ended.
pub fn waterfall(chart: &Chart, steps: &[Step]) -> String {
    let mut running = 0.0;
    let mut bars = Vec::new();
    for step in steps {
        match step {
            Step::Total(label, value) => {
                bars.push((label.clone(), 0.0, *value, TOTAL, *value));
                running = *value;
            }
            Step::Change(label, change) => {
                let color = if *change >= 0.0 { UP } else { DOWN };
                bars.push((label.clone(), running, running + change, color, *change));
                running += change;
            }
        }
    }
    let (low, high) = extent(
        bars.iter()
            .flat_map(|b| [b.1, b.2])
            .collect::<Vec<_>>()
            .iter(),
    );
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let frame = Frame::new(chart, low, high, &labels);
    let mut body = frame.svg.clone();
    let width = frame.band(bars.len()) * 0.6;
    for (i, (label, from, to, color, amount)) in bars.iter().enumerate() {
        let (top, bottom) = (frame.y(from.max(*to)), frame.y(from.min(*to)));
        let x = frame.x(i, bars.len());
        body.push_str(&format!(
            "<rect data-step=\"{}\" data-value=\"{amount}\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{}: {}</title></rect>\
             <text x=\"{x:.1}\" y=\"{:.1}\" class=\"value\" text-anchor=\"middle\">{}</text>",
            escape(label),
            x - width / 2.0,
            (bottom - top).max(1.0),
            escape(label),
            escape(&chart.unit.format(*amount)),
            top - 4.0,
            escape(&chart.unit.format(*amount))
        ));
    }
    let keys = [("total", TOTAL), ("added", UP), ("lost", DOWN)];
    figure(chart.title, chart.caption, &body, &legend(&keys))
}

/// Bars of one colour over categories.
pub fn bars(chart: &Chart, x_labels: &[String], values: &[f64], color: &'static str) -> String {
    let series = [Series {
        name: chart.y_label.to_string(),
        color,
        values: values.iter().map(|v| Some(*v)).collect(),
    }];
    stacked_bars(chart, x_labels, &series)
}

/// A table of cells coloured by value (0 → pale, 1 → dark), each showing its value.
pub fn heatmap(
    title: &str,
    caption: &str,
    corner: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<Option<f64>>],
) -> String {
    let header: String = columns
        .iter()
        .map(|c| format!("<th>{}</th>", escape(c)))
        .collect();
    let body: String = rows
        .iter()
        .zip(values)
        .map(|(row, cells)| {
            let cells: String = cells
                .iter()
                .map(|cell| match cell {
                    Some(v) => {
                        let shade = v.clamp(0.0, 1.0);
                        let light = 96.0 - shade * 60.0;
                        let ink = if light < 60.0 { "#fff" } else { "#111" };
                        format!(
                            "<td style=\"background:hsl(210 60% {light:.0}%);color:{ink}\">{:.0}%</td>",
                            v * 100.0
                        )
                    }
                    None => "<td></td>".to_string(),
                })
                .collect();
            format!("<tr><th>{}</th>{cells}</tr>", escape(row))
        })
        .collect();
    format!(
        "<figure><figcaption class=\"title\">{}</figcaption>\
         <div class=\"legend\"><span class=\"key\"><span class=\"swatch\" style=\"background:hsl(210 60% 96%)\"></span>0%</span>\
         <span class=\"key\"><span class=\"swatch\" style=\"background:hsl(210 60% 66%)\"></span>50%</span>\
         <span class=\"key\"><span class=\"swatch\" style=\"background:hsl(210 60% 36%)\"></span>100% and above</span></div>\
         <div class=\"scroll\"><table class=\"heat\"><tr><th>{}</th>{header}</tr>{body}</table></div>\
         <figcaption class=\"caption\">{}</figcaption></figure>",
        escape(title),
        escape(corner),
        escape(caption)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 93.0), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        // The top tick is never below the highest value.
        assert_eq!(ticks(0.0, 640.0), vec![0.0, 200.0, 400.0, 600.0, 800.0]);
        assert_eq!(ticks(0.0, 80.0), vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(-950.0), "-950");
    }

    #[test]
    fn a_waterfall_starts_each_change_where_the_last_ended() {
        let chart = Chart {
            title: "t",
            caption: "c",
            x_label: "x",
            y_label: "y",
            unit: Unit::Count,
        };
        let svg = waterfall(
            &chart,
            &[
                Step::Total("start".into(), 100.0),
                Step::Change("new".into(), 20.0),
                Step::Change("churn".into(), -30.0),
                Step::Total("end".into(), 90.0),
            ],
        );
        for text in [
            "start: 100",
            "new: 20",
            "churn: -30",
            "end: 90",
            "<figcaption class=\"caption\">c",
        ] {
            assert!(svg.contains(text), "{text} in {svg}");
        }
    }
}

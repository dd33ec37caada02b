//! Charts from tables: bar, horizontal bar, line, scatter, histogram and a
//! metric card, plus a dashboard that arranges several of them in a grid.
//!
//! The look is fixed and plain, made for reports: white background, light
//! grid lines, a ten-colour palette, DejaVu Sans text (the font the
//! rasteriser embeds, so text widths estimated here hold in the PNG too).
//! Layout is computed from the data: margins grow to fit the longest tick or
//! category label, category labels turn 40° or are thinned when they would
//! overlap, long labels are shortened with an ellipsis, and a legend appears
//! when there is more than one series.
//!
//! Every mark carries a `class` (`bar`, `line`, `point`, `bin`, `tick`,
//! `label`, `legend`) so tests and style sheets can find it.

use super::doc::num;
use super::{GraphicsError, Svg};
use crate::table::Table;

/// Series colours, in order (Tableau 10).
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#bab0ac",
];
const TEXT: &str = "#1f2937";
const MUTED: &str = "#6b7280";
const AXIS: &str = "#9ca3af";
const GRID: &str = "#e5e7eb";
const TICK_FONT: f64 = 12.0;
const LABEL_FONT: f64 = 13.0;
const TITLE_FONT: f64 = 17.0;
/// The most bars (categories × series) a bar chart draws.
pub const MAX_BARS: usize = 20_000;
/// The most points a line or scatter chart draws, over all series.
pub const MAX_POINTS: usize = 200_000;

/// What kind of chart to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Vertical bars: one group per row, one bar per `y` column.
    Bar,
    /// Horizontal bars (long category names read better).
    HorizontalBar,
    /// Lines over `x`, one per `y` column.
    Line,
    /// Points at (`x`, `y`), one colour per `y` column.
    Scatter,
    /// The distribution of `x`, in `bins` bins.
    Histogram,
    /// A card with one number: the first row of `x` (and of `y[0]` as a detail line).
    Metric,
}

impl ChartKind {
    /// Every kind, by the name users write.
    pub const NAMES: [(&'static str, ChartKind); 6] = [
        ("bar", ChartKind::Bar),
        ("horizontal-bar", ChartKind::HorizontalBar),
        ("line", ChartKind::Line),
        ("scatter", ChartKind::Scatter),
        ("histogram", ChartKind::Histogram),
        ("metric", ChartKind::Metric),
    ];

    /// The name users write for it.
    pub fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, k)| *k == self).map_or("chart", |(n, _)| *n)
    }

    /// The kind a name denotes (`bar`, `horizontal-bar` or `hbar`, `line`,
    /// `scatter`, `histogram`, `metric`).
    pub fn from_name(name: &str) -> Result<ChartKind, GraphicsError> {
        let name = name.trim().to_ascii_lowercase().replace('_', "-");
        if name == "hbar" {
            return Ok(ChartKind::HorizontalBar);
        }
        Self::NAMES.iter().find(|(n, _)| *n == name).map(|(_, k)| *k).ok_or_else(|| {
            let names: Vec<&str> = Self::NAMES.iter().map(|(n, _)| *n).collect();
            GraphicsError::new(format!("`{name}` is not a chart kind; use one of {}", names.join(", ")))
        })
    }
}

/// What to chart and how. Zero sizes and empty labels take defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    /// The kind of chart.
    pub kind: ChartKind,
    /// Categories (bar), x values (line, scatter), the values to bin
    /// (histogram) or the number to show (metric).
    pub x: String,
    /// Value columns, one series each (bar, line, scatter); metric: a detail column.
    pub y: Vec<String>,
    /// Title above the chart (metric: the card's label).
    pub title: String,
    /// Label of the x axis (default: the `x` column's name).
    pub x_label: String,
    /// Label of the y axis (default: the `y` column's name when there is one).
    pub y_label: String,
    /// Width in pixels (default 640; metric 240).
    pub width: f64,
    /// Height in pixels (default 400; metric 120).
    pub height: f64,
    /// Histogram bins (0: chosen from the number of values).
    pub bins: u32,
}

impl ChartSpec {
    /// A spec of `kind` over column `x` and value columns `y`, with defaults.
    pub fn new(kind: ChartKind, x: &str, y: &[&str]) -> ChartSpec {
        ChartSpec {
            kind,
            x: x.to_string(),
            y: y.iter().map(|s| s.to_string()).collect(),
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            width: 0.0,
            height: 0.0,
            bins: 0,
        }
    }

    /// The same spec with a title.
    pub fn titled(mut self, title: &str) -> ChartSpec {
        self.title = title.to_string();
        self
    }
}

/// Draw the chart `spec` describes from `table`.
pub fn chart(table: &Table, spec: &ChartSpec) -> Result<Svg, GraphicsError> {
    let _op = crate::activity::enter("chart.chart");
    let (dw, dh) = if spec.kind == ChartKind::Metric { (240.0, 120.0) } else { (640.0, 400.0) };
    let width = if spec.width > 0.0 { spec.width } else { dw };
    let height = if spec.height > 0.0 { spec.height } else { dh };
    if !(80.0..=20_000.0).contains(&width) || !(60.0..=20_000.0).contains(&height) {
        return Err(GraphicsError::new(format!(
            "a chart must be 80 to 20 000 wide and 60 to 20 000 high, not {width} × {height}"
        )));
    }
    if spec.x.is_empty() {
        return Err(GraphicsError::new("the chart needs an `x` column"));
    }
    let needs_y =
        matches!(spec.kind, ChartKind::Bar | ChartKind::HorizontalBar | ChartKind::Line | ChartKind::Scatter);
    if needs_y && spec.y.is_empty() {
        return Err(GraphicsError::new("the chart needs at least one `y` column"));
    }
    // Compute the input table itself, so the result is kept for every other
    // node and output that reads it (selecting first would run its plan again
    // for them: a second scan of the CSV behind it), then keep the columns drawn.
    // A chart that draws a mark per row computes at most one row more than it
    // may draw, so a huge table is refused before it is in memory.
    let series = spec.y.len().max(1);
    let most_rows = match spec.kind {
        ChartKind::Bar | ChartKind::HorizontalBar => Some((MAX_BARS / series, "bars", MAX_BARS)),
        ChartKind::Line | ChartKind::Scatter => Some((MAX_POINTS / series, "points", MAX_POINTS)),
        ChartKind::Histogram | ChartKind::Metric => None,
    };
    match most_rows {
        Some((rows, marks, most)) => {
            let found =
                table.collect_at_most(rows as u64).map_err(|e| GraphicsError::new(format!("chart: {e}")))?;
            if found.is_none() {
                return Err(GraphicsError::new(format!(
                    "{} chart: the table has more than {rows} rows: more {marks} than the {most} a chart draws \
                     ({series} per row); aggregate or head() first",
                    spec.kind.name()
                )));
            }
        }
        None => {
            table.collect().map_err(|e| GraphicsError::new(format!("chart: {e}")))?;
        }
    }
    let mut columns = vec![spec.x.clone()];
    columns.extend(spec.y.iter().filter(|c| **c != spec.x).cloned());
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
    let data = table.select(&quoted).map_err(|e| GraphicsError::new(format!("chart: {e}")))?;
    data.collect().map_err(|e| GraphicsError::new(format!("chart: {e}")))?;
    let c = Canvas { width, height };
    match spec.kind {
        ChartKind::Bar => bars(&data, spec, c, false),
        ChartKind::HorizontalBar => bars(&data, spec, c, true),
        ChartKind::Line => lines(&data, spec, c, false),
        ChartKind::Scatter => lines(&data, spec, c, true),
        ChartKind::Histogram => histogram(&data, spec, c),
        ChartKind::Metric => {
            let values = data.column_text(&spec.x)?;
            let first = values.first().ok_or_else(|| GraphicsError::new("metric: the table has no rows"))?;
            let value = first.parse::<f64>().map(compact).unwrap_or_else(|_| first.clone());
            let detail = match spec.y.first() {
                Some(col) => data.column_text(col)?.into_iter().next().unwrap_or_default(),
                None => String::new(),
            };
            let label = if spec.title.is_empty() { spec.x.as_str() } else { spec.title.as_str() };
            card_sized(label, &value, &detail, width, height)
        }
    }
}

/// A metric card: a label, one big value and a detail line.
pub fn card(label: &str, value: &str, detail: &str) -> Result<Svg, GraphicsError> {
    card_sized(label, value, detail, 240.0, 120.0)
}

fn card_sized(label: &str, value: &str, detail: &str, width: f64, height: f64) -> Result<Svg, GraphicsError> {
    let pad = 16.0;
    let room = width - 2.0 * pad;
    let value_font =
        (height * 0.3).clamp(16.0, 40.0).min(room / (0.62 * value.chars().count().max(1) as f64));
    let svg = Svg::new(width, height)?
        .rect(
            0.5,
            0.5,
            width - 1.0,
            height - 1.0,
            &attrs(&[("rx", "8"), ("fill", "#ffffff"), ("stroke", GRID), ("class", "card")]),
        )?
        .text(
            pad,
            pad + LABEL_FONT,
            &fit(label, room, LABEL_FONT),
            &text_attrs(LABEL_FONT, MUTED, "start", "label"),
        )?
        .text(pad, height * 0.62, &fit(value, room, value_font), &bold_attrs(value_font, "value"))?;
    if detail.is_empty() {
        return Ok(svg);
    }
    svg.text(
        pad,
        height - pad,
        &fit(detail, room, TICK_FONT),
        &text_attrs(TICK_FONT, MUTED, "start", "detail"),
    )
}

/// Arrange `items` (charts, cards, any SVG) in rows of `columns` under a
/// title: each item at its own size, left to right, 16 pixels apart; each row
/// as high as its tallest item; on a light grey page. Items of equal size
/// make a regular grid; three cards over two charts make a report page.
pub fn dashboard(title: &str, items: &[Svg], columns: u32) -> Result<Svg, GraphicsError> {
    let _op = crate::activity::enter("chart.dashboard");
    if items.is_empty() {
        return Err(GraphicsError::new("a dashboard needs at least one item"));
    }
    let columns = (columns.max(1) as usize).min(items.len());
    let (gap, pad) = (16.0, 24.0);
    let rows: Vec<&[Svg]> = items.chunks(columns).collect();
    let row_width = |row: &[Svg]| row.iter().map(Svg::width).sum::<f64>() + gap * (row.len() - 1) as f64;
    let row_height = |row: &[Svg]| row.iter().map(Svg::height).fold(0.0, f64::max);
    let head = if title.is_empty() { 0.0 } else { 44.0 };
    let width = 2.0 * pad + rows.iter().map(|r| row_width(r)).fold(0.0, f64::max);
    let height =
        2.0 * pad + head + rows.iter().map(|r| row_height(r)).sum::<f64>() + gap * (rows.len() - 1) as f64;
    let mut svg = Svg::new(width, height)?.rect(0.0, 0.0, width, height, &attrs(&[("fill", "#f3f4f6")]))?;
    if !title.is_empty() {
        svg = svg.text(pad, pad + 22.0, &fit(title, width - 2.0 * pad, 22.0), &bold_attrs(22.0, "title"))?;
    }
    let mut y = pad + head;
    for row in rows {
        let mut x = pad;
        for item in row {
            svg = svg.place(item, x, y, 1.0)?;
            x += item.width() + gap;
        }
        y += row_height(row) + gap;
    }
    Ok(svg)
}

#[derive(Clone, Copy)]
struct Canvas {
    width: f64,
    height: f64,
}

/// The plot area inside the margins.
#[derive(Clone, Copy, Debug)]
struct Plot {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Plot {
    fn width(&self) -> f64 {
        self.right - self.left
    }
    fn height(&self) -> f64 {
        self.bottom - self.top
    }
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn text_attrs(size: f64, fill: &str, anchor: &str, class: &str) -> Vec<(String, String)> {
    attrs(&[
        ("font-size", &num(size)),
        ("fill", fill),
        ("text-anchor", anchor),
        ("font-family", super::raster::FONT_FAMILY),
        ("class", class),
    ])
}

/// Bold text in the main text colour: titles and card values.
fn bold_attrs(size: f64, class: &str) -> Vec<(String, String)> {
    let mut a = text_attrs(size, TEXT, "start", class);
    a.push(("font-weight".into(), "bold".into()));
    a
}

/// The width `text` takes at `size` pixels, estimated for DejaVu Sans
/// (generous, so estimates never undershoot).
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' => 0.34,
            'm' | 'w' | 'M' | 'W' | '%' | '@' => 0.92,
            c if c.is_ascii_uppercase() => 0.72,
            c if c.is_ascii_digit() => 0.64,
            c if c.is_ascii() => 0.6,
            _ => 0.9,
        })
        .sum::<f64>()
        * size
}

/// `text` shortened with an ellipsis to fit `room` pixels at `size`.
fn fit(text: &str, room: f64, size: f64) -> String {
    if text_width(text, size) <= room {
        return text.to_string();
    }
    let room = room - text_width("…", size);
    let mut out = String::new();
    let mut width = 0.0;
    for c in text.chars() {
        let w = text_width(c.encode_utf8(&mut [0; 4]), size);
        if width + w > room {
            break;
        }
        width += w;
        out.push(c);
    }
    format!("{}…", out.trim_end())
}

/// The smallest and largest finite values, refused when there are none or
/// when their distance cannot be computed (values near ±1e308).
fn finite_range(values: impl Iterator<Item = f64>, what: &str) -> Result<(f64, f64), GraphicsError> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return Err(GraphicsError::new(format!("{what}: there are no finite values to draw")));
    }
    if !(hi - lo).is_finite() {
        return Err(GraphicsError::new(format!(
            "{what}: the values span more than a chart can draw ({lo:e} to {hi:e})"
        )));
    }
    Ok((lo, hi))
}

/// Round tick positions covering [lo, hi], about `target` of them.
fn ticks(lo: f64, hi: f64, target: usize) -> (f64, f64, f64, Vec<f64>) {
    let (lo, hi) =
        if (hi - lo).abs() < f64::EPSILON * lo.abs().max(1.0) { (lo - 1.0, hi + 1.0) } else { (lo, hi) };
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).floor() * step;
    let last = (hi / step).ceil() * step;
    let n = ((last - first) / step).round() as usize;
    let list = (0..=n.min(50)).map(|i| first + i as f64 * step).collect();
    (first, last, step, list)
}

/// A tick label: shared suffix (k, M, B) for the axis, decimals the step needs.
fn tick_label(v: f64, step: f64, axis_max: f64) -> String {
    let (div, suffix) = if axis_max >= 1e9 {
        (1e9, "B")
    } else if axis_max >= 1e6 {
        (1e6, "M")
    } else if axis_max >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let s = step / div;
    let decimals = if s >= 1.0 { 0 } else { ((-s.log10()).ceil() as usize).min(6) };
    let v = if v.abs() < step * 1e-9 { 0.0 } else { v };
    format!("{:.*}{suffix}", decimals, v / div)
}

/// A value written short for a card or a bar label: 1234 → 1,234; 1.5e6 → 1.5M.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let trim = |s: String| {
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
    };
    if a >= 1e9 {
        format!("{}B", trim(format!("{:.2}", v / 1e9)))
    } else if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 1000.0 {
        let whole = v.round() as i64;
        let digits = whole.abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if whole < 0 { format!("-{out}") } else { out }
    } else if v == v.trunc() {
        format!("{}", v as i64)
    } else {
        trim(format!("{v:.2}"))
    }
}

/// Background, title and legend; returns the document and the top of the
/// space left for the plot.
fn frame(c: Canvas, title: &str, series: &[String]) -> Result<(Svg, f64), GraphicsError> {
    let mut svg =
        Svg::new(c.width, c.height)?.rect(0.0, 0.0, c.width, c.height, &attrs(&[("fill", "#ffffff")]))?;
    let mut top = 14.0;
    if !title.is_empty() {
        svg = svg.text(
            16.0,
            top + TITLE_FONT,
            &fit(title, c.width - 32.0, TITLE_FONT),
            &bold_attrs(TITLE_FONT, "title"),
        )?;
        top += TITLE_FONT + 12.0;
    }
    if series.len() > 1 {
        let mut x = 16.0;
        let row = TICK_FONT + 8.0;
        top += 2.0;
        for (i, name) in series.iter().enumerate() {
            let label = fit(name, c.width / 3.0, TICK_FONT);
            let w = 16.0 + text_width(&label, TICK_FONT) + 16.0;
            if x + w > c.width - 8.0 && x > 16.0 {
                x = 16.0;
                top += row;
            }
            let color = PALETTE[i % PALETTE.len()];
            svg = svg
                .rect(x, top, 11.0, 11.0, &attrs(&[("fill", color), ("rx", "2"), ("class", "legend")]))?
                .text(x + 16.0, top + 10.0, &label, &text_attrs(TICK_FONT, TEXT, "start", "legend"))?;
            x += w;
        }
        top += row + 4.0;
    }
    Ok((svg, top + 6.0))
}

/// The value axis ticks and grid (horizontal lines for a vertical axis).
fn value_axis(
    mut svg: Svg,
    plot: Plot,
    (lo, hi, step, list): &(f64, f64, f64, Vec<f64>),
    vertical: bool,
) -> Result<Svg, GraphicsError> {
    let axis_max = lo.abs().max(hi.abs());
    for &v in list {
        let label = tick_label(v, *step, axis_max);
        if vertical {
            let y = plot.bottom - (v - lo) / (hi - lo) * plot.height();
            svg = svg
                .line(
                    plot.left,
                    y,
                    plot.right,
                    y,
                    &attrs(&[("stroke", GRID), ("stroke-width", "1"), ("class", "grid")]),
                )?
                .text(plot.left - 8.0, y + 4.0, &label, &text_attrs(TICK_FONT, MUTED, "end", "tick"))?;
        } else {
            let x = plot.left + (v - lo) / (hi - lo) * plot.width();
            svg = svg
                .line(
                    x,
                    plot.top,
                    x,
                    plot.bottom,
                    &attrs(&[("stroke", GRID), ("stroke-width", "1"), ("class", "grid")]),
                )?
                .text(x, plot.bottom + 18.0, &label, &text_attrs(TICK_FONT, MUTED, "middle", "tick"))?;
        }
    }
    Ok(svg)
}

fn tick_width(t: &(f64, f64, f64, Vec<f64>)) -> f64 {
    let axis_max = t.0.abs().max(t.1.abs());
    t.3.iter().map(|v| text_width(&tick_label(*v, t.2, axis_max), TICK_FONT)).fold(0.0, f64::max)
}

/// The x axis line along the plot's bottom, then the axis labels.
fn bottom_axis(svg: Svg, c: Canvas, plot: Plot, x_label: &str, y_label: &str) -> Result<Svg, GraphicsError> {
    let svg = svg.line(
        plot.left,
        plot.bottom,
        plot.right,
        plot.bottom,
        &attrs(&[("stroke", AXIS), ("class", "axis")]),
    )?;
    axis_labels(svg, c, plot, x_label, y_label)
}

fn axis_labels(
    mut svg: Svg,
    c: Canvas,
    plot: Plot,
    x_label: &str,
    y_label: &str,
) -> Result<Svg, GraphicsError> {
    if !x_label.is_empty() {
        svg = svg.text(
            plot.left + plot.width() / 2.0,
            c.height - 10.0,
            &fit(x_label, plot.width(), LABEL_FONT),
            &text_attrs(LABEL_FONT, TEXT, "middle", "axis-label"),
        )?;
    }
    if !y_label.is_empty() {
        let (x, y) = (18.0, plot.top + plot.height() / 2.0);
        let mut a = text_attrs(LABEL_FONT, TEXT, "middle", "axis-label");
        a.push(("transform".into(), format!("rotate(-90 {} {})", num(x), num(y))));
        svg = svg.text(x, y, &fit(y_label, plot.height(), LABEL_FONT), &a)?;
    }
    Ok(svg)
}

fn default_label(given: &str, fallback: &str) -> String {
    if given.is_empty() { fallback.to_string() } else { given.to_string() }
}

/// How category labels fit under their slots: shown every `every`-th,
/// turned 40° or level, and the room they take below the axis.
struct CategoryLayout {
    every: usize,
    turned: bool,
    room: f64,
    max_chars_width: f64,
}

fn category_layout(labels: &[String], slot: f64, max_room: f64) -> CategoryLayout {
    let widest = labels.iter().map(|l| text_width(l, TICK_FONT)).fold(0.0, f64::max);
    if widest <= slot * 0.92 {
        return CategoryLayout { every: 1, turned: false, room: 22.0, max_chars_width: slot * 0.92 };
    }
    // Turned 40°: neighbouring labels are `slot × sin 40°` apart across their
    // baselines and need about 1.5 font heights; thin them to fit.
    let every = ((TICK_FONT * 1.5) / (slot * 0.64)).ceil().max(1.0) as usize;
    let max_w = widest.min(max_room / 0.65);
    CategoryLayout { every, turned: true, room: 14.0 + max_w * 0.65 + 6.0, max_chars_width: max_w }
}

fn bars(data: &Table, spec: &ChartSpec, c: Canvas, horizontal: bool) -> Result<Svg, GraphicsError> {
    let categories = data.column_text(&spec.x)?;
    let series: Vec<Vec<f64>> = spec
        .y
        .iter()
        .map(|col| data.column_f64(col).map_err(GraphicsError::from))
        .collect::<Result<_, _>>()?;
    let n = categories.len();
    if n == 0 {
        return Err(GraphicsError::new("bar chart: the table has no rows"));
    }
    if n * series.len() > MAX_BARS {
        return Err(GraphicsError::new(format!(
            "bar chart: {} bars are more than the {MAX_BARS} a chart draws; aggregate or head() first",
            n * series.len()
        )));
    }
    let (lo, hi) = finite_range(series.iter().flatten().copied().chain([0.0]), "bar chart")?;
    let t = ticks(lo, hi, if horizontal { 6 } else { 5 });
    let (vlo, vhi) = (t.0, t.1);
    let value_label = default_label(&spec.y_label, if spec.y.len() == 1 { &spec.y[0] } else { "" });
    let cat_label = default_label(&spec.x_label, &spec.x);
    let (mut svg, top) = frame(c, &spec.title, &spec.y)?;
    let k = series.len();
    if horizontal {
        let label_room =
            categories.iter().map(|l| text_width(l, TICK_FONT)).fold(0.0, f64::max).min(c.width * 0.3);
        let left = 16.0 + if cat_label.is_empty() { 0.0 } else { 22.0 } + label_room + 10.0;
        let plot = Plot { left, top, right: c.width - 24.0, bottom: c.height - 44.0 };
        svg = value_axis(svg, plot, &t, false)?;
        let slot = plot.height() / n as f64;
        let every = ((TICK_FONT * 1.2) / slot).ceil().max(1.0) as usize;
        let zero = plot.left + (0.0 - vlo) / (vhi - vlo) * plot.width();
        let band = slot * 0.8 / k as f64;
        for (i, cat) in categories.iter().enumerate() {
            let y0 = plot.top + i as f64 * slot + slot * 0.1;
            for (s, values) in series.iter().enumerate() {
                let v = values[i];
                if !v.is_finite() {
                    continue;
                }
                let x = plot.left + (v - vlo) / (vhi - vlo) * plot.width();
                svg = svg.rect(
                    x.min(zero),
                    y0 + s as f64 * band,
                    (x - zero).abs(),
                    band.max(0.5),
                    &attrs(&[
                        ("fill", PALETTE[s % PALETTE.len()]),
                        ("shape-rendering", "crispEdges"),
                        ("class", "bar"),
                    ]),
                )?;
            }
            if i % every == 0 {
                svg = svg.text(
                    plot.left - 8.0,
                    plot.top + (i as f64 + 0.5) * slot + 4.0,
                    &fit(cat, label_room, TICK_FONT),
                    &text_attrs(TICK_FONT, TEXT, "end", "label"),
                )?;
            }
        }
        svg = svg.line(zero, plot.top, zero, plot.bottom, &attrs(&[("stroke", AXIS), ("class", "axis")]))?;
        let mut labelled = axis_labels(svg, c, plot, &value_label, "")?;
        if !cat_label.is_empty() {
            let (x, y) = (18.0, plot.top + plot.height() / 2.0);
            let mut a = text_attrs(LABEL_FONT, TEXT, "middle", "axis-label");
            a.push(("transform".into(), format!("rotate(-90 {} {})", num(x), num(y))));
            labelled = labelled.text(x, y, &fit(&cat_label, plot.height(), LABEL_FONT), &a)?;
        }
        return Ok(labelled);
    }
    let mut left = 16.0 + if value_label.is_empty() { 0.0 } else { 22.0 } + tick_width(&t) + 10.0;
    let right = c.width - 16.0;
    let mut slot = (right - left) / n as f64;
    let mut layout = category_layout(&categories, slot, c.height * 0.3);
    if layout.turned {
        // The first label, turned, reaches left of its bar: keep it inside the picture.
        let first = fit(&categories[0], layout.max_chars_width, TICK_FONT);
        let reach = text_width(&first, TICK_FONT) * 0.77 + 8.0 - slot / 2.0;
        if reach > left {
            left = reach.min(c.width * 0.4);
            slot = (right - left) / n as f64;
            layout = category_layout(&categories, slot, c.height * 0.3);
        }
    }
    let bottom = c.height - layout.room - if cat_label.is_empty() { 6.0 } else { 26.0 };
    let plot = Plot { left, top, right, bottom };
    svg = value_axis(svg, plot, &t, true)?;
    let zero = plot.bottom - (0.0 - vlo) / (vhi - vlo) * plot.height();
    // Bars thinner than a few pixels are drawn without gaps (a gap would round to 0 or 1 pixel unevenly).
    let fill = if slot < 4.0 { 1.0 } else { 0.8 };
    let band = slot * fill / k as f64;
    let show_values = n * k <= 16 && band >= 24.0;
    let axis_max = vlo.abs().max(vhi.abs());
    for (i, cat) in categories.iter().enumerate() {
        let x0 = plot.left + i as f64 * slot + slot * (1.0 - fill) / 2.0;
        for (s, values) in series.iter().enumerate() {
            let v = values[i];
            if !v.is_finite() {
                continue;
            }
            let y = plot.bottom - (v - vlo) / (vhi - vlo) * plot.height();
            let x = x0 + s as f64 * band;
            svg = svg.rect(
                x,
                y.min(zero),
                band.max(0.5),
                (y - zero).abs(),
                &attrs(&[
                    ("fill", PALETTE[s % PALETTE.len()]),
                    ("shape-rendering", "crispEdges"),
                    ("class", "bar"),
                ]),
            )?;
            if show_values {
                let text = if axis_max >= 1e4 { compact(v) } else { tick_label(v, t.2 / 10.0, axis_max) };
                let ty = if v >= 0.0 { y - 5.0 } else { y + TICK_FONT + 3.0 };
                svg = svg.text(
                    x + band / 2.0,
                    ty,
                    &fit(&text, band + slot * 0.2, 11.0),
                    &text_attrs(11.0, TEXT, "middle", "value"),
                )?;
            }
        }
        if i % layout.every == 0 {
            let cx = plot.left + (i as f64 + 0.5) * slot;
            let label = fit(cat, layout.max_chars_width, TICK_FONT);
            if layout.turned {
                let (x, y) = (cx + 4.0, plot.bottom + 14.0);
                let mut a = text_attrs(TICK_FONT, TEXT, "end", "label");
                a.push(("transform".into(), format!("rotate(-40 {} {})", num(x), num(y))));
                svg = svg.text(x, y, &label, &a)?;
            } else {
                svg = svg.text(
                    cx,
                    plot.bottom + 18.0,
                    &label,
                    &text_attrs(TICK_FONT, TEXT, "middle", "label"),
                )?;
            }
        }
    }
    svg = svg.line(plot.left, zero, plot.right, zero, &attrs(&[("stroke", AXIS), ("class", "axis")]))?;
    axis_labels(svg, c, plot, &cat_label, &value_label)
}

fn lines(data: &Table, spec: &ChartSpec, c: Canvas, scatter: bool) -> Result<Svg, GraphicsError> {
    let schema = data.schema()?;
    let x_dtype = schema.iter().find(|(n, _)| *n == spec.x).map(|(_, d)| d.as_str()).unwrap_or("");
    let numeric_x = is_numeric(x_dtype);
    let kind = if scatter { "scatter" } else { "line" };
    if scatter && !numeric_x {
        return Err(GraphicsError::new(format!(
            "scatter: x column `{}` is {x_dtype}; a scatter needs numbers on both axes",
            spec.x
        )));
    }
    let series: Vec<Vec<Option<f64>>> = spec
        .y
        .iter()
        .map(|col| data.column_f64_nullable(col).map_err(GraphicsError::from))
        .collect::<Result<_, _>>()?;
    let n = series.first().map_or(0, Vec::len);
    if n == 0 {
        return Err(GraphicsError::new(format!("{kind} chart: the table has no rows")));
    }
    if n * series.len() > MAX_POINTS {
        return Err(GraphicsError::new(format!(
            "{kind} chart: {} points are more than the {MAX_POINTS} a chart draws; sample or aggregate first",
            n * series.len()
        )));
    }
    let (xs, categories): (Vec<Option<f64>>, Vec<String>) = if numeric_x {
        (data.column_f64_nullable(&spec.x)?, Vec::new())
    } else {
        let cats = data.column_text(&spec.x).map_err(|e| GraphicsError::new(format!("{kind} chart: {e}")))?;
        ((0..n).map(|i| Some(i as f64)).collect(), cats)
    };
    let finite = |v: &Option<f64>| v.filter(|x| x.is_finite());
    let ys: Vec<f64> = series.iter().flatten().filter_map(finite).collect();
    let xv: Vec<f64> = xs.iter().filter_map(finite).collect();
    if ys.is_empty() || xv.is_empty() {
        return Err(GraphicsError::new(format!("{kind} chart: every value is null")));
    }
    let (ymin, ymax) = finite_range(ys.iter().copied(), kind)?;
    let ty = ticks(ymin, ymax, 5);
    let (xmin, xmax) = finite_range(xv.iter().copied(), kind)?;
    let y_label = default_label(&spec.y_label, if spec.y.len() == 1 { &spec.y[0] } else { "" });
    let x_label = default_label(&spec.x_label, &spec.x);
    let (mut svg, top) = frame(c, &spec.title, &spec.y)?;
    let left = 16.0 + if y_label.is_empty() { 0.0 } else { 22.0 } + tick_width(&ty) + 10.0;
    let right = c.width - 24.0;
    let bottom = c.height - 22.0 - if x_label.is_empty() { 6.0 } else { 26.0 };
    let plot = Plot { left, top, right, bottom };
    svg = value_axis(svg, plot, &ty, true)?;
    let (x_lo, x_hi) = if numeric_x {
        let tx = ticks(xmin, xmax, 6);
        svg = x_ticks(svg, plot, &tx)?;
        (tx.0, tx.1)
    } else {
        // Categories (dates, names) evenly spaced in row order; labels thinned to fit.
        let (lo, hi) = if n == 1 { (-0.5, 0.5) } else { (0.0, (n - 1) as f64) };
        // Labels longer than a quarter of the plot are shortened.
        let room = plot.width() / 4.0;
        let widest = categories.iter().map(|l| text_width(l, TICK_FONT)).fold(0.0, f64::max).min(room) + 16.0;
        let fits = (plot.width() / widest).floor().max(1.0) as usize;
        let every = n.div_ceil(fits.min(n)).max(1);
        for i in (0..n).step_by(every) {
            let x = plot.left + (i as f64 - lo) / (hi - lo) * plot.width();
            svg = svg
                .line(
                    x,
                    plot.bottom,
                    x,
                    plot.bottom + 4.0,
                    &attrs(&[("stroke", AXIS), ("class", "tick-mark")]),
                )?
                .text(
                    x,
                    plot.bottom + 18.0,
                    &fit(&categories[i], room, TICK_FONT),
                    &text_attrs(TICK_FONT, MUTED, "middle", "tick"),
                )?;
        }
        (lo, hi)
    };
    let px = |x: f64| plot.left + (x - x_lo) / (x_hi - x_lo) * plot.width();
    let py = |y: f64| plot.bottom - (y - ty.0) / (ty.1 - ty.0) * plot.height();
    let markers = !scatter && n <= 60;
    for (s, values) in series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut segments: Vec<Vec<(f64, f64)>> = Vec::new();
        for (x, y) in xs.iter().zip(values) {
            match (finite(x), finite(y)) {
                (Some(x), Some(y)) => run.push((px(x), py(y))),
                _ if !run.is_empty() => segments.push(std::mem::take(&mut run)),
                _ => {}
            }
        }
        if !run.is_empty() {
            segments.push(run);
        }
        for points in segments {
            if scatter {
                for &(x, y) in &points {
                    svg = svg.circle(
                        x,
                        y,
                        3.5,
                        &attrs(&[("fill", color), ("fill-opacity", "0.75"), ("class", "point")]),
                    )?;
                }
                continue;
            }
            svg = svg.polyline(
                &points,
                &attrs(&[
                    ("fill", "none"),
                    ("stroke", color),
                    ("stroke-width", "2"),
                    ("stroke-linejoin", "round"),
                    ("class", "line"),
                ]),
            )?;
            if markers || points.len() == 1 {
                for &(x, y) in &points {
                    svg = svg.circle(x, y, 3.0, &attrs(&[("fill", color), ("class", "point")]))?;
                }
            }
        }
    }
    bottom_axis(svg, c, plot, &x_label, &y_label)
}

fn x_ticks(mut svg: Svg, plot: Plot, t: &(f64, f64, f64, Vec<f64>)) -> Result<Svg, GraphicsError> {
    let axis_max = t.0.abs().max(t.1.abs());
    for &v in &t.3 {
        let x = plot.left + (v - t.0) / (t.1 - t.0) * plot.width();
        svg = svg
            .line(x, plot.bottom, x, plot.bottom + 4.0, &attrs(&[("stroke", AXIS), ("class", "tick-mark")]))?
            .text(
                x,
                plot.bottom + 18.0,
                &tick_label(v, t.2, axis_max),
                &text_attrs(TICK_FONT, MUTED, "middle", "tick"),
            )?;
    }
    Ok(svg)
}

fn histogram(data: &Table, spec: &ChartSpec, c: Canvas) -> Result<Svg, GraphicsError> {
    let values: Vec<f64> =
        data.column_f64_nullable(&spec.x)?.into_iter().flatten().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return Err(GraphicsError::new("histogram: the column has no values"));
    }
    let (min, max) = finite_range(values.iter().copied(), "histogram")?;
    let bins = if spec.bins > 0 {
        spec.bins.min(500) as usize
    } else {
        ((values.len() as f64).log2().ceil() as usize + 1).clamp(5, 40)
    };
    let pad = (min.abs() * 1e-6).max(0.5);
    let (lo, hi) = if max > min { (min, max) } else { (min - pad, max + pad) };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for v in &values {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    let top_count = counts.iter().copied().max().unwrap_or(1) as f64;
    let mut ty = ticks(0.0, top_count, 5);
    if ty.2 < 1.0 {
        ty = ticks(0.0, top_count.max(5.0), 5);
    }
    let x_label = default_label(&spec.x_label, &spec.x);
    let y_label = default_label(&spec.y_label, "count");
    let (mut svg, top) = frame(c, &spec.title, &[])?;
    let left = 16.0 + 22.0 + tick_width(&ty) + 10.0;
    let plot = Plot { left, top, right: c.width - 24.0, bottom: c.height - 48.0 };
    svg = value_axis(svg, plot, &ty, true)?;
    let tx = ticks(lo, hi, 6);
    let px = |x: f64| plot.left + (x - tx.0) / (tx.1 - tx.0) * plot.width();
    let py = |y: f64| plot.bottom - (y - ty.0) / (ty.1 - ty.0) * plot.height();
    for (i, &count) in counts.iter().enumerate() {
        let (x0, x1) = (px(lo + i as f64 * width), px(lo + (i + 1) as f64 * width));
        let y = py(count as f64);
        svg = svg.rect(
            x0 + 0.5,
            y,
            (x1 - x0 - 1.0).max(0.5),
            plot.bottom - y,
            &attrs(&[("fill", PALETTE[0]), ("shape-rendering", "crispEdges"), ("class", "bin")]),
        )?;
    }
    svg = x_ticks(svg, plot, &tx)?;
    bottom_axis(svg, c, plot, &x_label, &y_label)
}

fn is_numeric(dtype: &str) -> bool {
    matches!(dtype, "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "f32" | "f64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (lo, hi, step, list) = ticks(0.0, 87.0, 5);
        assert_eq!((lo, hi, step), (0.0, 100.0, 20.0));
        assert_eq!(list.len(), 6);
        assert_eq!(tick_label(2_500_000.0, 500_000.0, 3e6), "2.5M");
        assert_eq!(tick_label(0.25, 0.05, 1.0), "0.25");
    }

    #[test]
    fn compact_numbers_read_well() {
        assert_eq!(compact(1234.0), "1,234");
        assert_eq!(compact(1_500_000.0), "1.5M");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(12.345), "12.35");
        assert_eq!(compact(-42.0), "-42");
    }

    #[test]
    fn long_labels_are_shortened() {
        let label = fit("a very long category name indeed", 60.0, 12.0);
        assert!(label.ends_with('…') && text_width(&label, 12.0) <= 60.0, "{label}");
    }
}

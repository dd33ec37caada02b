//! `weavelet report RUN -o report.html`: one self-contained HTML page about a
//! recorded run — the graph coloured by the run, a timeline, each node's cost,
//! every output previewed, the logs. Nothing in it is fetched: styles are
//! inline, pictures are data URIs, and its Content-Security-Policy forbids
//! any other source. What a guest wrote (names, values, logs, SVG) is escaped
//! or shown as an image, never parsed as this page's markup.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use weavelet::store::{NodeRecord, RunRecord};
use weavelet::{GraphInput, GraphNode, GraphSource, RunPlanRecord, Value, ValueType, human_bytes, sanitize};

use super::display;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet report last -o report.html             # the latest run
  weavelet report 12 -o out/run-12.html --rows 20  # more rows of each table")]
pub struct ReportArgs {
    /// The run's number (`weavelet runs` lists them; `last` for the latest).
    run: String,
    /// Where to write the page.
    #[arg(long = "output", short = 'o', value_name = "FILE", default_value = "report.html")]
    file: PathBuf,
    /// Rows of each output table to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    rows: u64,
    /// The cache folder holding the history (default: $WEAVELET_CACHE_DIR or the platform cache dir).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Columns of a table preview, and characters of a cell or a shown value.
const MAX_COLUMNS: usize = 40;
const MAX_CELL: usize = 200;
const MAX_TEXT: usize = 4000;
/// An SVG output larger than this is not embedded.
const MAX_SVG: usize = 4 << 20;
/// Thumbnails' longest side, and how many images of a list are shown.
const THUMB: u32 = 320;
const MAX_IMAGES: usize = 12;

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(args.cache_dir.as_deref())?;
    let (run, nodes) = super::runs::find_run(&store, &args.run)?;
    let failed = |e: weavelet::store::StoreError| weavelet::Error::from(e);
    let plan = store.run_plan(run.id).map_err(failed)?.map(|(plan, _)| plan);
    let logs = store.logs(run.id, None, 0).map_err(failed)?;
    let html = page(&run, &nodes, plan.as_ref(), &logs, &store, args.rows);
    if let Some(parent) = args.file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&args.file, &html).with_context(|| format!("writing {}", args.file.display()))?;
    if !args.quiet {
        eprintln!(
            "wrote {} (run {}, {} nodes, {})",
            args.file.display(),
            run.id,
            nodes.len(),
            human_bytes(html.len() as u64)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Text for HTML: `&`, `<`, `>` and quotes escaped, terminal sequences gone.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in sanitize(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#111827;margin:0;background:#f9fafb}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.meta{color:#4b5563;margin:2px 0}code,pre{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:12.5px}
pre{background:#fff;border:1px solid #e5e7eb;padding:8px;overflow:auto;max-height:420px;margin:4px 0}
table{border-collapse:collapse;background:#fff;margin:4px 0}
th,td{border:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{display:inline-block;padding:0 8px;border-radius:9px;border:1px solid}
.figure{background:#fff;border:1px solid #e5e7eb;padding:8px;overflow:auto}
.figure svg{max-width:100%;height:auto}
.output{margin:14px 0}.output h3{font-size:15px;margin:0 0 4px}
.thumbs img{margin:4px;border:1px solid #e5e7eb;background:#fff}
.muted{color:#6b7280}details{margin:6px 0}summary{cursor:pointer;font-weight:600}
";

/// The whole page.
fn page(
    run: &RunRecord,
    nodes: &[NodeRecord],
    plan: Option<&RunPlanRecord>,
    logs: &[(String, weavelet::LogLine, i64)],
    store: &weavelet::ResultStore,
    rows: u64,
) -> String {
    let mut h = String::new();
    let title = format!("Weavelet run {} — {}", run.id, run.pipeline);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"generator\" content=\"weavelet {}\"><title>{}</title><style>{STYLE}</style></head>\n<body><main>\n",
        env!("CARGO_PKG_VERSION"),
        esc(&title)
    );
    summary(&mut h, run, plan);
    graph(&mut h, run, nodes, plan);
    timeline(&mut h, run, nodes);
    costs(&mut h, nodes);
    outputs(&mut h, nodes, plan, store, rows);
    log_section(&mut h, nodes, logs);
    h.push_str("</main></body></html>\n");
    h
}

fn summary(h: &mut String, run: &RunRecord, plan: Option<&RunPlanRecord>) {
    let (fill, stroke) = super::graph::status_colours(if run.status == "ok" { "ran" } else { "failed" });
    let took = display::run_took(run).map_or(String::new(), |took| format!(", took {took}"));
    let _ = write!(
        h,
        "<h1>Run {} of <code>{}</code></h1>\n<p class=\"meta\"><span id=\"run-status\" class=\"status\" \
         style=\"background:{fill};border-color:{stroke}\">{}</span> started {} ({}){took} · {} ran, {} from the cache, \
         {} failed</p>\n<p class=\"meta\">command: <code>{}</code></p>\n",
        run.id,
        esc(&run.pipeline),
        esc(&run.status),
        super::timestamp(run.started_ms),
        super::zone(run.started_ms),
        run.counts[0],
        run.counts[1],
        run.counts[2],
        esc(&run.command)
    );
    if run.status == "interrupted" {
        h.push_str("<p class=\"meta\">The run was interrupted: nodes not listed had not finished.</p>\n");
    }
    if let Some(plan) = plan
        && !plan.params.is_empty()
    {
        h.push_str("<h2>Parameters</h2>\n<table id=\"params\"><tr><th>name</th><th>value</th></tr>\n");
        for (name, value) in &plan.params {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
                esc(name),
                esc(&cut(&value.to_string(), MAX_CELL))
            );
        }
        h.push_str("</table>\n");
    }
}

/// The planned DAG as the run recorded it (nodes the run had, in its history,
/// when it was recorded before plans were).
fn graph(h: &mut String, run: &RunRecord, nodes: &[NodeRecord], plan: Option<&RunPlanRecord>) {
    let graph_nodes: Vec<GraphNode> = match plan {
        Some(plan) => {
            let index = |name: &str| plan.nodes.iter().position(|n| n.node == name);
            plan.nodes
                .iter()
                .map(|n| GraphNode {
                    name: n.node.clone(),
                    source: n.source.clone(),
                    output: ValueType::Any,
                    inputs: n
                        .inputs
                        .iter()
                        .map(|(input, from)| GraphInput {
                            name: input.clone(),
                            ty: ValueType::Any,
                            from: if let Some(node) = from.strip_prefix("node ") {
                                index(node).map_or(GraphSource::Default, GraphSource::Node)
                            } else if let Some(param) = from.strip_prefix("param ") {
                                let value =
                                    plan.params.iter().find(|(p, _)| p == param).map(|(_, v)| v.clone());
                                GraphSource::Param {
                                    name: param.to_string(),
                                    value: value.unwrap_or(Value::Null),
                                }
                            } else {
                                GraphSource::Default
                            },
                        })
                        .collect(),
                    target: plan.targets.contains(&n.node),
                })
                .collect()
        }
        None => nodes
            .iter()
            .map(|n| GraphNode {
                name: n.node.clone(),
                source: String::new(),
                output: ValueType::Any,
                inputs: Vec::new(),
                target: false,
            })
            .collect(),
    };
    h.push_str("<h2>Graph</h2>\n");
    match super::graph::run_svg(graph_nodes, nodes, run.id, format!("run {}", run.id)) {
        // Weavelet's own drawing, every text in it escaped by the SVG writer.
        Ok(svg) => {
            let svg = svg.trim_start_matches(|c| c != '<');
            let svg =
                svg.strip_prefix("<?xml").map_or(svg, |rest| rest.split_once("?>").map_or(rest, |(_, s)| s));
            let _ = writeln!(h, "<div class=\"figure\" id=\"graph\">{svg}</div>");
        }
        Err(e) => {
            let _ =
                writeln!(h, "<p class=\"muted\">The graph could not be drawn: {}</p>", esc(&e.to_string()));
        }
    }
    if plan.is_none() {
        h.push_str(
            "<p class=\"muted\">This run was recorded before Weavelet kept each run's plan: its nodes are shown \
             without their edges.</p>\n",
        );
    }
}

/// Each node as a bar from its start to its end, on as few lanes as the
/// overlaps need (nodes that ran at once are on different lanes).
fn timeline(h: &mut String, run: &RunRecord, nodes: &[NodeRecord]) {
    h.push_str("<h2>Timeline</h2>\n");
    let spans: Vec<(&NodeRecord, f64, f64)> = nodes
        .iter()
        .filter(|n| n.status != "skipped")
        .map(|n| {
            let start = (n.started_ms - run.started_ms).max(0) as f64;
            (n, start, start + n.duration.as_secs_f64() * 1000.0)
        })
        .collect();
    if spans.is_empty() {
        h.push_str("<p class=\"muted\">No node started.</p>\n");
        return;
    }
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|&a, &b| spans[a].1.total_cmp(&spans[b].1));
    let mut lane_end: Vec<f64> = Vec::new();
    let mut lane = vec![0; spans.len()];
    for &i in &order {
        let (_, start, end) = spans[i];
        match lane_end.iter().position(|&e| e <= start) {
            Some(l) => {
                lane[i] = l;
                lane_end[l] = end;
            }
            None => {
                lane[i] = lane_end.len();
                lane_end.push(end);
            }
        }
    }
    let total = spans.iter().map(|s| s.2).fold(1.0, f64::max);
    let (width, left, row) = (1100.0, 10.0, 26.0);
    let height = row * lane_end.len() as f64 + 30.0;
    let x = |ms: f64| left + ms / total * (width - 2.0 * left);
    let _ = write!(
        h,
        "<div class=\"figure\"><svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    for k in 0..=4 {
        let ms = total * f64::from(k) / 4.0;
        let _ = write!(
            h,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"0\" y2=\"{1:.1}\" stroke=\"#e5e7eb\"/><text x=\"{0:.1}\" y=\"{2:.1}\" \
             fill=\"#6b7280\" text-anchor=\"{3}\">{4}</text>",
            x(ms),
            height - 16.0,
            height - 4.0,
            if k == 0 {
                "start"
            } else if k == 4 {
                "end"
            } else {
                "middle"
            },
            display::duration(std::time::Duration::from_micros((ms * 1000.0) as u64))
        );
    }
    let bars: Vec<(f64, f64)> =
        spans.iter().map(|(_, start, end)| (x(*start), x(*end).max(x(*start) + 2.0))).collect();
    // Each bar's neighbours on its lane: where the one before ends and the one after starts.
    let mut room = vec![(0.0, width); spans.len()];
    let mut next: Vec<Option<usize>> = vec![None; spans.len()];
    let mut last_on_lane: Vec<Option<usize>> = vec![None; lane_end.len()];
    for &i in &order {
        if let Some(before) = last_on_lane[lane[i]] {
            room[i].0 = bars[before].1;
            room[before].1 = bars[i].0;
            next[before] = Some(i);
        }
        last_on_lane[lane[i]] = Some(i);
    }
    // Left to right, so a label placed after a bar is room the next one's label cannot take.
    for &i in &order {
        let n = spans[i].0;
        let (fill, stroke) = super::graph::status_colours(&n.status);
        let (x0, x1) = bars[i];
        let y = row * lane[i] as f64 + 3.0;
        // The name inside the bar when it fits, else beside it where its lane has room,
        // else only in the bar's tooltip.
        let text_w = 6.5 * n.node.chars().count() as f64 + 8.0;
        let (tx, anchor, label) = if x1 - x0 > text_w {
            (x0 + 4.0, "start", esc(&n.node))
        } else if x1 + text_w < room[i].1 {
            if let Some(after) = next[i] {
                room[after].0 = room[after].0.max(x1 + text_w);
            }
            (x1 + 4.0, "start", esc(&n.node))
        } else if x0 - text_w > room[i].0 {
            (x0 - 4.0, "end", esc(&n.node))
        } else {
            (x0, "start", String::new())
        };
        let _ = write!(
            h,
            "<g class=\"bar\" data-node=\"{name}\"><title>{name}: {status}, {took}</title><rect x=\"{x0:.1}\" y=\"{y:.1}\" \
             width=\"{w:.1}\" height=\"{hh:.1}\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\"/><text x=\"{tx:.1}\" \
             y=\"{ty:.1}\" text-anchor=\"{anchor}\">{label}</text></g>",
            name = esc(&n.node),
            status = esc(&n.status),
            took = display::duration(n.duration),
            w = x1 - x0,
            hh = row - 6.0,
            ty = y + 14.0,
        );
    }
    h.push_str(
        "</svg></div>\n<p class=\"muted\">Nodes that ran at the same time are on different lanes.</p>\n",
    );
}

fn costs(h: &mut String, nodes: &[NodeRecord]) {
    h.push_str(
        "<h2>Cost per node</h2>\n<table id=\"costs\"><tr><th>node</th><th>status</th><th>ran in</th><th>attempts</th>\
         <th>took</th><th>bytes in</th><th>bytes out</th><th>peak memory</th><th>fuel</th><th>note</th></tr>\n",
    );
    for n in nodes {
        let (fill, stroke) = super::graph::status_colours(&n.status);
        let [ran_in, attempts, took, bytes_in, bytes_out, peak, fuel] = display::node_cells(n);
        let _ = writeln!(
            h,
            "<tr data-node=\"{node}\" data-status=\"{status}\"><td><code>{node}</code></td><td><span class=\"status\" \
             style=\"background:{fill};border-color:{stroke}\">{status}</span></td><td>{ran_in}</td><td class=\"num\">\
             {attempts}</td><td class=\"num\">{took}</td><td class=\"num\">{bytes_in}</td><td class=\"num\">{bytes_out}\
             </td><td class=\"num\">{peak}</td><td class=\"num\">{fuel}</td><td>{note}</td></tr>",
            node = esc(&n.node),
            status = esc(&n.status),
            note = esc(&cut(n.error.as_deref().or(n.reason.as_deref()).unwrap_or(""), MAX_TEXT))
        );
    }
    h.push_str("</table>\n");
}

/// Every requested output (every node's, when the run's plan is unknown),
/// read back from the result cache by its identity.
fn outputs(
    h: &mut String,
    nodes: &[NodeRecord],
    plan: Option<&RunPlanRecord>,
    store: &weavelet::ResultStore,
    rows: u64,
) {
    h.push_str("<h2>Outputs</h2>\n");
    let wanted: Vec<&NodeRecord> = match plan {
        Some(plan) => plan.targets.iter().filter_map(|t| nodes.iter().find(|n| &n.node == t)).collect(),
        None => nodes.iter().collect(),
    };
    if wanted.is_empty() {
        h.push_str("<p class=\"muted\">No output was computed.</p>\n");
    }
    for n in wanted {
        let _ = write!(h, "<div class=\"output\" data-node=\"{0}\"><h3><code>{0}</code></h3>", esc(&n.node));
        let value = match &n.output {
            Some(output) => store.value_of_output(output),
            None => Ok(None),
        };
        match value {
            Ok(Some(value)) => preview(h, &value, rows),
            Ok(None) if n.status == "failed" || n.status == "skipped" => {
                let _ = write!(h, "<p class=\"muted\">None: the node {}.</p>", esc(&n.status));
            }
            Ok(None) => h.push_str(
                "<p class=\"muted\">Not in the result cache (the node is not cacheable, the run did not use the \
                 cache, or the result was collected since): run the pipeline again to see it.</p>",
            ),
            Err(e) => {
                let _ = write!(h, "<p class=\"muted\">It could not be read back: {}</p>", esc(&e));
            }
        }
        h.push_str("</div>\n");
    }
}

/// A value as the page shows it: a table's first rows under its schema, an
/// SVG or image as a picture, anything else as text.
fn preview(h: &mut String, value: &Value, rows: u64) {
    let picture = |h: &mut String, image: &weavelet::Image| match image
        .thumbnail(THUMB, THUMB)
        .and_then(|t| t.encode("png"))
    {
        Ok(png) => {
            let _ = write!(
                h,
                "<img alt=\"{0}\" title=\"{0} ({1} × {2})\" src=\"data:image/png;base64,{3}\">",
                esc(&cut(image.name(), MAX_CELL)),
                image.width(),
                image.height(),
                weavelet::base64(&png)
            );
        }
        Err(e) => {
            let _ = write!(h, "<p class=\"muted\">{}</p>", esc(&e.to_string()));
        }
    };
    match value {
        Value::Table(table) => table_preview(h, table, rows),
        Value::Svg(svg) => {
            let text = svg.to_text();
            if text.len() > MAX_SVG {
                let _ = write!(
                    h,
                    "<p class=\"muted\">An SVG of {}: too large to embed.</p>",
                    human_bytes(text.len() as u64)
                );
            } else {
                // As an image: a guest's SVG never becomes part of this page's document.
                let _ = write!(
                    h,
                    "<div class=\"figure\"><img class=\"svg\" alt=\"SVG output\" src=\"data:image/svg+xml;base64,{}\"></div>",
                    weavelet::base64(text.as_bytes())
                );
            }
        }
        Value::Image(image) => {
            h.push_str("<div class=\"thumbs\">");
            picture(h, image);
            h.push_str("</div>");
        }
        Value::Images(images) => {
            let _ = write!(h, "<p class=\"meta\">{} images</p><div class=\"thumbs\">", images.len());
            for image in images.iter().take(MAX_IMAGES) {
                picture(h, image);
            }
            h.push_str("</div>");
        }
        other => {
            let _ = write!(h, "<pre>{}</pre>", esc(&cut(&other.to_string(), MAX_TEXT)));
        }
    }
}

fn table_preview(h: &mut String, table: &weavelet::Table, rows: u64) {
    type Shown = (Vec<(String, String)>, serde_json::Value, u64);
    let shown = (|| -> Result<Shown, String> {
        let schema = table.schema().map_err(|e| e.to_string())?;
        let height = table.height().map_err(|e| e.to_string())?;
        let head = table.head(rows).map_err(|e| e.to_string())?;
        let records = weavelet::table::io::json_records(&head).map_err(|e| e.to_string())?;
        let records = serde_json::from_slice(&records).map_err(|e| e.to_string())?;
        Ok((schema, records, height))
    })();
    let (schema, records, height) = match shown {
        Ok(shown) => shown,
        Err(e) => {
            let _ = write!(h, "<p class=\"muted\">The table could not be read: {}</p>", esc(&e));
            return;
        }
    };
    let _ = write!(
        h,
        "<p class=\"meta\">A table of {height} rows and {} columns{}.</p><table class=\"preview\"><tr>",
        schema.len(),
        if height > rows { format!("; the first {rows}") } else { String::new() }
    );
    for (name, ty) in schema.iter().take(MAX_COLUMNS) {
        let _ =
            write!(h, "<th>{}<br><span class=\"muted\">{}</span></th>", esc(&cut(name, MAX_CELL)), esc(ty));
    }
    h.push_str("</tr>\n");
    for record in records.as_array().into_iter().flatten() {
        h.push_str("<tr>");
        for (name, _) in schema.iter().take(MAX_COLUMNS) {
            let cell = match record.get(name) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            let _ = write!(h, "<td>{}</td>", esc(&cut(&cell, MAX_CELL)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>");
    if schema.len() > MAX_COLUMNS {
        let _ = write!(h, "<p class=\"muted\">{} more columns not shown.</p>", schema.len() - MAX_COLUMNS);
    }
}

fn log_section(h: &mut String, nodes: &[NodeRecord], logs: &[(String, weavelet::LogLine, i64)]) {
    h.push_str("<h2>Logs</h2>\n");
    if logs.is_empty() {
        h.push_str("<p class=\"muted\">No node logged anything.</p>\n");
        return;
    }
    // Grouped once: a run may have thousands of nodes, each with up to its log quota of lines.
    let mut by_node: std::collections::HashMap<&str, Vec<&weavelet::LogLine>> =
        std::collections::HashMap::new();
    for (node, line, _) in logs {
        by_node.entry(node.as_str()).or_default().push(line);
    }
    for n in nodes {
        let Some(lines) = by_node.remove(n.node.as_str()) else { continue };
        let _ = write!(
            h,
            "<details open class=\"log\" data-node=\"{0}\"><summary><code>{0}</code> ({1} line{2})</summary><pre>",
            esc(&n.node),
            lines.len(),
            if lines.len() == 1 { "" } else { "s" }
        );
        for line in lines {
            let time = super::timestamp(line.at_ms);
            let _ = writeln!(
                h,
                "{} {:<5} {}",
                time.get(11..).unwrap_or(&time),
                line.level.name(),
                esc(&line.message)
            );
        }
        h.push_str("</pre></details>\n");
    }
}

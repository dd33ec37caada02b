//! `weavelet graph`: a pipeline's DAG as SVG, PNG, Mermaid or Graphviz DOT,
//! optionally coloured by what a run would do (`--dry-run`) or by a past run
//! (`--run N`). SVG and PNG are drawn by Weavelet's own graphics, laid out by
//! [`crate::layout`].

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use weavelet::{
    CacheUse, Config, GraphNode, GraphSource, Reason, RunOptions, Runtime, Svg, Value, human_bytes,
};

use super::layout::{self, Edge, Vertex};
use super::{display, errors};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weavelet graph examples/demo                       # Mermaid, to paste into Markdown
  weavelet graph examples/demo --file graph.svg      # the format follows the extension
  weavelet graph examples/demo --dry-run --file plan.png
  weavelet graph examples/demo --run last --format dot | dot -Tpdf > run.pdf")]
pub struct GraphArgs {
    /// The pipeline: a weavelet.toml, a folder holding one, or a single .rhai script.
    pipeline: PathBuf,
    /// `svg`, `png`, `mermaid`, `dot` or `json` (default: from --file's extension, else mermaid).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write the drawing to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Set a parameter (repeatable), as for `run`: --param count=100.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = super::run::parse_param)]
    params: Vec<(String, String)>,
    /// Draw only this node and what it needs (repeatable; default: what `run` computes).
    /// `--output` is its earlier spelling, still accepted.
    #[arg(long = "target", short = 't', value_name = "NODE", alias = "output")]
    outputs: Vec<String>,
    /// Colour each node by what `run` would do now: cached, will run (and why), not cacheable.
    #[arg(long, conflicts_with = "run")]
    dry_run: bool,
    /// Colour each node by a past run (`weavelet runs`; `last` for the latest): status,
    /// duration, peak memory, fuel.
    #[arg(long, value_name = "RUN")]
    run: Option<String>,
    /// Where compiled components and the history are kept (default: $WEAVELET_CACHE_DIR or the platform cache dir).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Print no progress while loading the pipeline.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Svg,
    Png,
    Mermaid,
    Dot,
    Json,
}

/// What a node is shown as.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
enum Class {
    Plain,
    Cached,
    WillRun,
    NotCacheable,
    Ran,
    Failed,
    Skipped,
    Given,
    Absent,
}

impl Class {
    fn key(self) -> &'static str {
        match self {
            Class::Plain => "plain",
            Class::Cached => "cached",
            Class::WillRun => "will-run",
            Class::NotCacheable => "not-cacheable",
            Class::Ran => "ran",
            Class::Failed => "failed",
            Class::Skipped => "skipped",
            Class::Given => "given",
            Class::Absent => "not-in-run",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Class::Plain => "node",
            Class::Cached => "from the cache",
            Class::WillRun => "will run",
            Class::NotCacheable => "runs: not cacheable",
            Class::Ran => "ran",
            Class::Failed => "failed",
            Class::Skipped => "skipped",
            Class::Given => "given (--override)",
            Class::Absent => "not in that run",
        }
    }

    /// Fill and stroke.
    fn colours(self) -> (&'static str, &'static str) {
        match self {
            Class::Plain => ("#ffffff", "#4b5563"),
            Class::Cached => ("#dbeafe", "#2563eb"),
            Class::WillRun => ("#fef3c7", "#d97706"),
            Class::NotCacheable => ("#f3e8ff", "#9333ea"),
            Class::Ran => ("#dcfce7", "#16a34a"),
            Class::Failed => ("#fee2e2", "#dc2626"),
            Class::Skipped | Class::Absent => ("#f3f4f6", "#9ca3af"),
            Class::Given => ("#e0f2fe", "#0284c7"),
        }
    }
}

impl Class {
    /// The class of a node that ended with history status `status`.
    fn of_status(status: &str) -> Class {
        match status {
            "ran" => Class::Ran,
            "cached" => Class::Cached,
            "failed" => Class::Failed,
            "overridden" => Class::Given,
            _ => Class::Skipped,
        }
    }
}

/// Fill and stroke of a node that ended with history status `status`, as the graph draws it.
pub(crate) fn status_colours(status: &str) -> (&'static str, &'static str) {
    Class::of_status(status).colours()
}

/// A node's look: its class and a line saying why.
#[derive(Clone, Debug)]
struct Look {
    class: Class,
    detail: String,
}

/// The drawing's content, whatever the format.
struct Drawing {
    nodes: Vec<GraphNode>,
    looks: Vec<Look>,
    /// Parameters read by some node: name and the value shown.
    params: Vec<(String, String)>,
    /// Sources in order of first appearance (the groups).
    sources: Vec<String>,
    title: String,
}

impl Drawing {
    /// The drawing of `nodes` looking as `looks` say: the parameters they
    /// read and their sources gathered in order of first appearance.
    fn new(nodes: Vec<GraphNode>, looks: Vec<Look>, title: String) -> Drawing {
        let mut params: Vec<(String, String)> = Vec::new();
        let mut sources: Vec<String> = Vec::new();
        for node in &nodes {
            if !sources.contains(&node.source) {
                sources.push(node.source.clone());
            }
            for input in &node.inputs {
                if let GraphSource::Param { name, value } = &input.from
                    && !params.iter().any(|(p, _)| p == name)
                {
                    params.push((name.clone(), shown(value)));
                }
            }
        }
        Drawing { nodes, looks, params, sources, title }
    }

    /// The index of parameter `name` among [`Drawing::params`].
    fn param(&self, name: &str) -> usize {
        self.params.iter().position(|(p, _)| p == name).unwrap_or(0)
    }

    /// Every edge: the id of what feeds it (`n3` a node, `p0` a parameter),
    /// the node it feeds, and the input's name. Defaults feed nothing drawn.
    fn edges(&self) -> Vec<(String, usize, &str)> {
        let mut edges = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            for input in &node.inputs {
                let from = match &input.from {
                    GraphSource::Node(j) => format!("n{j}"),
                    GraphSource::Param { name, .. } => format!("p{}", self.param(name)),
                    GraphSource::Default => continue,
                };
                edges.push((from, i, input.name.as_str()));
            }
        }
        edges
    }
}

pub fn run(args: GraphArgs) -> anyhow::Result<ExitCode> {
    let format = match (args.format, &args.file) {
        (Some(f), _) => f,
        (None, Some(file)) => {
            match file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
                Some("svg") => Format::Svg,
                Some("png") => Format::Png,
                Some("dot" | "gv") => Format::Dot,
                Some("mmd" | "mermaid" | "md") => Format::Mermaid,
                Some("json") => Format::Json,
                _ => bail!(
                    "cannot tell the format from {}: name it .svg, .png, .dot, .mmd or .json, or pass --format",
                    file.display()
                ),
            }
        }
        (None, None) => Format::Mermaid,
    };
    if format == Format::Png && args.file.is_none() && std::io::stdout().is_terminal() {
        bail!("a PNG is not for a terminal: pass --file graph.png, or redirect the output");
    }
    let mut config = Config::default();
    if let Some(dir) = &args.cache_dir {
        config = config.cache_dir(Some(dir.clone()));
    }
    let runtime = Runtime::new(config)?;
    let mut pipeline = super::run::load(&runtime, &args.pipeline, args.quiet)?;
    for (k, v) in &args.params {
        pipeline.set_param_text(k, v);
    }
    let outputs: Vec<&str> = args.outputs.iter().map(String::as_str).collect();
    let plan = pipeline.plan(&outputs)?;
    let nodes = plan.graph();
    let mut looks = vec![Look { class: Class::Plain, detail: String::new() }; nodes.len()];
    let mut title = pipeline.name().to_string();
    if args.dry_run {
        let steps = runtime.dry_run(&plan, &RunOptions::new().cache(CacheUse::ReuseAndStore))?;
        let by_name: HashMap<&str, usize> =
            nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
        for step in &steps {
            let Some(&i) = by_name.get(step.node.as_str()) else { continue };
            let class = match &step.why {
                _ if step.cached => Class::Cached,
                Reason::Given => Class::Given,
                Reason::NotCacheable(_) => Class::NotCacheable,
                _ => Class::WillRun,
            };
            looks[i] = Look { class, detail: errors::reason(&step.why) };
        }
        title = format!("{title}: what a run would do now");
    } else if let Some(id) = &args.run {
        let store = super::open_store(args.cache_dir.as_deref())?;
        let (record, ran) = super::runs::find_run(&store, id)?;
        let id = record.id;
        let (run_looks, matched) = looks_of_run(&nodes, &ran, id);
        looks = run_looks;
        if matched == 0 {
            bail!(
                "run {id} ({}) ran none of this pipeline's nodes: is it a run of another pipeline? (see `weavelet runs`)",
                record.pipeline
            );
        }
        title = format!(
            "{title}: run {id}, {}, {} ({})",
            record.status,
            super::timestamp(record.started_ms),
            super::zone(record.started_ms)
        );
    }
    let drawing = Drawing::new(nodes, looks, title);
    let bytes = match format {
        Format::Mermaid => mermaid(&drawing).into_bytes(),
        Format::Dot => dot(&drawing).into_bytes(),
        Format::Json => json(&drawing).into_bytes(),
        Format::Svg => svg(&drawing)?.to_text().into_bytes(),
        Format::Png => {
            let doc = svg(&drawing)?;
            // Sharp at 1.5×, and never past the largest picture Weavelet makes.
            let largest = doc.width().max(doc.height()).max(1.0);
            let scale = (PNG_SIDE / largest).min(1.5);
            weavelet::graphics::raster::render(&doc, scale).and_then(|image| image.encode("png"))
        }
        .map_err(|e| {
            anyhow!("drawing the PNG: {e} (an SVG of the same graph has no size limit: --format svg)")
        })?,
    };
    match &args.file {
        Some(file) => {
            write_file(file, &bytes)?;
            if !args.quiet {
                eprintln!(
                    "wrote {} ({} nodes, {})",
                    file.display(),
                    drawing.nodes.len(),
                    human_bytes(bytes.len() as u64)
                );
            }
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(&bytes).and_then(|()| stdout.flush()).is_err() {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Each of `nodes` coloured by what run `id` (its node records `ran`) did to
/// it, and how many of them the run had.
fn looks_of_run(nodes: &[GraphNode], ran: &[weavelet::store::NodeRecord], id: i64) -> (Vec<Look>, usize) {
    let by_name: HashMap<&str, _> = ran.iter().map(|r| (r.node.as_str(), r)).collect();
    let mut matched = 0;
    let mut looks = vec![Look { class: Class::Plain, detail: String::new() }; nodes.len()];
    for (node, look) in nodes.iter().zip(looks.iter_mut()) {
        let Some(r) = by_name.get(node.name.as_str()) else {
            *look = Look { class: Class::Absent, detail: format!("not in run {id}") };
            continue;
        };
        matched += 1;
        let class = Class::of_status(&r.status);
        let mut parts = vec![r.status.clone(), display::duration(r.duration)];
        if r.peak_memory > 0 {
            parts.push(human_bytes(r.peak_memory));
        }
        if let Some(fuel) = r.fuel {
            parts.push(format!("fuel {fuel}"));
        }
        if r.attempts > 1 {
            parts.push(format!("{} attempts", r.attempts));
        }
        if let Some(error) = &r.error {
            parts.push(weavelet::sanitize(error));
        }
        *look = Look { class, detail: parts.join(" · ") };
    }
    (looks, matched)
}

/// The drawing as data: every node (source, output type, each input and
/// what feeds it, whether it is a target, its class and detail when
/// coloured), the parameters with their values, the edges.
fn json(d: &Drawing) -> String {
    let nodes: Vec<serde_json::Value> = d
        .nodes
        .iter()
        .zip(&d.looks)
        .map(|(node, look)| {
            let inputs: Vec<serde_json::Value> = node
                .inputs
                .iter()
                .map(|i| {
                    let from = match &i.from {
                        GraphSource::Node(j) => serde_json::json!({ "node": d.nodes[*j].name }),
                        GraphSource::Param { name, .. } => serde_json::json!({ "param": name }),
                        GraphSource::Default => serde_json::json!({ "default": true }),
                    };
                    serde_json::json!({ "name": i.name, "type": i.ty.to_string(), "from": from })
                })
                .collect();
            let mut n = serde_json::json!({
                "name": node.name, "source": node.source, "output": node.output.to_string(),
                "target": node.target, "inputs": inputs,
            });
            if look.class != Class::Plain {
                n["status"] = look.class.key().into();
                n["detail"] = look.detail.clone().into();
            }
            n
        })
        .collect();
    let params: Vec<serde_json::Value> =
        d.params.iter().map(|(name, value)| serde_json::json!({ "name": name, "value": value })).collect();
    let edges: Vec<serde_json::Value> = d
        .edges()
        .into_iter()
        .map(|(from, to, input)| {
            let from = match from.strip_prefix('n').and_then(|j| j.parse::<usize>().ok()) {
                Some(j) => serde_json::json!({ "node": d.nodes[j].name }),
                None => {
                    let k: usize = from.trim_start_matches('p').parse().unwrap_or(0);
                    serde_json::json!({ "param": d.params.get(k).map(|p| p.0.as_str()) })
                }
            };
            serde_json::json!({ "from": from, "to": d.nodes[to].name, "input": input })
        })
        .collect();
    let doc = serde_json::json!({
        "title": d.title, "sources": d.sources, "params": params, "nodes": nodes, "edges": edges,
    });
    format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default())
}

/// The graph of run `id`'s `nodes` as SVG text, each coloured by its record in `ran`.
pub(crate) fn run_svg(
    nodes: Vec<GraphNode>,
    ran: &[weavelet::store::NodeRecord],
    id: i64,
    title: String,
) -> anyhow::Result<String> {
    let (looks, _) = looks_of_run(&nodes, ran, id);
    Ok(svg(&Drawing::new(nodes, looks, title))?.to_text())
}

fn write_file(file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(file, bytes).with_context(|| format!("writing {}", file.display()))
}

/// A parameter's value, short.
fn shown(value: &Value) -> String {
    cut(&value.to_string(), 28)
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    let text = text.replace(['\n', '\r', '\t'], " ");
    if text.chars().count() <= max {
        text
    } else {
        let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

// ---------------------------------------------------------------------------
// Mermaid and DOT: text for other tools.

fn mermaid_text(text: &str) -> String {
    text.replace('&', "#amp;").replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;")
}

fn mermaid(d: &Drawing) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, (name, value)) in d.params.iter().enumerate() {
        out.push_str(&format!("  p{i}([\"{}\"])\n", mermaid_text(&format!("{name} = {value}"))));
    }
    for (i, (node, look)) in d.nodes.iter().zip(&d.looks).enumerate() {
        let mut label = format!("<b>{}</b><br/>{}", mermaid_text(&node.name), mermaid_text(&node.source));
        if !look.detail.is_empty() {
            label.push_str(&format!("<br/><i>{}</i>", mermaid_text(&cut(&look.detail, 60))));
        }
        out.push_str(&format!("  n{i}[\"{label}\"]\n"));
    }
    for (from, i, input) in d.edges() {
        out.push_str(&format!("  {from} -->|\"{}\"| n{i}\n", mermaid_text(input)));
    }
    let mut classes: Vec<Class> = d.looks.iter().map(|l| l.class).collect();
    classes.sort();
    classes.dedup();
    for class in classes {
        let (fill, stroke) = class.colours();
        let members: Vec<String> = d
            .looks
            .iter()
            .enumerate()
            .filter(|(_, l)| l.class == class)
            .map(|(i, _)| format!("n{i}"))
            .collect();
        out.push_str(&format!("  classDef {} fill:{fill},stroke:{stroke}\n", class.key().replace('-', "_")));
        out.push_str(&format!("  class {} {}\n", members.join(","), class.key().replace('-', "_")));
    }
    if !d.params.is_empty() {
        out.push_str("  classDef param fill:#f9fafb,stroke:#9ca3af,stroke-dasharray:3 3\n");
        let members: Vec<String> = (0..d.params.len()).map(|i| format!("p{i}")).collect();
        out.push_str(&format!("  class {} param\n", members.join(",")));
    }
    let targets: Vec<String> =
        d.nodes.iter().enumerate().filter(|(_, n)| n.target).map(|(i, _)| format!("n{i}")).collect();
    for target in targets {
        out.push_str(&format!("  style {target} stroke-width:3px\n"));
    }
    out
}

fn dot_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot(d: &Drawing) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"DejaVu Sans\", fontsize=11];\n  edge [fontname=\"DejaVu Sans\", fontsize=9, color=\"#8a8f98\"];\n",
        dot_text(&d.title)
    );
    for (i, (name, value)) in d.params.iter().enumerate() {
        out.push_str(&format!(
            "  \"p{i}\" [label=\"{}\", shape=ellipse, style=\"dashed\", color=\"#9ca3af\"];\n",
            dot_text(&format!("{name} = {value}"))
        ));
    }
    for (i, (node, look)) in d.nodes.iter().zip(&d.looks).enumerate() {
        let (fill, stroke) = look.class.colours();
        let mut label = format!("{}\\n{}", dot_text(&node.name), dot_text(&node.source));
        if !look.detail.is_empty() {
            label.push_str(&format!("\\n{}", dot_text(&cut(&look.detail, 60))));
        }
        let width = if node.target { ", penwidth=2.5" } else { "" };
        out.push_str(&format!(
            "  \"n{i}\" [label=\"{label}\", fillcolor=\"{fill}\", color=\"{stroke}\"{width}, class=\"{}\"];\n",
            look.class.key()
        ));
    }
    for (from, i, input) in d.edges() {
        out.push_str(&format!("  \"{from}\" -> \"n{i}\" [label=\"{}\"];\n", dot_text(input)));
    }
    out.push_str("}\n");
    out
}

// ---------------------------------------------------------------------------
// SVG, drawn with Weavelet's own graphics.

const NAME_SIZE: f64 = 13.0;
/// The longest side of a PNG, in pixels (the raster limit, less rounding).
const PNG_SIDE: f64 = 8000.0;
const SMALL: f64 = 11.0;
const ROW: f64 = 16.0;
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#bab0ac",
];

/// Width of `text` in DejaVu Sans at `size` (an upper estimate: labels never overlap).
fn text_width(text: &str, size: f64, bold: bool) -> f64 {
    text.chars().map(|c| if c.is_ascii_uppercase() || c == 'm' || c == 'w' { 0.8 } else { 0.62 }).sum::<f64>()
        * size
        * if bold { 1.08 } else { 1.0 }
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A node box's lines: name, source, detail (when coloured), then one row per input.
struct NodeBox {
    name: String,
    source: String,
    detail: String,
    inputs: Vec<String>,
}

impl NodeBox {
    fn header(&self) -> f64 {
        if self.detail.is_empty() { 40.0 } else { 54.0 }
    }

    fn height(&self) -> f64 {
        self.header() + ROW * self.inputs.len() as f64 + 6.0
    }

    fn width(&self) -> f64 {
        let lines = [
            text_width(&self.name, NAME_SIZE, true),
            text_width(&self.source, SMALL, false),
            text_width(&self.detail, SMALL, false),
        ];
        let inputs = self.inputs.iter().map(|i| text_width(i, SMALL, false) + 14.0).fold(0.0, f64::max);
        lines.into_iter().fold(inputs, f64::max).max(110.0) + 26.0
    }

    /// Where input `k`'s edge arrives, from the box's top.
    fn port(&self, k: usize) -> f64 {
        self.header() + ROW * k as f64 + ROW / 2.0
    }
}

fn svg(d: &Drawing) -> anyhow::Result<Svg> {
    let drawn = |e: weavelet::GraphicsError| anyhow!("drawing the graph: {e}");
    let boxes: Vec<NodeBox> = d
        .nodes
        .iter()
        .zip(&d.looks)
        .map(|(node, look)| NodeBox {
            name: cut(&node.name, 48),
            source: cut(&node.source, 48),
            detail: cut(&look.detail, 56),
            inputs: node
                .inputs
                .iter()
                .map(|i| match &i.from {
                    GraphSource::Default => cut(&format!("{} (default)", i.name), 40),
                    _ => cut(&i.name, 40),
                })
                .collect(),
        })
        .collect();
    let params: Vec<String> =
        d.params.iter().map(|(name, value)| cut(&format!("{name} = {value}"), 48)).collect();
    let n = boxes.len();
    let mut vertices: Vec<Vertex> = boxes
        .iter()
        .zip(&d.nodes)
        .map(|(b, node)| Vertex {
            width: b.width(),
            height: b.height(),
            group: d.sources.iter().position(|s| *s == node.source).unwrap_or(0),
        })
        .collect();
    vertices.extend(params.iter().map(|p| Vertex {
        width: text_width(p, SMALL, false) + 24.0,
        height: 24.0,
        group: usize::MAX - 1,
    }));
    let mut edges = Vec::new();
    for (i, (node, b)) in d.nodes.iter().zip(&boxes).enumerate() {
        for (k, input) in node.inputs.iter().enumerate() {
            let from = match &input.from {
                GraphSource::Node(j) => *j,
                GraphSource::Param { name, .. } => n + d.param(name),
                GraphSource::Default => continue,
            };
            edges.push(Edge { from, to: i, to_y: b.port(k) });
        }
    }
    let placed = layout::layout(&vertices, &edges);
    // The title above, the legend below.
    let top = 34.0;
    let legend_rows = legend(d);
    let legend_height = 26.0 + 20.0 * legend_rows.len() as f64;
    let legend_width = legend_rows
        .iter()
        .map(|row| row.iter().map(|(_, text)| text_width(text, SMALL, false) + 40.0).sum::<f64>())
        .fold(0.0, f64::max);
    let width =
        placed.width.max(text_width(&d.title, 15.0, true) + 2.0 * layout::MARGIN).max(legend_width + 40.0);
    let height = top + placed.height + legend_height;
    let mut doc = Svg::new(width, height).map_err(drawn)?;
    doc = doc
        .rect(0.0, 0.0, width, height, &attrs(&[("fill", "#ffffff")]))
        .and_then(|doc| {
            doc.text(
                layout::MARGIN,
                24.0,
                &d.title,
                &attrs(&[("font-size", "15"), ("font-weight", "bold"), ("fill", "#111827")]),
            )
        })
        .map_err(drawn)?;
    // Edges first, under the boxes.
    for (points, e) in placed.edges.iter().zip(&edges) {
        let mut path = String::new();
        for (k, (x, y)) in points.iter().enumerate() {
            let y = y + top;
            if k == 0 {
                path.push_str(&format!("M{x:.1},{y:.1}"));
            } else {
                let (px, py) = points[k - 1];
                let py = py + top;
                if (py - y).abs() < 0.05 {
                    path.push_str(&format!(" L{x:.1},{y:.1}"));
                } else {
                    let mid = (px + x) / 2.0;
                    path.push_str(&format!(" C{mid:.1},{py:.1} {mid:.1},{y:.1} {x:.1},{y:.1}"));
                }
            }
        }
        let colour = if e.from >= n { "#b8bec8" } else { "#8a8f98" };
        doc = doc
            .path(&path, &attrs(&[("fill", "none"), ("stroke", colour), ("stroke-width", "1.4")]))
            .map_err(drawn)?;
        if let Some(&(x, y)) = points.last() {
            let y = y + top;
            let arrow = [(x, y), (x - 7.0, y - 3.5), (x - 7.0, y + 3.5), (x, y)];
            doc = doc.polyline(&arrow, &attrs(&[("fill", colour), ("stroke", "none")])).map_err(drawn)?;
        }
    }
    for (k, label) in params.iter().enumerate() {
        let (x, y) = placed.boxes[n + k];
        let v = &vertices[n + k];
        doc = doc
            .rect(
                x,
                y + top,
                v.width,
                v.height,
                &attrs(&[
                    ("rx", "12"),
                    ("fill", "#f9fafb"),
                    ("stroke", "#9ca3af"),
                    ("stroke-dasharray", "3 3"),
                ]),
            )
            .and_then(|doc| {
                doc.text(x + 12.0, y + top + 16.0, label, &attrs(&[("font-size", "11"), ("fill", "#374151")]))
            })
            .map_err(drawn)?;
    }
    for (i, (b, (node, look))) in boxes.iter().zip(d.nodes.iter().zip(&d.looks)).enumerate() {
        let (x, y) = placed.boxes[i];
        let y = y + top;
        let (w, h) = (vertices[i].width, vertices[i].height);
        let (fill, stroke) = look.class.colours();
        let stripe = PALETTE[vertices[i].group % PALETTE.len()];
        let stroke_width = if node.target { "2.6" } else { "1.2" };
        doc = doc
            .rect(
                x,
                y,
                w,
                h,
                &attrs(&[("rx", "6"), ("fill", fill), ("stroke", stroke), ("stroke-width", stroke_width)]),
            )
            .and_then(|doc| {
                doc.rect(x + 1.0, y + 6.0, 5.0, h - 12.0, &attrs(&[("fill", stripe), ("rx", "2")]))
            })
            .and_then(|doc| {
                doc.text(
                    x + 14.0,
                    y + 18.0,
                    &b.name,
                    &attrs(&[("font-size", "13"), ("font-weight", "bold"), ("fill", "#111827")]),
                )
            })
            .and_then(|doc| {
                doc.text(x + 14.0, y + 33.0, &b.source, &attrs(&[("font-size", "11"), ("fill", "#6b7280")]))
            })
            .map_err(drawn)?;
        if !b.detail.is_empty() {
            doc = doc
                .text(x + 14.0, y + 47.0, &b.detail, &attrs(&[("font-size", "11"), ("fill", stroke)]))
                .map_err(drawn)?;
        }
        for (k, input) in b.inputs.iter().enumerate() {
            let py = y + b.port(k);
            doc = doc
                .circle(x, py, 3.0, &attrs(&[("fill", "#ffffff"), ("stroke", "#6b7280")]))
                .and_then(|doc| {
                    doc.text(x + 14.0, py + 4.0, input, &attrs(&[("font-size", "11"), ("fill", "#374151")]))
                })
                .map_err(drawn)?;
        }
    }
    // The legend: sources by colour, then the classes shown.
    let mut ly = top + placed.height + 14.0;
    for row in &legend_rows {
        let mut lx = layout::MARGIN;
        for (swatch, text) in row {
            doc = doc
                .rect(lx, ly, 12.0, 12.0, &attrs(&[("fill", swatch.0), ("stroke", swatch.1), ("rx", "2")]))
                .and_then(|doc| {
                    doc.text(lx + 18.0, ly + 10.0, text, &attrs(&[("font-size", "11"), ("fill", "#374151")]))
                })
                .map_err(drawn)?;
            lx += text_width(text, SMALL, false) + 40.0;
        }
        ly += 20.0;
    }
    Ok(doc)
}

type Swatch = (&'static str, &'static str);

/// The legend's rows: sources (stripe colours), then node classes.
fn legend(d: &Drawing) -> Vec<Vec<(Swatch, String)>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    for (i, source) in d.sources.iter().enumerate() {
        row.push(((PALETTE[i % PALETTE.len()], "none"), cut(source, 40)));
        if row.len() == 6 {
            rows.push(std::mem::take(&mut row));
        }
    }
    if !row.is_empty() {
        rows.push(row);
    }
    let mut classes: Vec<Class> = d.looks.iter().map(|l| l.class).filter(|c| *c != Class::Plain).collect();
    classes.sort();
    classes.dedup();
    if !classes.is_empty() {
        rows.push(classes.into_iter().map(|c| (c.colours(), c.label().to_string())).collect());
    }
    rows.push(vec![(("#ffffff", "#111827"), "thick border: an output of the pipeline".to_string())]);
    rows
}

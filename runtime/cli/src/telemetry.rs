//! OpenTelemetry: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, each run is exported as one
//! trace over OTLP/HTTP (protobuf): a span for the run and one per node, made
//! with `tracing` and handed to OpenTelemetry by `tracing-opentelemetry`.
//! Node spans open when a node starts and close when it ends, from the run's
//! events; their costs (fuel, peak memory, bytes, attempts) come from the
//! node's line in the run history, written before its end is announced.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TracerProvider as _;
use parking_lot::Mutex;
use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{Layer as _, filter};
use weavelet::{Event, EventKind, EventSink};

/// The exporter, installed once per process (a `watch` exports every run through it).
pub struct Telemetry {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

static INSTALLED: OnceLock<Option<Telemetry>> = OnceLock::new();

/// The spans' target: only Weavelet's own spans are exported, not those of
/// the libraries beneath it.
const TARGET: &str = "weavelet";

/// Whether the environment asks for traces.
fn wanted() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
        && std::env::var("OTEL_SDK_DISABLED").map_or(true, |v| !v.eq_ignore_ascii_case("true"))
}

/// The installed exporter, installing it on first use; `None` when the
/// environment asks for none or it cannot be made (said once).
pub fn get() -> Option<&'static Telemetry> {
    INSTALLED
        .get_or_init(|| {
            if !wanted() {
                return None;
            }
            match install() {
                Ok(t) => Some(t),
                Err(e) => {
                    eprintln!("warning: OpenTelemetry: {e}; this run is not exported");
                    None
                }
            }
        })
        .as_ref()
}

fn install() -> anyhow::Result<Telemetry> {
    use opentelemetry_otlp::{Protocol, WithExportConfig as _};
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .map_err(|e| anyhow::anyhow!("the OTLP exporter: {e}"))?;
    // The resource reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; else the service is `weavelet`.
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("weavelet");
    }
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("weavelet");
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(filter::filter_fn(|meta| meta.target() == TARGET));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .map_err(|e| anyhow::anyhow!("installing the trace subscriber: {e}"))?;
    Ok(Telemetry { provider })
}

impl Telemetry {
    /// Send every finished span now; a failure is said, the run's outcome is not changed.
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            eprintln!("warning: OpenTelemetry: exporting the run's trace failed: {e}");
        }
    }
}

/// Where a run is recorded: the history and the run's number.
type Recorded = (Arc<weavelet::ResultStore>, i64);

/// A node span that ended before the run's number was known, and its node.
type Ended = (tracing::Span, Arc<str>);

/// One run's trace under way.
pub struct RunTrace {
    /// The run's span, until the run ends (a span closes when its last handle goes).
    run: Mutex<Option<tracing::Span>>,
    /// Each node's source, for its span.
    sources: HashMap<String, String>,
    /// Node spans open: started, not yet ended.
    open: Mutex<HashMap<Arc<str>, tracing::Span>>,
    /// The history and the run's number once known, and the spans that
    /// ended before then (their costs are read from the history).
    history: Mutex<(Option<Recorded>, Vec<Ended>)>,
    /// Whether the run is recorded (else spans close without their costs).
    recorded: bool,
}

impl RunTrace {
    /// The run's span, for `pipeline` planned as `plan`; `recorded`: the run
    /// goes to the history (where node costs are read).
    pub fn new(pipeline: &str, plan: &weavelet::Plan, recorded: bool) -> Arc<RunTrace> {
        let run = tracing::info_span!(
            target: TARGET,
            "run",
            otel.name = %format!("weavelet run {pipeline}"),
            weavelet.pipeline = %pipeline,
            weavelet.origin = %plan.origin(),
            weavelet.nodes = plan.len() as u64,
            weavelet.run = Empty,
            weavelet.status = Empty,
            weavelet.ran = Empty,
            weavelet.cached = Empty,
            weavelet.failed = Empty,
            otel.status_code = Empty,
            otel.status_description = Empty,
        );
        let sources = plan.graph().into_iter().map(|n| (n.name, n.source)).collect();
        Arc::new(RunTrace {
            run: Mutex::new(Some(run)),
            sources,
            open: Mutex::new(HashMap::new()),
            history: Mutex::new((None, Vec::new())),
            recorded,
        })
    }

    /// `events`, with each node's span opened and closed on the way.
    pub fn sink(self: &Arc<Self>, events: EventSink) -> EventSink {
        let trace = self.clone();
        Arc::new(move |event: &Event| {
            trace.on_event(event);
            events(event);
        })
    }

    fn node_span(&self, node: &str) -> tracing::Span {
        let parent = self.run.lock().clone().unwrap_or_else(tracing::Span::none);
        tracing::info_span!(
            target: TARGET,
            parent: &parent,
            "node",
            otel.name = %format!("node {node}"),
            weavelet.node = %node,
            weavelet.source = %self.sources.get(node).map_or("", String::as_str),
            weavelet.status = Empty,
            weavelet.cached = Empty,
            weavelet.attempts = Empty,
            weavelet.fuel = Empty,
            weavelet.peak_memory = Empty,
            weavelet.bytes_in = Empty,
            weavelet.bytes_out = Empty,
            weavelet.isolation = Empty,
            otel.status_code = Empty,
            otel.status_description = Empty,
        )
    }

    fn on_event(&self, event: &Event) {
        let node = &event.node;
        match &event.kind {
            EventKind::Started => {
                let span = self.node_span(node);
                self.open.lock().insert(node.clone(), span);
            }
            EventKind::Finished { .. }
            | EventKind::Failed { .. }
            | EventKind::Cached { .. }
            | EventKind::Skipped { .. } => {
                let span = self.open.lock().remove(node).unwrap_or_else(|| self.node_span(node));
                if let EventKind::Failed { failure } = &event.kind {
                    span.record("otel.status_code", "ERROR");
                    span.record("otel.status_description", status_text(&failure.message).as_str());
                }
                let mut history = self.history.lock();
                match &history.0 {
                    Some((store, run)) => costs(&span, store, *run, node),
                    // Before the run's number is known: its costs are read then.
                    None if self.recorded => history.1.push((span, node.clone())),
                    None => {}
                }
            }
            _ => {}
        }
    }

    /// The run is recorded as `run` in `store`: spans that ended before now get their costs.
    pub fn recorded(&self, store: Arc<weavelet::ResultStore>, run: i64) {
        if let Some(span) = &*self.run.lock() {
            span.record("weavelet.run", run);
        }
        let mut history = self.history.lock();
        for (span, node) in std::mem::take(&mut history.1) {
            costs(&span, &store, run, &node);
        }
        history.0 = Some((store, run));
    }

    /// The run ended so: its span closes with its counts.
    pub fn end(&self, report: &weavelet::RunReport) {
        // Nodes still open (a run that stopped early) end with it.
        self.open.lock().clear();
        self.history.lock().1.clear();
        let Some(run) = self.run.lock().take() else { return };
        let ok = report.is_success();
        run.record("weavelet.status", if ok { "ok" } else { "failed" });
        run.record("weavelet.ran", report.nodes_run as u64);
        run.record("weavelet.cached", report.cached.len() as u64);
        run.record("weavelet.failed", report.failures.len() as u64);
        if !ok {
            run.record("otel.status_code", "ERROR");
            let nodes: Vec<&str> = report.failures.iter().map(|f| f.node.as_str()).collect();
            run.record("otel.status_description", format!("failed: {}", nodes.join(", ")).as_str());
        }
    }
}

/// The most of a failure's message a span carries: a guest's error text is
/// as long as its memory allows, the exporter's requests are not.
const MAX_STATUS: usize = 4096;

/// A failure's message for a span's status: sanitised, at most [`MAX_STATUS`] characters.
fn status_text(message: &str) -> String {
    let clean = weavelet::sanitize(message);
    match clean.char_indices().nth(MAX_STATUS) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

/// What node `node` cost in run `run`, from its history line, on `span`.
fn costs(span: &tracing::Span, store: &weavelet::ResultStore, run: i64, node: &str) {
    let Ok(Some(record)) = store.node_record(run, node) else { return };
    span.record("weavelet.status", record.status.as_str());
    span.record("weavelet.cached", record.status == "cached");
    span.record("weavelet.attempts", u64::from(record.attempts));
    span.record("weavelet.bytes_in", record.bytes_in);
    span.record("weavelet.bytes_out", record.bytes_out);
    if record.peak_memory > 0 {
        span.record("weavelet.peak_memory", record.peak_memory);
    }
    if let Some(fuel) = record.fuel {
        span.record("weavelet.fuel", fuel);
    }
    if let Some(isolation) = &record.isolation {
        span.record("weavelet.isolation", isolation.as_str());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_status_message_is_bounded() {
        assert_eq!(super::status_text("short"), "short");
        let long = "x".repeat(100_000);
        assert_eq!(super::status_text(&long).chars().count(), super::MAX_STATUS + 1);
    }
}

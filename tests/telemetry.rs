//! OpenTelemetry export: a real run, through the real binary, sends its trace
//! over OTLP/HTTP to a receiver started here, which decodes it with the
//! protocol's own messages (`opentelemetry-proto`).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

use crate::common::*;

/// An OTLP/HTTP receiver on loopback: every request's path, content type and decoded body.
struct Receiver {
    endpoint: String,
    got: Arc<Mutex<Vec<(String, String, ExportTraceServiceRequest)>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let sink = sink.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut stream = stream;
                    // One connection carries requests one after another (keep-alive).
                    loop {
                        let mut request = String::new();
                        if reader.read_line(&mut request).unwrap_or(0) == 0 {
                            return;
                        }
                        let path = request.split_whitespace().nth(1).unwrap_or_default().to_string();
                        let (mut length, mut kind) = (0usize, String::new());
                        loop {
                            let mut line = String::new();
                            reader.read_line(&mut line).unwrap();
                            let line = line.trim_end();
                            if line.is_empty() {
                                break;
                            }
                            let (name, value) = line.split_once(':').unwrap();
                            match name.to_ascii_lowercase().as_str() {
                                "content-length" => length = value.trim().parse().unwrap(),
                                "content-type" => kind = value.trim().to_string(),
                                _ => {}
                            }
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).unwrap();
                        let decoded = ExportTraceServiceRequest::decode(&body[..]).unwrap();
                        sink.lock().unwrap().push((path, kind, decoded));
                        stream
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
                            .unwrap();
                    }
                });
            }
        });
        Receiver { endpoint, got }
    }

    /// Every span received so far.
    fn spans(&self) -> Vec<Span> {
        let got = self.got.lock().unwrap();
        got.iter()
            .flat_map(|(_, _, r)| r.resource_spans.iter())
            .flat_map(|r| r.scope_spans.iter())
            .flat_map(|s| s.spans.iter().cloned())
            .collect()
    }

    /// Wait (at most 20 s) until `n` spans have arrived.
    fn wait_for(&self, n: usize) -> Vec<Span> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let spans = self.spans();
            if spans.len() >= n || Instant::now() > until {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Attribute `key` of `span`, as text.
fn attr(span: &Span, key: &str) -> Option<String> {
    let kv = span.attributes.iter().find(|kv| kv.key == key)?;
    Some(match kv.value.as_ref()?.value.as_ref()? {
        Any::StringValue(s) => s.clone(),
        Any::IntValue(i) => i.to_string(),
        Any::BoolValue(b) => b.to_string(),
        Any::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    })
}

const DIAMOND: &str =
    "[pipeline]\nname = \"traced\"\n\n[[components]]\npath = \"{diamond}\"\n\n[params]\ncount = 10\n";

fn traced_run(dir: &std::path::Path, receiver: &Receiver, extra: &[&str]) -> assert_cmd::assert::Assert {
    weavelet_cmd()
        .current_dir(dir)
        .env_remove("WEAVELET_NO_CACHE")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint)
        .args(["run", "-q", "weavelet.toml", "--fuel", "100000000", "--cache-dir"])
        .arg(dir.join("cache"))
        .args(extra)
        .assert()
}

#[test]
fn a_run_is_exported_as_one_trace_of_a_span_per_node() {
    let dir = tempfile::tempdir().unwrap();
    manifest(dir.path(), DIAMOND);
    let receiver = Receiver::start();
    traced_run(dir.path(), &receiver, &[]).success().stdout("report: total 223.01, range 20.00 .. 24.55\n");
    let spans = receiver.wait_for(5);
    assert_eq!(spans.len(), 5, "a run span and four node spans: {spans:#?}");
    let (path, kind, request) = receiver.got.lock().unwrap()[0].clone();
    assert_eq!((path.as_str(), kind.as_str()), ("/v1/traces", "application/x-protobuf"));
    let service = request.resource_spans[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name");
    assert!(format!("{service:?}").contains("weavelet"), "{service:?}");

    // One trace; the run span is every node span's parent.
    let run = spans.iter().find(|s| s.name == "weavelet run traced").expect("the run's span");
    assert!(spans.iter().all(|s| s.trace_id == run.trace_id));
    assert_eq!(attr(run, "weavelet.run").as_deref(), Some("1"));
    assert_eq!(attr(run, "weavelet.status").as_deref(), Some("ok"));
    assert_eq!(attr(run, "weavelet.ran").as_deref(), Some("4"));
    let nodes: Vec<&Span> = spans.iter().filter(|s| s.name.starts_with("node ")).collect();
    let mut names: Vec<String> = nodes.iter().map(|s| attr(s, "weavelet.node").unwrap()).collect();
    names.sort();
    assert_eq!(names, ["readings", "report", "spread", "total"]);
    for node in &nodes {
        let name = attr(node, "weavelet.node").unwrap();
        assert_eq!(node.parent_span_id, run.span_id, "{name}'s parent");
        assert!(
            node.start_time_unix_nano >= run.start_time_unix_nano
                && node.end_time_unix_nano <= run.end_time_unix_nano
        );
        assert!(node.end_time_unix_nano > node.start_time_unix_nano, "{name} took no time");
        assert_eq!(attr(node, "weavelet.source").as_deref(), Some("diamond_nodes.wasm"), "{name}");
        assert_eq!(attr(node, "weavelet.cached").as_deref(), Some("false"), "{name}");
        assert_eq!(attr(node, "weavelet.attempts").as_deref(), Some("1"), "{name}");
        let fuel: u64 = attr(node, "weavelet.fuel").unwrap_or_default().parse().unwrap_or(0);
        assert!(fuel > 0, "{name}: fuel {fuel}");
        let memory: u64 = attr(node, "weavelet.peak_memory").unwrap_or_default().parse().unwrap_or(0);
        assert!(memory > 0, "{name}: peak memory");
        let out: u64 = attr(node, "weavelet.bytes_out").unwrap().parse().unwrap();
        assert!(out > 0, "{name}: bytes out");
    }

    // Run again: a second trace, every node from the cache.
    traced_run(dir.path(), &receiver, &[]).success();
    let spans = receiver.wait_for(10);
    let second: Vec<&Span> = spans.iter().filter(|s| s.trace_id != run.trace_id).collect();
    assert_eq!(second.len(), 5, "{second:#?}");
    assert!(
        second
            .iter()
            .filter(|s| s.name.starts_with("node "))
            .all(|s| attr(s, "weavelet.cached").as_deref() == Some("true")),
        "{second:#?}"
    );
}

#[test]
fn a_failed_node_is_an_error_span_and_an_absent_collector_costs_the_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weavelet.toml"), "[[scripts]]\npath = \"p.rhai\"\n").unwrap();
    std::fs::write(dir.path().join("p.rhai"), "fn a() { 1 }\n\nfn b(a) { throw \"no good\" }\n").unwrap();
    let receiver = Receiver::start();
    traced_run(dir.path(), &receiver, &[]).code(1);
    let spans = receiver.wait_for(3);
    let b = spans.iter().find(|s| s.name == "node b").expect("b's span");
    let status = b.status.as_ref().unwrap();
    assert_eq!(status.code, 2, "ERROR: {status:?}");
    assert!(status.message.contains("no good"), "{status:?}");
    let run_span = spans.iter().find(|s| s.name.starts_with("weavelet run")).unwrap();
    assert_eq!(attr(run_span, "weavelet.status").as_deref(), Some("failed"));

    // Nothing listening: the run is as it would be, with a warning, and does not hang.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let started = Instant::now();
    weavelet_cmd()
        .current_dir(dir.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
        .args(["run", "-q", "weavelet.toml", "--target", "a"])
        .assert()
        .success()
        .stdout("a: 1\n")
        .stderr(predicates::str::contains("OpenTelemetry: exporting the run's trace failed"));
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
}

//! The `net` grant: a node reaches the hosts its policy names, through
//! wasi:http, and nothing else; its requests and bytes are budgeted, its
//! waits end at its deadline, and its results are not cached. Against real
//! HTTP servers on 127.0.0.1 started by each test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;

/// A small HTTP/1.1 server on 127.0.0.1 that records the requests it gets
/// (`METHOD /path host=<Host header> bytes=<body length>`).
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Routes: `/hello`, `/big` (2 MiB), `/redirect?to=URL` (302), `/stall`
    /// (promises 100 bytes, sends 10, then waits), anything else 404.
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Server { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let (mut host, mut length) = (String::new(), 0usize);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "host" => host = value.trim().to_string(),
            "content-length" => length = value.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let path = target.split('?').next().unwrap_or("").to_string();
    log.lock().unwrap().push(format!("{method} {path} host={host} bytes={length}"));
    let mut out = stream;
    let respond = |out: &mut TcpStream, status: &str, extra: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
            body.len()
        );
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(body);
    };
    match path.as_str() {
        "/hello" => respond(&mut out, "200 OK", "", b"hello from the server"),
        "/latest" => {
            let rates = std::fs::read(examples().join("rates/service/latest")).unwrap_or_default();
            respond(&mut out, "200 OK", "content-type: application/json\r\n", &rates);
        }
        "/big" => respond(&mut out, "200 OK", "", &vec![b'x'; 2 << 20]),
        "/upload" => respond(&mut out, "200 OK", "", format!("got {length} bytes").as_bytes()),
        "/redirect" => {
            let to = target.split_once("?to=").map_or("", |(_, to)| to);
            respond(&mut out, "302 Found", &format!("location: {to}\r\n"), b"");
        }
        "/stall" => {
            let _ = out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789");
            let _ = out.flush();
            std::thread::sleep(Duration::from_secs(20));
        }
        _ => respond(&mut out, "404 Not Found", "", b"no such thing"),
    }
}

/// A pipeline of one node of the network guest, with `policy` under its
/// `[policy.nodes.<node>]`.
fn pipeline(dir: &std::path::Path, node: &str, policy: &str) {
    std::fs::write(
        dir.join("weavelet.toml"),
        format!(
            "[pipeline]\noutputs = [\"{node}\"]\n\n[[components]]\npath = \"{}\"\n\n[policy.nodes.{node}]\n{policy}\n",
            NETWORK_NODES.replace('\\', "/")
        ),
    )
    .unwrap();
}

fn run(dir: &std::path::Path, params: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = weavelet_cmd();
    cmd.arg("run").arg(dir);
    for (k, v) in params {
        cmd.arg("--param").arg(format!("{k}={v}"));
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

const IN_PROCESS: &str = "isolation = \"in-process\"";

/// In a worker process (the default) a node's requests are made by the
/// supervisor; in process, by the host itself: the same checks either way.
#[test]
fn a_node_reaches_exactly_the_hosts_its_net_grant_names() {
    let server = Server::start();
    let other = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let grant = format!("net = [\"127.0.0.1:{}\"]", server.port);

    // No grant: the request is refused by the host, and nothing reaches the server.
    pipeline(dir.path(), "fetch", "");
    let (code, _, stderr) = run(dir.path(), &[("url", &server.url("/hello"))]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("refused by the host"), "{stderr}");
    assert!(stderr.contains("it is granted no network"), "the refusal is logged: {stderr}");
    assert!(server.seen().is_empty(), "{:?}", server.seen());

    // The granted host and port: the request goes through, with its Host header.
    pipeline(dir.path(), "fetch", &grant);
    let (code, stdout, stderr) = run(dir.path(), &[("url", &server.url("/hello"))]);
    assert_eq!((code, stdout.as_str()), (0, "fetch: hello from the server\n"), "{stderr}");
    assert_eq!(server.seen(), [format!("GET /hello host=127.0.0.1:{} bytes=0", server.port)]);

    // Its result is not cached: a second run asks the server again.
    let cache = dir.path().join("results");
    for _ in 0..2 {
        weavelet_cmd()
            .env_remove("WEAVELET_NO_CACHE")
            .env("WEAVELET_CACHE_DIR", &cache)
            .arg("run")
            .arg(dir.path())
            .arg("--param")
            .arg(format!("url={}", server.url("/hello")))
            .assert()
            .success();
    }
    assert_eq!(server.seen().len(), 3, "{:?}", server.seen());

    // Another port on the same address: refused, never connected.
    let (code, _, stderr) = run(dir.path(), &[("url", &other.url("/hello"))]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{} is not granted", other.port)), "{stderr}");
    assert!(other.seen().is_empty());

    // A user in the authority (another Host header on the granted server): refused.
    let smuggled = format!("http://evil.example:80@127.0.0.1:{}/hello", server.port);
    let before = server.seen().len();
    let (code, _, stderr) = run(dir.path(), &[("url", &smuggled)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("without a user"), "{stderr}");
    assert_eq!(server.seen().len(), before);

    // A redirect comes back as it is; a node that follows it off the grant is refused there.
    let away = format!("{}?to={}", server.url("/redirect"), other.url("/hello?secret=42"));
    pipeline(dir.path(), "status", &grant);
    let (code, stdout, stderr) = run(dir.path(), &[("url", &away)]);
    assert_eq!((code, stdout.as_str()), (0, "status: 302\n"), "{stderr}");
    pipeline(dir.path(), "follow", &grant);
    let (code, _, stderr) = run(dir.path(), &[("url", &away)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not followed"), "the redirect is logged: {stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{} is not granted", other.port)), "{stderr}");
    assert!(other.seen().is_empty(), "the redirect's target got nothing: {:?}", other.seen());

    // A granted name that resolves to loopback (DNS rebinding): refused unless
    // the address itself is granted.
    pipeline(dir.path(), "fetch", &format!("net = [\"localhost:{}\"]", server.port));
    let local = format!("http://localhost:{}/hello", server.port);
    let before = server.seen().len();
    let (code, _, stderr) = run(dir.path(), &[("url", &local)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("which is not a public address"), "{stderr}");
    assert_eq!(server.seen().len(), before);
    pipeline(dir.path(), "fetch", &format!("net = [\"localhost:{0}\", \"127.0.0.1:{0}\"]", server.port));
    let (code, stdout, stderr) = run(dir.path(), &[("url", &local)]);
    assert_eq!((code, stdout.as_str()), (0, "fetch: hello from the server\n"), "{stderr}");

    // HTTPS to the granted port: TLS is spoken (and fails against a plain server).
    pipeline(dir.path(), "fetch", &grant);
    let (code, _, stderr) = run(dir.path(), &[("url", &server.url("/hello").replace("http:", "https:"))]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("TLS failed"), "{stderr}");

    // A grant that is not a host and port: a diagnostic pointing at it.
    pipeline(dir.path(), "fetch", &format!("net = [\"https://127.0.0.1:{}\"]", server.port));
    let (code, _, stderr) = run(dir.path(), &[("url", &server.url("/hello"))]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("without a scheme"), "{stderr}");
    assert!(stderr.contains("weavelet.toml:"), "{stderr}");

    // In process: the same grant, the same refusals.
    pipeline(dir.path(), "fetch", &format!("{grant}\n{IN_PROCESS}"));
    let (code, stdout, stderr) = run(dir.path(), &[("url", &server.url("/hello"))]);
    assert_eq!((code, stdout.as_str()), (0, "fetch: hello from the server\n"), "{stderr}");
    let (code, _, stderr) = run(dir.path(), &[("url", &other.url("/hello"))]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{} is not granted", other.port)), "{stderr}");
    assert!(other.seen().is_empty());
}

#[test]
fn network_budgets_and_the_deadline_stop_a_node() {
    for isolation in ["", IN_PROCESS] {
        budgets_and_deadline(isolation);
    }
}

fn budgets_and_deadline(isolation: &str) {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let grant = format!("net = [\"127.0.0.1:{}\"]\n{isolation}", server.port);

    // Requests: three allowed, the fourth refused, and the node fails for it.
    pipeline(dir.path(), "fetch_many", &format!("{grant}\nnet_requests = 3"));
    let (code, _, stderr) = run(dir.path(), &[("url", &server.url("/hello")), ("times", "5")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("more than its budget of 3 network requests"), "{stderr}");
    assert_eq!(server.seen().len(), 3, "{:?}", server.seen());
    // Refused attempts count too: a node asking an ungranted host 50 times is
    // stopped at its budget, with one log line per attempt up to it.
    pipeline(dir.path(), "keep_asking", &format!("{grant}\nnet_requests = 3"));
    let (code, _, stderr) = run(dir.path(), &[("url", "http://192.0.2.1:80/x"), ("times", "50")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("more than its budget of 3 network requests"), "{stderr}");
    assert_eq!(stderr.matches("refused GET http://192.0.2.1:80/x").count(), 4, "{stderr}");

    // Bytes received: a 2 MiB answer against a 1 MiB budget.
    pipeline(dir.path(), "fetch", &format!("{grant}\nnet_bytes = \"1MiB\""));
    let (code, _, stderr) = run(dir.path(), &[("url", &server.url("/big"))]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("more than its budget of 1.0 MiB over the network"), "{stderr}");
    // ... and the same answer within a larger budget.
    pipeline(dir.path(), "fetch", &format!("{grant}\nnet_bytes = \"3MiB\""));
    let (code, stdout, stderr) = run(dir.path(), &[("url", &server.url("/big"))]);
    assert_eq!((code, stdout.len()), (0, "fetch: ".len() + (2 << 20) + 1), "{stderr}");

    // Bytes sent count too.
    pipeline(dir.path(), "upload", &format!("{grant}\nnet_bytes = \"1MiB\""));
    let (code, _, stderr) = run(dir.path(), &[("url", &server.url("/upload")), ("size", "2000000")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("over the network"), "{stderr}");
    let (code, stdout, stderr) = run(dir.path(), &[("url", &server.url("/upload")), ("size", "1000")]);
    assert_eq!((code, stdout.as_str()), (0, "upload: got 1000 bytes\n"), "{stderr}");

    // A server that stops sending mid-body: the node ends at its wall-time budget,
    // not the server's pace.
    pipeline(dir.path(), "fetch", &format!("{grant}\ntimeout = \"1s\""));
    let started = Instant::now();
    let (code, _, stderr) = run(dir.path(), &[("url", &server.url("/stall"))]);
    assert_eq!(code, 1, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}: {stderr}", started.elapsed());
    assert!(stderr.contains("wall-time budget"), "{stderr}");
}

/// The README's `examples/rates`, as written (its node folder built from
/// source), against a stand-in for the rates service on another port.
#[test]
fn the_rates_example_fetches_through_its_grant() {
    // Reviewing the component says what it gets where it imports wasi:http.
    weavelet_cmd().arg("inspect").arg(NETWORK_NODES).assert().success().stdout(predicates::str::contains(
        "wasi:http/outgoing-handler@0.2.12            HTTP requests: only to the hosts a node's `net` grant names",
    ));
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(examples().join("rates/weavelet.toml")).unwrap();
    assert!(example.contains("net = [\"127.0.0.1:8787\"]"), "the example's grant changed: update this test");
    let guest = repo().join("guests/network").display().to_string().replace('\\', "/");
    let manifest = example.replace("8787", &server.port.to_string()).replace("../../guests/network", &guest);
    std::fs::write(dir.path().join("weavelet.toml"), manifest).unwrap();
    let (code, stdout, stderr) = run(dir.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("fetch_rates: {\"amount\":1.0,\"base\":\"EUR\""), "{stdout}");
    assert_eq!(server.seen(), [format!("GET /latest host=127.0.0.1:{} bytes=0", server.port)]);
}

/// A JavaScript node `await`s `fetch` (componentize-js's, on wasi:http): the same
/// grant, in a worker process.
#[test]
fn a_javascript_node_fetches_through_its_grant() {
    if !repo().join("guests/js/node_modules/.bin/jco").is_file() {
        assert!(std::env::var_os("CI").is_none(), "CI has jco in guests/js (npm ci)");
        eprintln!("skipped: jco in guests/js (cd guests/js && npm ci)");
        return;
    }
    // componentize-js's `fetch` on wasi:http; a refusal is its `TypeError: NetworkError`.
    fetches_through_its_grant("js", "fetch_js", "NetworkError");
}

#[test]
fn a_python_node_fetches_through_its_grant() {
    let tool = std::env::var("COMPONENTIZE_PY").unwrap_or_else(|_| "componentize-py".into());
    if !std::process::Command::new(&tool).arg("--version").output().is_ok_and(|o| o.status.success()) {
        assert!(std::env::var_os("CI").is_none(), "CI has componentize-py (.ci/toolchains)");
        eprintln!("skipped: componentize-py (pip install componentize-py==0.25.1)");
        return;
    }
    // The SDK's `weavelet.http.get`; a refusal is its `HttpError`, saying why.
    fetches_through_its_grant("python", "fetch_py", "HttpError: http://127.0.0.1:");
}

/// `node` of `guests/<language>` (in a worker) gets the granted server's
/// answer, and is refused another server, which never hears of it.
fn fetches_through_its_grant(language: &str, node: &str, refusal: &str) {
    let server = Server::start();
    let other = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let folder = repo().join("guests").join(language).display().to_string().replace('\\', "/");
    std::fs::write(
        dir.path().join("weavelet.toml"),
        format!(
            "[pipeline]\noutputs = [\"{node}\"]\n[[components]]\n{language} = \"{folder}\"\n\
             [policy.nodes.{node}]\nnet = [\"127.0.0.1:{}\"]\n",
            server.port
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run(dir.path(), &[("url", &server.url("/hello"))]);
    assert_eq!((code, stdout), (0, format!("{node}: hello from the server\n")), "{stderr}");
    let (code, _, stderr) = run(dir.path(), &[("url", &other.url("/hello"))]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{} is not granted", other.port)), "{stderr}");
    assert!(stderr.contains(refusal), "{stderr}");
    assert!(other.seen().is_empty());
}

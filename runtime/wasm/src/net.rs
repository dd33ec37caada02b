//! The `net` grant: outgoing HTTP(S) through `wasi:http`, to the hosts a
//! node's policy names and nowhere else.
//!
//! wasmtime-wasi-http turns a guest's request into an `http::Request` and
//! hands it to [`Net::send_request`]; everything after that is ours:
//! - the request's host and port must be one of the grant's, exactly;
//! - a name is resolved here, and only its public addresses are used (a
//!   name that resolves to loopback, a private network or link-local — DNS
//!   rebinding — is refused unless that address is granted literally); the
//!   connection goes to the checked address, never to a name resolved again;
//! - HTTP/1.1 over TLS (rustls, the system's roots, the name as SNI) or
//!   plain TCP, as the guest's scheme says; redirects are never followed (a
//!   guest that follows one makes a new request, checked again);
//! - requests and body bytes (sent and received, summed) count against the
//!   node's `net_requests` and `net_bytes` budgets; every wait ends at the
//!   node's wall-time deadline (a guest blocked on the network is in a host
//!   call, where the epoch interrupt cannot reach it).
//!
//! Every request and every refusal is logged as the node's own event.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Scheme;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};
use weavelet_core::{
    Event, EventKind, EventSink, LogLevel, NetHost, human_bytes, is_public_address, sanitize,
};

/// A boxed future, as the hook trait wants them.
type Boxed<T> = Box<dyn Future<Output = T> + Send>;

/// What the send hook hands wasi:http: the response and the connection's task.
type Sent = Boxed<Result<(http::Response<WasiBody>, Boxed<Result<(), Error>>), Error>>;

/// A connection's task: it must be polled for a response's body to arrive.
pub type Connection = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// What a node may reach and how much, with what it used so far.
#[derive(Clone)]
pub struct NetRules {
    /// The granted hosts (empty: every request refused).
    pub grant: Arc<[NetHost]>,
    /// The node, for its log lines.
    pub node: Arc<str>,
    /// Where its log lines go.
    pub events: Option<EventSink>,
    /// When the node's wall-time budget ends.
    pub deadline: Instant,
    /// Requests it may make (`net_requests`).
    pub max_requests: u64,
    /// Body bytes it may send and receive (`net_bytes`).
    pub max_bytes: u64,
    /// What it used so far.
    pub usage: Arc<NetUsage>,
}

/// Requests and bytes used by one invocation, and the budget it overran, if any.
#[derive(Default)]
pub struct NetUsage {
    /// Requests made (or refused for the budget).
    pub requests: AtomicU64,
    /// Body bytes sent and received.
    pub bytes: AtomicU64,
    exceeded: Mutex<Option<(&'static str, String)>>,
}

impl NetUsage {
    /// The budget overrun (`network requests` or `network bytes`) and what happened.
    pub fn exceeded(&self) -> Option<(&'static str, String)> {
        self.exceeded.lock().clone()
    }

    fn exceed(&self, budget: &'static str, message: String) {
        self.exceeded.lock().get_or_insert((budget, message));
    }
}

/// The `wasi:http` hooks of one invocation.
pub(crate) struct Net(pub(crate) NetRules);

impl WasiHttpHooks for Net {
    /// The Host header is set by [`fetch`], from the checked host.
    fn set_host_header(&mut self) -> bool {
        false
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Boxed<Result<(), Error>>,
    ) -> Sent {
        let rules = self.0.clone();
        if let Some(proxy) = PROXY.get() {
            return proxied(proxy.clone(), rules.max_bytes, request);
        }
        // On Weavelet's own network runtime: the scheduler's has no IO driver.
        let fetched = spawn(async move { fetch(&rules, request, options).await });
        Box::new(async move {
            let (response, connection) = fetched.await??;
            let connection = spawn(connection);
            let connection = async move { connection.await? };
            Ok((response.map(BodyExt::boxed_unsync), Box::new(connection) as Boxed<Result<(), Error>>))
        })
    }
}

/// A request handed elsewhere to be made: a worker process, which has no
/// sockets, hands its nodes' requests to its supervisor, which checks them
/// against the node's grant as it would its own and makes them.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Absolute: scheme, authority, path and query.
    pub uri: String,
    /// Header names and values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The request's body.
    pub body: Vec<u8>,
}

/// The whole answer to an [`Outgoing`] request.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The response's body.
    pub body: Vec<u8>,
}

/// Makes a request elsewhere; an `Err` is an error code of [`error_code`].
pub type Proxy = Arc<dyn Fn(Outgoing) -> Result<Answer, String> + Send + Sync>;

static PROXY: OnceLock<Proxy> = OnceLock::new();

/// Send every node's requests of this process through `proxy` (a worker
/// process calls this once, before it runs a node). Returns `false` if a
/// proxy was already set.
pub fn proxy_requests_through(proxy: Proxy) -> bool {
    PROXY.set(proxy).is_ok()
}

/// The short name of `error`, as it crosses between processes.
pub fn error_code(error: &Error) -> String {
    match error {
        Error::HttpRequestDenied => "denied",
        Error::DestinationIpProhibited => "prohibited",
        Error::DnsError { .. } => "dns",
        Error::ConnectionTimeout => "timeout",
        Error::ConnectionReadTimeout => "read-timeout",
        Error::ConnectionRefused => "refused",
        Error::ConnectionTerminated => "terminated",
        Error::TlsProtocolError => "tls",
        Error::HttpResponseBodySize(_) | Error::HttpRequestBodySize(_) => "body-size",
        Error::HttpRequestUriInvalid => "uri",
        Error::HttpProtocolError => "protocol",
        _ => "internal",
    }
    .to_string()
}

/// The error an [`error_code`] names.
fn error_of(code: &str) -> Error {
    match code {
        "denied" => Error::HttpRequestDenied,
        "prohibited" => Error::DestinationIpProhibited,
        "dns" => Error::DnsError { rcode: None, info_code: None },
        "timeout" => Error::ConnectionTimeout,
        "read-timeout" => Error::ConnectionReadTimeout,
        "refused" => Error::ConnectionRefused,
        "terminated" => Error::ConnectionTerminated,
        "tls" => Error::TlsProtocolError,
        "body-size" => Error::HttpResponseBodySize(None),
        "uri" => Error::HttpRequestUriInvalid,
        "protocol" => Error::HttpProtocolError,
        other => Error::InternalError(Some(format!("the supervisor answered `{other}`"))),
    }
}

/// A request sent through the proxy: its body read whole (at most the
/// node's byte budget), the answer read whole.
fn proxied(proxy: Proxy, max_bytes: u64, request: http::Request<WasiBody>) -> Sent {
    let answered = spawn(async move {
        let (parts, mut body) = request.into_parts();
        // Read up to one byte past the budget: the supervisor counts what it
        // is sent, and refuses (and fails the node) past the budget.
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                let room = usize::try_from(max_bytes.saturating_add(1)).unwrap_or(usize::MAX) - bytes.len();
                bytes.extend_from_slice(&data[..data.len().min(room)]);
                if bytes.len() as u64 > max_bytes {
                    break;
                }
            }
        }
        let outgoing = Outgoing {
            method: parts.method.to_string(),
            uri: parts.uri.to_string(),
            headers: parts.headers.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect(),
            body: bytes,
        };
        let answer = tokio::task::spawn_blocking(move || proxy(outgoing))
            .await
            .map_err(|e| Error::InternalError(Some(e.to_string())))?
            .map_err(|code| error_of(&code))?;
        let mut response = http::Response::builder().status(answer.status);
        for (name, value) in &answer.headers {
            response = response.header(name.as_str(), value.as_slice());
        }
        let body = http_body_util::Full::new(Bytes::from(answer.body))
            .map_err(|never| match never {})
            .boxed_unsync();
        response.body(body).map_err(|e| Error::InternalError(Some(format!("the supervisor's answer: {e}"))))
    });
    Box::new(async move {
        let response = answered.await??;
        Ok((response, Box::new(async { Ok(()) }) as Boxed<Result<(), Error>>))
    })
}

/// Make `outgoing` under `rules`, as [`fetch`] does, and read the whole
/// answer (its body within the byte budget); blocks the calling thread until
/// then (at the latest the node's deadline). What a supervisor does with
/// its workers' requests: nothing the worker says is taken for granted — the
/// grant, the budgets and the headers are checked here again.
pub fn fetch_blocking(rules: NetRules, outgoing: Outgoing) -> Result<Answer, Error> {
    let work = async move {
        let mut request =
            http::Request::builder().method(outgoing.method.as_str()).uri(outgoing.uri.as_str());
        // Headers wasi:http forbids a guest (Host, Connection, Transfer-Encoding, ...) are
        // dropped: `fetch` sets Host from the checked authority.
        // As wasi:http bounds a guest's headers.
        if outgoing.headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() > 128 << 10 {
            return Err(Error::HttpRequestHeaderSectionSize(None));
        }
        for (name, value) in &outgoing.headers {
            let Ok(name) = http::HeaderName::try_from(name.as_str()) else { continue };
            if !wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(&name) {
                request = request.header(name, value.as_slice());
            }
        }
        let body = http_body_util::Full::new(Bytes::from(outgoing.body))
            .map_err(|never| match never {})
            .boxed_unsync();
        let request = request.body(body).map_err(|_| Error::HttpRequestUriInvalid)?;
        let (response, connection) = fetch(&rules, request, None).await?;
        let connection = tokio::spawn(connection);
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        connection.abort();
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect(),
            body: Vec::from(body),
        })
    };
    // On the network runtime; this thread waits for the answer (a runtime
    // cannot be blocked on from inside another, as a supervisor's thread may be).
    let (tx, rx) = std::sync::mpsc::channel::<Result<Answer, Error>>();
    let _task = spawn(async move {
        let _ = tx.send(work.await);
        Ok(())
    });
    rx.recv().map_err(|_| Error::InternalError(Some("the request's task ended".into())))?
}

/// The runtime every node's HTTP runs on: its own, with IO and timers (the
/// scheduler's runtime has timers only, and a supervisor's thread may be
/// inside it, where another runtime cannot be blocked on).
fn runtime() -> Result<&'static tokio::runtime::Runtime, Error> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("weavelet-net")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the network runtime: {e}"))
        })
        .as_ref()
        .map_err(|e| Error::InternalError(Some(e.clone())))
}

/// `task` on the network runtime; dropping the handle stops it.
fn spawn<T: Send + 'static>(task: impl Future<Output = Result<T, Error>> + Send + 'static) -> Task<T> {
    Task(runtime().map(|rt| rt.spawn(task)))
}

/// A task on the network runtime, stopped when dropped (a guest that drops
/// its request's future stops the request).
struct Task<T>(Result<tokio::task::JoinHandle<Result<T, Error>>, Error>);

impl<T> Future for Task<T> {
    type Output = Result<Result<T, Error>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Ok(handle) => Pin::new(handle).poll(cx).map(|joined| {
                joined.map_err(|e| Error::InternalError(Some(format!("the request's task: {e}"))))
            }),
            Err(e) => Poll::Ready(Err(Error::InternalError(Some(e.to_string())))),
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if let Ok(handle) = &self.0 {
            handle.abort();
        }
    }
}

impl NetRules {
    fn log(&self, level: LogLevel, message: String) {
        if let Some(events) = &self.events {
            events(&Event {
                node: self.node.clone(),
                kind: EventKind::Log { level, message: sanitize(&message) },
            });
        }
    }

    fn refuse(&self, what: &str, why: String, error: Error) -> Error {
        self.log(LogLevel::Warn, format!("refused {what}: {why}"));
        error
    }

    fn granted(&self) -> String {
        if self.grant.is_empty() {
            "it is granted no network (a `net` grant in the pipeline's [policy] names the hosts)".into()
        } else {
            let hosts: Vec<String> = self.grant.iter().map(NetHost::to_string).collect();
            format!("its `net` grant is {}", hosts.join(", "))
        }
    }

    /// The node went over its byte budget: noted (it fails), logged once, refused.
    fn over_bytes(&self, what: &str) -> Error {
        let message = format!(
            "the node sent and received more than its budget of {} over the network \
             (raise `net_bytes` in its [policy])",
            human_bytes(self.max_bytes)
        );
        if self.usage.exceeded().is_none() {
            self.log(LogLevel::Warn, format!("stopped {what}: {message}"));
        }
        self.usage.exceed("network bytes", message);
        Error::HttpResponseBodySize(Some(self.max_bytes))
    }

    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// Send `request` under `rules`: checked, resolved, connected, counted.
/// Returns the response (its body counted and bounded) and the connection's
/// task, which must be polled for the body to arrive.
pub async fn fetch(
    rules: &NetRules,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<(http::Response<Counted<hyper::body::Incoming>>, Connection), Error> {
    let uri = request.uri().clone();
    let tls = match uri.scheme() {
        Some(s) if *s == Scheme::HTTPS => true,
        Some(s) if *s == Scheme::HTTP => false,
        _ => {
            return Err(rules.refuse(
                "a request",
                "only http and https are supported".into(),
                Error::HttpProtocolError,
            ));
        }
    };
    let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let default_port = if tls { 443 } else { 80 };
    let port = uri.port_u16().unwrap_or(default_port);
    let target = NetHost { host, port };
    let what = format!(
        "{} {}://{target}{}",
        request.method(),
        if tls { "https" } else { "http" },
        cut(uri.path(), 200)
    );
    // Every attempt counts, refused or not: a node cannot flood the log with refusals.
    let made = rules.usage.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if made > rules.max_requests {
        if made == rules.max_requests + 1 {
            let message = format!(
                "the node made more than its budget of {} network requests (raise `net_requests` in its [policy])",
                rules.max_requests
            );
            rules.usage.exceed("network requests", message.clone());
            rules.log(LogLevel::Warn, format!("refused {what}: {message}"));
        }
        return Err(Error::HttpRequestDenied);
    }
    let authority = uri.authority().map_or("", |a| a.as_str());
    if authority.contains('@') || (uri.port().is_some() && uri.port_u16().is_none()) {
        return Err(rules.refuse(
            &what,
            "the URL's authority must be a host and a port, without a user".into(),
            Error::HttpRequestUriInvalid,
        ));
    }
    if !rules.grant.contains(&target) {
        return Err(rules.refuse(
            &what,
            format!("{target} is not granted; {}", rules.granted()),
            Error::HttpRequestDenied,
        ));
    }
    // The Host header names the checked host, whatever the guest wrote.
    let shown = target.to_string();
    let host_header = if port == default_port {
        shown.rsplit_once(':').map_or(shown.as_str(), |(h, _)| h)
    } else {
        shown.as_str()
    };
    let host_header = http::HeaderValue::from_str(host_header)
        .map_err(|_| rules.refuse(&what, "not a valid host".into(), Error::HttpRequestUriInvalid))?;
    request.headers_mut().insert(http::header::HOST, host_header);
    // The request line and headers count against the byte budget with the bodies.
    let head = uri.to_string().len()
        + request.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum::<usize>();
    let used = rules.usage.bytes.fetch_add(head as u64, Ordering::SeqCst) + head as u64;
    if used > rules.max_bytes {
        return Err(rules.over_bytes(&what));
    }
    let timeout =
        |what: &str| rules.refuse(what, "the node's wall-time budget ended".into(), Error::ConnectionTimeout);
    let addresses = tokio::time::timeout(rules.left(), resolve(rules, &target))
        .await
        .map_err(|_| timeout(&what))?
        .map_err(|(why, error)| rules.refuse(&what, why, error))?;
    let connect_by = options.and_then(|o| o.connect_timeout).map_or(rules.left(), |t| t.min(rules.left()));
    // One limit for all the addresses a name has, not one each.
    let connect_by = tokio::time::Instant::now() + connect_by;
    let mut stream = None;
    let mut last = None;
    for address in addresses {
        match tokio::time::timeout_at(connect_by, TcpStream::connect(address)).await {
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => last = Some(format!("{address}: {e}")),
            Err(_) => return Err(timeout(&what)),
        }
    }
    let Some(stream) = stream else {
        return Err(rules.refuse(
            &what,
            format!("cannot connect ({})", last.unwrap_or_default()),
            Error::ConnectionRefused,
        ));
    };
    let _ = stream.set_nodelay(true);
    let io: Box<dyn Io> = if tls {
        let name = rustls::pki_types::ServerName::try_from(target.host.clone()).map_err(|e| {
            rules.refuse(&what, format!("not a TLS server name: {e}"), Error::TlsProtocolError)
        })?;
        let connector = tokio_rustls::TlsConnector::from(
            tls_config().map_err(|why| rules.refuse(&what, why, Error::TlsProtocolError))?,
        );
        match tokio::time::timeout(rules.left(), connector.connect(name, stream)).await {
            Ok(Ok(s)) => Box::new(s),
            Ok(Err(e)) => {
                return Err(rules.refuse(&what, format!("TLS failed: {e}"), Error::TlsProtocolError));
            }
            Err(_) => return Err(timeout(&what)),
        }
    } else {
        Box::new(stream)
    };
    let (mut sender, connection) =
        tokio::time::timeout(rules.left(), hyper::client::conn::http1::handshake(TokioIo::new(io)))
            .await
            .map_err(|_| timeout(&what))?
            .map_err(|e| {
                rules.refuse(&what, format!("HTTP handshake failed: {e}"), Error::HttpProtocolError)
            })?;
    // The request line names the path only; the Host header (set above from
    // the checked authority) names the host.
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| rules.refuse(&what, "not a valid path".into(), Error::HttpRequestUriInvalid))?;
    let request = request.map(|body| Counted::new(body, rules.clone(), None));
    let first_byte = options.and_then(|o| o.first_byte_timeout).map_or(rules.left(), |t| t.min(rules.left()));
    // Past the deadline the connection is dropped; a moment after the body's
    // own deadline, so a node reading it is told why.
    let connection = tokio::time::timeout_at((rules.deadline + Duration::from_secs(1)).into(), connection);
    // The connection must run for the request to go out; it is handed back to
    // wasi:http once the response's head is in.
    let mut connection: Connection = Box::pin(async move {
        match connection.await {
            Ok(done) => done.map_err(Error::from),
            Err(_) => Err(Error::ConnectionReadTimeout),
        }
    });
    let sent = sender.send_request(request);
    // The connection may end (the server closes it) before the response is
    // taken; the response, already read, is still there.
    let mut ended: Option<Result<(), Error>> = None;
    let response = tokio::time::timeout(first_byte, async {
        tokio::pin!(sent);
        loop {
            tokio::select! {
                biased;
                response = &mut sent => return response,
                done = &mut connection, if ended.is_none() => ended = Some(done),
            }
        }
    })
    .await
    .map_err(|_| timeout(&what))?;
    let connection: Connection = match ended {
        Some(done) => Box::pin(async move { done }),
        None => connection,
    };
    let response = match response {
        Ok(response) => response,
        Err(e) if e.is_canceled() || e.is_closed() || e.is_incomplete_message() => {
            return Err(rules.refuse(
                &what,
                "the server closed the connection".into(),
                Error::ConnectionTerminated,
            ));
        }
        Err(e) => {
            return Err(rules.refuse(&what, format!("the request failed: {e}"), Error::HttpProtocolError));
        }
    };
    let status = response.status();
    let mut said = format!("{what} → {status}");
    if status.is_redirection() {
        let to = response.headers().get(http::header::LOCATION).and_then(|l| l.to_str().ok()).unwrap_or("?");
        let to = cut(to, 200);
        said.push_str(&format!(
            " (redirect to {to} not followed: a request there is checked against the grant)"
        ));
    }
    rules.log(LogLevel::Info, said);
    let between = options.and_then(|o| o.between_bytes_timeout);
    Ok((response.map(|body| Counted::new(body, rules.clone(), between)), connection))
}

/// At most `n` characters of `text`, marked when cut.
fn cut(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The addresses `target` may be reached at: a granted address itself, or
/// the public addresses a granted name resolves to (and any it resolves to
/// that are granted literally with the same port).
async fn resolve(rules: &NetRules, target: &NetHost) -> Result<Vec<SocketAddr>, (String, Error)> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| {
            (format!("cannot resolve {}: {e}", target.host), Error::DnsError { rcode: None, info_code: None })
        })?
        .collect();
    let literal = |a: &SocketAddr| {
        rules
            .grant
            .iter()
            .any(|g| g.port == a.port() && g.host.parse::<IpAddr>().is_ok_and(|ip| ip == a.ip()))
    };
    let (usable, dropped): (Vec<SocketAddr>, Vec<SocketAddr>) =
        found.into_iter().partition(|a| is_public_address(a.ip()) || literal(a));
    if usable.is_empty() {
        let listed: Vec<String> = dropped.iter().map(|a| a.ip().to_string()).collect();
        return Err((
            if listed.is_empty() {
                format!("{} resolves to no address", target.host)
            } else {
                format!(
                    "{} resolves to {}, which is not a public address (grant the address itself, `{}`, to reach it)",
                    target.host,
                    listed.join(", "),
                    NetHost { host: dropped[0].ip().to_string(), port: target.port }
                )
            },
            Error::DestinationIpProhibited,
        ));
    }
    Ok(usable)
}

/// A stream a connection runs over: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The TLS settings every node's HTTPS uses: the system's root certificates,
/// HTTP/1.1 only.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("this machine has no root certificates for TLS (install ca-certificates)".into());
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        })
        .clone()
}

/// A body whose data bytes count against the node's `net_bytes` budget and
/// whose frames must arrive before its deadline (and, if the guest asked,
/// within `between` of each other).
pub struct Counted<B> {
    inner: B,
    rules: NetRules,
    deadline: Pin<Box<tokio::time::Sleep>>,
    between: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
}

impl<B> Counted<B> {
    fn new(inner: B, rules: NetRules, between: Option<Duration>) -> Counted<B> {
        let deadline = Box::pin(tokio::time::sleep_until(rules.deadline.into()));
        let between = between.map(|d| (d, Box::pin(tokio::time::sleep(d))));
        Counted { inner, rules, deadline, between }
    }
}

impl<B> Body for Counted<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Error>,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let used = this.rules.usage.bytes.fetch_add(data.len() as u64, Ordering::SeqCst)
                        + data.len() as u64;
                    if used > this.rules.max_bytes {
                        return Poll::Ready(Some(Err(this.rules.over_bytes("a transfer"))));
                    }
                }
                if let Some((d, sleep)) = &mut this.between {
                    sleep.as_mut().reset(tokio::time::Instant::now() + *d);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.rules
                        .log(LogLevel::Warn, "stopped a transfer: the node's wall-time budget ended".into());
                    return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
                }
                if let Some((_, sleep)) = &mut this.between
                    && sleep.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

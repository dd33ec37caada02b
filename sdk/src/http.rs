//! Outgoing HTTP(S) for a node the pipeline grants the network.
//!
//! Requests go through `wasi:http`; the host sends them only to the hosts the
//! node's `net` grant names (`net = ["api.example.com:443"]`), counts them
//! and their bytes against the node's budgets, and never follows a redirect.
//! Without a grant every request fails with the host's refusal.
//!
//! ```no_run
//! use weavelet_sdk as weavelet;
//!
//! #[weavelet::node]
//! fn rates(base: String) -> Result<String, weavelet::http::HttpError> {
//!     let response = weavelet::http::get(&format!("https://api.example.com/latest?base={base}"))?;
//!     response.text()
//! }
//! # fn main() {}
//! ```

use std::fmt;

use wasi::http::outgoing_handler;
use wasi::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasi::io::streams::StreamError;

/// Why a request failed: refused by the host, or the server's answer could
/// not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError(pub String);

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// A response: its status, headers and whole body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code (a redirect is a response like any other: `302`).
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` that is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The body as UTF-8 text; a status other than 2xx is an error naming it.
    pub fn text(&self) -> Result<String, HttpError> {
        if !(200..300).contains(&self.status) {
            return Err(HttpError(format!("the server answered {}", self.status)));
        }
        String::from_utf8(self.body.clone()).map_err(|_| HttpError("the response is not UTF-8 text".into()))
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, HttpError> {
    send("GET", url, &[], &[])
}

/// `POST url` with `body` of type `content_type`.
pub fn post(url: &str, content_type: &str, body: &[u8]) -> Result<Response, HttpError> {
    send("POST", url, &[("content-type", content_type)], body)
}

/// Send a request: `method` (`GET`, `POST`, ...), an `http://` or `https://`
/// URL, headers and a body (empty for none). The whole response is read.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, HttpError> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err(HttpError(format!("`{url}` is not an http:// or https:// URL")));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(&name.to_string(), &value.as_bytes().to_vec())
            .map_err(|e| HttpError(format!("header `{name}`: {e:?}")))?;
    }
    if !body.is_empty() && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
        fields
            .append(&"content-length".to_string(), &body.len().to_string().into_bytes())
            .map_err(|e| HttpError(format!("header `content-length`: {e:?}")))?;
    }
    let request = OutgoingRequest::new(fields);
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    };
    let bad = |what: &str| HttpError(format!("`{url}`: {what}"));
    request.set_method(&method).map_err(|()| bad("not a method"))?;
    request.set_scheme(Some(&scheme)).map_err(|()| bad("not a scheme"))?;
    request.set_authority(Some(authority)).map_err(|()| bad("not a host and port"))?;
    request.set_path_with_query(Some(&path)).map_err(|()| bad("not a path"))?;
    let outgoing = request.body().map_err(|()| bad("no request body"))?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| failed(url, &e))?;
    // A refused request drops its body: the refusal, read below, says why
    // better than the failed write.
    let mut sending = Ok(());
    if let Ok(stream) = outgoing.write() {
        for chunk in body.chunks(4096) {
            if let Err(e) = stream.blocking_write_and_flush(chunk) {
                sending = Err(bad(&format!("sending the body: {e:?}")));
                break;
            }
        }
    }
    if let Err(e) = OutgoingBody::finish(outgoing, None) {
        sending = sending.and(Err(failed(url, &e)));
    }
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(failed(url, &e)),
        Some(Err(())) | None => return Err(bad("the response was already taken")),
    };
    sending?;
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response.consume().map_err(|()| bad("no response body"))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming.stream().map_err(|()| bad("no response body"))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(bad(&format!("reading the response: {}", e.to_debug_string())));
                }
            }
        }
    }
    Ok(Response { status, headers, body: bytes })
}

fn failed(url: &str, error: &ErrorCode) -> HttpError {
    let why = match error {
        ErrorCode::HttpRequestDenied => {
            "refused by the host: the node's `net` grant does not name this host and port, \
                                         or its network budget is spent (the run's log says which)"
                .to_string()
        }
        ErrorCode::DestinationIpProhibited => {
            "refused by the host: the name resolves to an address that is not public".to_string()
        }
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout => {
            "timed out (the node's wall-time budget ended)".to_string()
        }
        ErrorCode::HttpResponseBodySize(_) => "the node's network byte budget is spent".to_string(),
        other => format!("{other:?}"),
    };
    HttpError(format!("{url}: {why}"))
}

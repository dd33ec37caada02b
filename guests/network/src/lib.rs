//! Nodes that use the network (`weavelet::http`), for the `net` grant's
//! tests and the `examples/rates` pipeline.

use weavelet_sdk as weavelet;
use weavelet_sdk::http;

/// The body of `GET url`, as text (a status other than 2xx fails the node).
#[weavelet::node]
fn fetch(url: String) -> Result<String, http::HttpError> {
    http::get(&url)?.text()
}

/// The status `GET url` answers, as it comes: a redirect is not followed.
#[weavelet::node]
fn status(url: String) -> Result<i64, http::HttpError> {
    Ok(i64::from(http::get(&url)?.status))
}

/// Follows redirects itself, as a node that tries to leave its grant would:
/// each request it makes is checked again by the host.
#[weavelet::node]
fn follow(url: String) -> Result<String, http::HttpError> {
    let mut url = url;
    for _ in 0..5 {
        let response = http::get(&url)?;
        match response.header("location") {
            Some(next) if (300..400).contains(&response.status) => url = next.to_string(),
            _ => return response.text(),
        }
    }
    Err(http::HttpError("too many redirects".into()))
}

/// Asks for `url` `times` times and counts the answers; stops at the first refusal.
#[weavelet::node]
fn fetch_many(url: String, times: i64) -> Result<i64, http::HttpError> {
    for done in 0..times {
        if let Err(e) = http::get(&url) {
            return Err(http::HttpError(format!("request {} of {times}: {e}", done + 1)));
        }
    }
    Ok(times)
}

/// Asks for `url` `times` times whatever the answers, and counts the ones that came.
#[weavelet::node]
fn keep_asking(url: String, times: i64) -> i64 {
    (0..times).filter(|_| http::get(&url).is_ok()).count() as i64
}

/// Posts `size` bytes to `url` and returns the answer's text.
#[weavelet::node]
fn upload(url: String, size: i64) -> Result<String, http::HttpError> {
    let body = vec![b'x'; usize::try_from(size).unwrap_or(0)];
    http::post(&url, "application/octet-stream", &body)?.text()
}

/// Today's exchange rates for `base` from a rates service (the JSON it
/// serves at `<rates_url>/latest?base=...`), as the JSON text it answers.
#[weavelet::node]
fn fetch_rates(rates_url: String, base: String) -> Result<String, http::HttpError> {
    let response = http::get(&format!("{}/latest?base={base}", rates_url.trim_end_matches('/')))?;
    response.text()
}

weavelet::export!(fetch, status, follow, fetch_many, keep_asking, upload, fetch_rates);

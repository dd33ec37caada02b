//! Nodes that request capabilities, for the policy tests.

use weavelet_sdk as weavelet;

fn clock_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(-1)
}

/// Reads one environment variable and the clock: both must be granted.
#[weavelet::node(env = "WEAVELET_TEST_GRANTED", clock)]
fn env_and_clock() -> Vec<String> {
    let value = std::env::var("WEAVELET_TEST_GRANTED").unwrap_or_else(|_| "<unset>".into());
    vec![value, clock_secs().to_string()]
}

/// Requests nothing, and looks for the same variable and another one.
#[weavelet::node]
fn snoop() -> Vec<String> {
    let get = |k: &str| std::env::var(k).unwrap_or_else(|_| "<unset>".into());
    vec![get("WEAVELET_TEST_GRANTED"), get("WEAVELET_TEST_CANARY"), clock_secs().to_string()]
}

/// Requests read access to `data`.
#[weavelet::node(read_dir = "data")]
fn reads_data() -> i64 {
    1
}

/// Requests write access to `out` and writes a file there.
#[weavelet::node(write_dir = "out")]
fn writes_out() -> Result<i64, String> {
    std::fs::write("out/hello.txt", "written by a node")
        .map_err(|e| format!("cannot write out/hello.txt: {e}"))?;
    Ok(17)
}

/// Has write access to `out`, and tries to leave it.
#[weavelet::node(write_dir = "out")]
fn escapes_out() -> Result<i64, String> {
    std::fs::write("out/../escaped.txt", "out of bounds")
        .map_err(|e| format!("cannot write out/../escaped.txt: {e}"))?;
    Ok(1)
}

/// Fails until its `succeed_on`-th attempt, counting attempts in
/// `state/attempts`: a node whose failures are transient, for the retry tests.
#[weavelet::node(write_dir = "state")]
fn flaky(succeed_on: i64) -> Result<i64, String> {
    let count = std::fs::read_to_string("state/attempts")
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let attempt = count + 1;
    std::fs::write("state/attempts", attempt.to_string())
        .map_err(|e| format!("cannot count attempts: {e}"))?;
    if attempt < succeed_on {
        return Err(format!("the service is unavailable (attempt {attempt})"));
    }
    Ok(attempt)
}

/// Reads `data/<name>` through WASI (`std::fs`) and returns its text.
#[weavelet::node(read_dir = "data")]
fn read_through_wasi(name: String) -> Result<String, String> {
    std::fs::read_to_string(format!("data/{name}")).map_err(|e| format!("cannot read data/{name}: {e}"))
}

weavelet::export!(env_and_clock, snoop, reads_data, writes_out, escapes_out, flaky, read_through_wasi);

//! `Policy`: what a node may use (budgets), what it may touch (grants),
//! whether its results are cached, and whether a failure is tried again.
//! Every default is here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use weavelet_data::ReadGrants;

use crate::decl::Capability;

/// Everything a node runs under: four parts, each with its own defaults.
///
/// The defaults are the untrusted-node policy of Weavelet's security model:
/// the budgets of [`Budgets::default`], nothing granted, cached unless it is
/// granted something nondeterministic, tried once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// How much it may use.
    pub budgets: Budgets,
    /// What outside its sandbox it may touch.
    pub grants: Grants,
    /// Whether its results may come from the result cache.
    pub cache: CachePolicy,
    /// Whether a failure is tried again.
    pub retry: Retry,
    /// Where the node's code and the host work it causes run.
    pub isolation: Isolation,
}

/// Where a node's code, and the host work it asks for (table plans, SVG
/// rendering, image decoding), runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// In a worker process the host supervises, bounded by the OS (memory,
    /// no network, no `exec`, files only beneath its grants) and killed when
    /// it overruns its wall-time budget inside a host call. The default.
    #[default]
    Process,
    /// In the host process itself: faster to start, for sources an operator
    /// trusts. A host call cannot be interrupted, and a crash of third-party
    /// code (polars, resvg, image decoders) takes the whole run down.
    InProcess,
}

impl Isolation {
    /// The word a manifest uses: `process` or `in-process`.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::Process => "process",
            Isolation::InProcess => "in-process",
        }
    }

    /// The isolation a manifest names.
    pub fn parse(text: &str) -> Result<Isolation, String> {
        match text {
            "process" => Ok(Isolation::Process),
            "in-process" => Ok(Isolation::InProcess),
            _ => Err(format!("`{text}` is not an isolation level (write \"process\" or \"in-process\")")),
        }
    }
}

/// The budgets a node runs under.
///
/// | budget | default |
/// |---|---|
/// | wall time | 5 s |
/// | memory (all of a node's memories summed) | 256 MiB |
/// | output | 64 MiB |
/// | log | 64 KiB |
/// | Rhai operations | 100 M |
/// | handles (tables, SVGs, images held at once) | 10 000 |
/// | fuel (wasm instructions) | not counted |
/// | network requests (for a node granted `net`) | 100 |
/// | network bytes, sent and received | 64 MiB |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budgets {
    /// Wall-clock time a node may run, including its instantiation.
    pub timeout: Duration,
    /// Bytes of linear memory a node may hold, summed over all its memories.
    pub memory: u64,
    /// Bytes a node's output may occupy.
    pub output_bytes: usize,
    /// Bytes of log (and captured stderr) kept per node.
    pub log_bytes: usize,
    /// Operations a Rhai node may execute.
    pub operations: u64,
    /// Tables, SVG documents and images a component node may hold at once.
    pub handles: usize,
    /// Instructions a component node may execute (wasm fuel), if counted. Only
    /// an engine that counts fuel enforces it; wall time is bounded either way.
    pub fuel: Option<u64>,
    /// HTTP requests a node granted the network may make.
    pub net_requests: u64,
    /// Bytes of HTTP bodies a node granted the network may send and receive, summed.
    pub net_bytes: u64,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            timeout: Duration::from_secs(5),
            memory: 256 << 20,
            output_bytes: 64 << 20,
            log_bytes: 64 << 10,
            operations: 100_000_000,
            handles: 10_000,
            fuel: None,
            net_requests: 100,
            net_bytes: 64 << 20,
        }
    }
}

/// What a node may touch outside its sandbox; nothing by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Folders whose files the node may read, through host readers (and, for
    /// a component that declares `read-dir`, through WASI).
    pub files: Arc<ReadGrants>,
    /// Environment variables the node may read (names; their values come from
    /// the host's environment when the node runs).
    pub env: Vec<String>,
    /// The real wall clock instead of a clock fixed at the Unix epoch.
    pub clock: bool,
    /// Real randomness instead of a fixed-seed stream.
    pub random: bool,
    /// Folders the node may create and write files in: the host folder and
    /// the path the guest uses for it (as the pipeline names it, `out`).
    pub write: Vec<(PathBuf, String)>,
    /// Hosts the node may send HTTP(S) requests to, each with its port.
    pub net: Vec<NetHost>,
}

/// A host a node may reach, as a `net` grant names it: `api.example.com:443`,
/// `127.0.0.1:8080`, `[::1]:8080`. A name is resolved by the host when the node
/// connects, and only to public addresses; an address is reached only when
/// it is named literally.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetHost {
    /// The name (lowercase, without a trailing dot) or the IP address (IPv6 without brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl NetHost {
    /// A grant as written: `host:port`, a port always given.
    pub fn parse(text: &str) -> Result<NetHost, String> {
        let bad = |why: &str| format!("`{text}` is not a host and port to grant: {why}");
        if text.contains("://") {
            return Err(bad("write the host and port without a scheme, `api.example.com:443`"));
        }
        if text.contains(['/', '?', '#', '@', '*'])
            || text.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad("only a host name or address and a port, no paths, users or wildcards"));
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (addr, port) =
                rest.split_once("]:").ok_or_else(|| bad("write an IPv6 address as `[::1]:8080`"))?;
            let addr: std::net::Ipv6Addr =
                addr.parse().map_err(|_| bad("not an IPv6 address in the brackets"))?;
            (addr.to_string(), port)
        } else {
            let (host, port) = text
                .rsplit_once(':')
                .ok_or_else(|| bad("a port is needed, `api.example.com:443` for HTTPS"))?;
            if host.contains(':') {
                return Err(bad("write an IPv6 address in brackets, `[::1]:8080`"));
            }
            (host.trim_end_matches('.').to_ascii_lowercase(), port)
        };
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
        let name_ok = host.parse::<std::net::IpAddr>().is_ok()
            || (!host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                }));
        if !name_ok {
            return Err(bad("not a host name (letters, digits, `-` and dots) or an IP address"));
        }
        // `127.1`, `2130706433`, `0x7f.1`: resolvers read these as IPv4 addresses.
        let last = host.rsplit('.').next().unwrap_or_default();
        let numeric = last.chars().all(|c| c.is_ascii_digit())
            || (last.len() > 2 && last[..2].eq_ignore_ascii_case("0x"));
        if numeric && host.parse::<std::net::IpAddr>().is_err() {
            return Err(bad("an address must be written in full (`127.0.0.1`), not as a name"));
        }
        Ok(NetHost { host, port })
    }

    /// Whether the grant names an address rather than a name.
    pub fn is_address(&self) -> bool {
        self.host.parse::<std::net::IpAddr>().is_ok()
    }
}

/// Whether `ip` is an address on the public internet: not loopback, a private
/// or shared network, link-local, multicast, documentation, reserved, or an
/// IPv6 form that embeds one of those.
pub fn is_public_address(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(a) => public_v4(a),
        std::net::IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return public_v4(v4);
            }
            let s = a.segments();
            let embedded = |hi: u16, lo: u16| {
                std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)
            };
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                return public_v4(embedded(s[6], s[7]));
            }
            // IPv4-translated (::ffff:0:a.b.c.d).
            if s[0..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0 {
                return public_v4(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return public_v4(embedded(s[1], s[2]));
            }
            !(a.is_unspecified()
                || a.is_loopback()
                || a.is_multicast()
                || s[0] & 0xfe00 == 0xfc00 // unique local
                || s[0] & 0xffc0 == 0xfe80 // link-local
                || s[0] & 0xffc0 == 0xfec0 // site-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[0] & 0xfff0 == 0x3ff0 // documentation (3fff::/20)
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64
                || (s[0] == 0x2001 && s[1] == 0) // Teredo
                || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible
        }
    }
}

fn public_v4(a: std::net::Ipv4Addr) -> bool {
    let o = a.octets();
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && o[1] & 0xc0 == 64) // shared address space (CGNAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && o[1] & 0xfe == 18) // benchmarking
        || o[0] >= 240) // reserved
}

impl std::fmt::Display for NetHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Grants {
    /// Whether these grants allow `capability`. Folders are compared as the
    /// pipeline's folder joined with the requested path.
    pub fn allow(&self, capability: &Capability) -> bool {
        match capability {
            Capability::ReadDir(dir) => {
                let wanted = self.files.base.join(dir.trim_start_matches('/'));
                let wanted = wanted.canonicalize().unwrap_or(wanted);
                self.files.read.iter().any(|granted| wanted.starts_with(granted))
            }
            Capability::WriteDir(dir) => {
                let wanted = dir.trim_start_matches('/').trim_end_matches('/');
                self.write.iter().any(|(_, guest)| guest == wanted)
            }
            Capability::Env(key) => self.env.iter().any(|k| k == key),
            Capability::Clock => self.clock,
            Capability::Random => self.random,
        }
    }

    /// Whether the node touches the world outside its sandbox (so a failure
    /// may be transient).
    pub fn has_io(&self) -> bool {
        !self.files.read.is_empty()
            || !self.write.is_empty()
            || !self.env.is_empty()
            || self.clock
            || self.random
            || !self.net.is_empty()
    }

    /// What it is granted that makes its results differ from run to run, or
    /// has effects: the clock, randomness, a write folder.
    fn nondeterministic(&self) -> Vec<&'static str> {
        let mut grants = Vec::new();
        if self.clock {
            grants.push("the clock");
        }
        if self.random {
            grants.push("randomness");
        }
        if !self.write.is_empty() {
            grants.push("a write folder");
        }
        if !self.net.is_empty() {
            grants.push("the network");
        }
        grants
    }
}

/// Whether a node's results may come from the result cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CachePolicy {
    /// Cached unless it is granted the clock, randomness, a write folder or the network.
    #[default]
    Auto,
    /// Cached whatever it is granted.
    Always,
    /// Never cached.
    Never,
}

impl CachePolicy {
    /// `Always` for `true`, `Never` for `false`.
    pub fn from_bool(cache: bool) -> CachePolicy {
        if cache { CachePolicy::Always } else { CachePolicy::Never }
    }
}

/// How often a node is tried before its failure stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (at least 1). Only failures that may be transient are
    /// tried again: errors of a node with I/O grants (files, environment,
    /// clock, randomness), not traps or exceeded budgets unless `violations`.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles for each further one
    /// (at most a minute), with ±50 % jitter.
    pub backoff: Duration,
    /// Also try again after a trap or an exceeded budget.
    pub violations: bool,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 1, backoff: Duration::from_millis(200), violations: false }
    }
}

impl Policy {
    /// Why a node under this policy is not cached, if it is not.
    pub fn uncacheable(&self) -> Option<String> {
        match self.cache {
            CachePolicy::Always => return None,
            CachePolicy::Never => return Some("its policy never caches it".into()),
            CachePolicy::Auto => {}
        }
        let grants = self.grants.nondeterministic();
        (!grants.is_empty()).then(|| {
            format!(
                "it is granted {}, so its results may differ between runs (a policy that always caches it overrides this)",
                grants.join(" and ")
            )
        })
    }

    /// The attempts a node under this policy gets: its retry setting when it
    /// has I/O grants, else one.
    pub fn attempts(&self) -> u32 {
        if self.grants.has_io() { self.retry.attempts.max(1) } else { 1 }
    }

    /// This policy with `timeout` as its wall-time budget.
    pub fn with_timeout(mut self, timeout: Duration) -> Policy {
        self.budgets.timeout = timeout;
        self
    }

    /// This policy with a memory budget of `bytes`.
    pub fn with_memory(mut self, bytes: u64) -> Policy {
        self.budgets.memory = bytes;
        self
    }
}

/// Settings a node's own source asks for: a Rhai node's `/// @timeout`,
/// `@operations`, `@attempts`, `@backoff` and `@cache false`.
///
/// The source is the node author's, not the operator's, so requests only
/// narrow the policy the node runs under ([`Policy::narrowed`]): a lower
/// budget, fewer attempts, a shorter backoff or no caching take effect; asking
/// for more than the policy allows changes nothing. Raising a budget takes the
/// operator's policy (a manifest's `[policy]`, an embedder's [`Policy`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requests {
    /// A wall-time budget.
    pub timeout: Option<Duration>,
    /// A Rhai operation budget.
    pub operations: Option<u64>,
    /// Attempts in all.
    pub attempts: Option<u32>,
    /// The wait before a second attempt.
    pub backoff: Option<Duration>,
    /// `false`: never take the node's result from the cache (`true` is the
    /// operator's to grant, and asks for nothing here).
    pub cache: Option<bool>,
}

impl Requests {
    /// Whether it asks for nothing.
    pub fn is_empty(&self) -> bool {
        *self == Requests::default()
    }
}

impl Policy {
    /// A policy in one line per aspect: where it runs, budgets, grants, cache and retries.
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        let p = self;
        let b = &p.budgets;
        let g = &p.grants;
        let mut grants: Vec<String> = Vec::new();
        grants.extend(g.files.read.iter().map(|d| format!("read {}", d.display())));
        grants.extend(g.write.iter().map(|(d, _)| format!("write {}", d.display())));
        grants.extend(g.env.iter().map(|k| format!("env {k}")));
        if g.clock {
            grants.push("clock".into());
        }
        if g.random {
            grants.push("random".into());
        }
        grants.extend(g.net.iter().map(|h| format!("net {h}")));
        let mut budgets = vec![
            format!("timeout {}", crate::human_duration(b.timeout)),
            format!("memory {}", crate::human_bytes(b.memory)),
            format!("output {}", crate::human_bytes(b.output_bytes as u64)),
            format!("log {}", crate::human_bytes(b.log_bytes as u64)),
        ];
        if let Some(fuel) = b.fuel {
            budgets.push(format!("fuel {fuel}"));
        }
        if !g.net.is_empty() {
            budgets.push(format!(
                "{} requests, {} of network",
                b.net_requests,
                crate::human_bytes(b.net_bytes)
            ));
        }
        let cache = match p.cache {
            CachePolicy::Auto => match p.uncacheable() {
                Some(why) => format!("not cached ({why})"),
                None => "cached".to_string(),
            },
            CachePolicy::Always => "always cached".to_string(),
            CachePolicy::Never => "never cached".to_string(),
        };
        vec![
            ("runs in", p.isolation.name().to_string()),
            ("budgets", budgets.join(", ")),
            ("grants", if grants.is_empty() { "none".to_string() } else { grants.join(", ") }),
            (
                "results",
                format!(
                    "{cache}; {} attempt{}",
                    p.retry.attempts,
                    if p.retry.attempts == 1 { "" } else { "s" }
                ),
            ),
        ]
    }
}

impl Policy {
    /// This policy narrowed by what a node's source asks for (see [`Requests`]).
    pub fn narrowed(mut self, requests: &Requests) -> Policy {
        if let Some(t) = requests.timeout {
            self.budgets.timeout = self.budgets.timeout.min(t);
        }
        if let Some(n) = requests.operations {
            self.budgets.operations = self.budgets.operations.min(n);
        }
        if let Some(n) = requests.attempts {
            self.retry.attempts = self.retry.attempts.min(n.max(1));
        }
        if let Some(b) = requests.backoff {
            self.retry.backoff = self.retry.backoff.min(b);
        }
        if requests.cache == Some(false) {
            self.cache = CachePolicy::Never;
        }
        self
    }
}

/// A size as people write it: `512`, `64KiB`, `256MiB`, `2GiB` (also `KB`, `MB`, `GB` as powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a size (write 64KiB, 256MiB or 2GiB)");
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "K" => 1 << 10,
        "MiB" | "MB" | "M" => 1 << 20,
        "GiB" | "GB" | "G" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(bad)
}

/// A duration as people write it: `500ms`, `10s`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration (write 500ms, 10s or 2m)");
    let (number, unit) =
        text.find(|c: char| !c.is_ascii_digit() && c != '.').map_or((text, ""), |i| text.split_at(i));
    let n: f64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_as_written() {
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn a_node_s_requests_narrow_its_policy_and_never_widen_it() {
        let operator = Policy {
            cache: CachePolicy::Auto,
            retry: Retry { attempts: 3, ..Retry::default() },
            ..Policy::default()
        };
        let lower = Requests {
            timeout: Some(Duration::from_secs(1)),
            operations: Some(10),
            attempts: Some(2),
            backoff: Some(Duration::from_millis(10)),
            cache: Some(false),
        };
        let narrowed = operator.clone().narrowed(&lower);
        assert_eq!(narrowed.budgets.timeout, Duration::from_secs(1));
        assert_eq!(narrowed.budgets.operations, 10);
        assert_eq!(narrowed.retry.attempts, 2);
        assert_eq!(narrowed.retry.backoff, Duration::from_millis(10));
        assert_eq!(narrowed.cache, CachePolicy::Never);

        let higher = Requests {
            timeout: Some(Duration::from_secs(3600)),
            operations: Some(u64::MAX),
            attempts: Some(100),
            backoff: Some(Duration::from_secs(60)),
            cache: Some(true),
        };
        assert_eq!(operator.clone().narrowed(&higher), operator);
        assert_eq!(
            operator.clone().narrowed(&Requests { attempts: Some(0), ..Requests::default() }).retry.attempts,
            1
        );
        assert!(Requests::default().is_empty() && !higher.is_empty());
    }

    #[test]
    fn nondeterministic_grants_keep_a_node_out_of_the_cache_unless_its_policy_says() {
        let mut policy = Policy::default();
        assert_eq!(policy.uncacheable(), None);
        policy.grants.clock = true;
        assert!(policy.uncacheable().is_some_and(|why| why.contains("the clock")));
        policy.cache = CachePolicy::Always;
        assert_eq!(policy.uncacheable(), None);
        assert_eq!(policy.attempts(), 1);
        policy.retry.attempts = 3;
        assert_eq!(policy.attempts(), 3, "a node with I/O grants may be tried again");
        let mut fetching = Policy::default();
        fetching.grants.net.push(NetHost::parse("api.example.com:443").unwrap());
        assert!(fetching.uncacheable().is_some_and(|why| why.contains("the network")));
    }

    #[test]
    fn net_grants_name_a_host_and_a_port_and_nothing_else() {
        let ok = |t: &str| NetHost::parse(t).map(|h| h.to_string());
        assert_eq!(ok("API.Example.com.:443"), Ok("api.example.com:443".into()));
        assert_eq!(ok("127.0.0.1:8080"), Ok("127.0.0.1:8080".into()));
        assert_eq!(ok("[::1]:80"), Ok("[::1]:80".into()));
        assert!(NetHost::parse("[::1]:80").unwrap().is_address());
        assert!(!NetHost::parse("example.com:80").unwrap().is_address());
        for bad in [
            "example.com",
            "https://example.com:443",
            "example.com:0",
            "example.com:99999",
            "*.example.com:443",
            "example.com:443/path",
            "user@example.com:443",
            "::1:80",
            "exa mple.com:80",
            ":443",
            "-bad.com:443",
            "127.1:80",
            "2130706433:80",
            "0x7f.1:80",
        ] {
            assert!(NetHost::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
            "2001:db8::1",
            "64:ff9b:1::a9fe:a9fe",
            "::ffff:0:7f00:1",
            "3fff::1",
        ] {
            assert!(!is_public_address(private.parse().unwrap()), "{private} passed as public");
        }
        for open in ["93.184.215.14", "1.1.1.1", "2606:4700::1111", "64:ff9b::101:101"] {
            assert!(is_public_address(open.parse().unwrap()), "{open} refused");
        }
    }
}

//! Events a run emits for every node: queued, started, finished, failed,
//! skipped, log lines and progress. Front ends (the CLI's status display)
//! consume them through the sink given in [`crate::RunOptions::events`].

use std::sync::Arc;
use std::time::Duration;

use crate::error::NodeFailure;

/// Receives every event of a run. Called on the thread that runs the node, so
/// keep it quick (forward to a channel).
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// Hand `event` to `sink`. A sink that panics (a display whose terminal went
/// away) loses that event; the run it reports on goes on and ends.
pub(crate) fn deliver(sink: &EventSink, event: &Event) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(event)));
}

/// Something that happened to one node.
#[derive(Debug, Clone)]
pub struct Event {
    /// The node's name.
    pub node: Arc<str>,
    /// What happened.
    pub kind: EventKind,
}

/// The severity of a node's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Informational.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something went wrong.
    Error,
}

impl LogLevel {
    /// The level named `name` (`trace`, `debug`, `info`, `warn` or `error`).
    pub fn from_name(name: &str) -> Option<LogLevel> {
        [LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error].into_iter().find(
            |l| {
                l.name().eq_ignore_ascii_case(name)
                    || (name.eq_ignore_ascii_case("warning") && *l == LogLevel::Warn)
            },
        )
    }

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// What happened to a node.
#[derive(Debug, Clone)]
pub enum EventKind {
    /// All its inputs are ready; it waits for a worker.
    Queued,
    /// It started running.
    Started,
    /// It produced its output.
    Finished {
        /// How long it ran (sandbox set-up included; every attempt).
        duration: Duration,
        /// The attempt that succeeded (1 unless it was tried again).
        attempt: u32,
    },
    /// Its output came from the result cache: it did not run.
    Cached {
        /// How long looking it up and loading it took.
        duration: Duration,
    },
    /// An attempt failed in a way that may be transient; it runs again after `delay`.
    Retrying {
        /// The attempt that failed.
        attempt: u32,
        /// Attempts allowed in all.
        attempts: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// Why the attempt failed.
        failure: NodeFailure,
    },
    /// It failed.
    Failed {
        /// Why.
        failure: NodeFailure,
    },
    /// It did not run because an upstream node failed.
    Skipped {
        /// The failed node upstream.
        because: Arc<str>,
    },
    /// It wrote a log line (terminal escapes are not yet stripped: use [`sanitize`]).
    Log {
        /// Severity.
        level: LogLevel,
        /// The line.
        message: String,
    },
    /// It reported progress.
    Progress {
        /// Units done.
        done: u64,
        /// Units in all (0: unknown).
        total: u64,
        /// What it is doing.
        message: String,
    },
}

/// Strip terminal control sequences and other control characters from guest
/// text before it is displayed (a guest must not drive the user's terminal).
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // ESC [ ... final byte, or ESC followed by one character.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sanitize_strips_escapes() {
        assert_eq!(super::sanitize("a\u{1b}[31mred\u{1b}[0m\u{7}b\nc"), "aredb\nc");
    }
}

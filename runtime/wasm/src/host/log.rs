//! The `weavelet:node/host` interface: log lines (within the node's log
//! budget; what is over it is counted and dropped) and progress.

use weavelet_core::{Event, EventKind, LogLevel};

use super::host::{Host, LogLevel as WitLevel};
use crate::host::NodeState;

impl Host for NodeState {
    fn log(&mut self, level: WitLevel, message: String) {
        let level = match level {
            WitLevel::Trace => LogLevel::Trace,
            WitLevel::Debug => LogLevel::Debug,
            WitLevel::Info => LogLevel::Info,
            WitLevel::Warn => LogLevel::Warn,
            WitLevel::Error => LogLevel::Error,
        };
        if message.len() > self.log.left {
            self.log.dropped += message.len();
            return;
        }
        self.log.left -= message.len();
        if let Some(events) = &self.events {
            events(&Event { node: self.node.clone(), kind: EventKind::Log { level, message } });
        }
    }

    fn progress(&mut self, done: u64, total: u64, message: String) {
        if let Some(events) = &self.events {
            let message: String = message.chars().take(200).collect();
            events(&Event { node: self.node.clone(), kind: EventKind::Progress { done, total, message } });
        }
    }
}

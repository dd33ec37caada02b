//! `weavelet:node@0.3.0`, the contract before the boolean type had one name: its host
//! functions and glue, for components built then.
//! The files are shared with `v0_4` (see `crate::contract`).

pub(crate) use crate::bindings::v0_3::ModulePre;
use crate::bindings::v0_3::weavelet::node::host;
use crate::bindings::v0_3::weavelet::node::types as wit;
// The one name that differs between the versions.
use wit::Value::Boolean as BoolValue;
use wit::ValueType::Boolean as BoolType;

#[path = "calls.rs"]
#[allow(clippy::duplicate_mod, reason = "one source, compiled once per contract version")]
pub(crate) mod calls;
#[path = "../host/graphics.rs"]
#[allow(clippy::duplicate_mod, reason = "one source, compiled once per contract version")]
mod graphics;
#[path = "../host/log.rs"]
#[allow(clippy::duplicate_mod, reason = "one source, compiled once per contract version")]
mod log;
#[path = "../host/tables.rs"]
#[allow(clippy::duplicate_mod, reason = "one source, compiled once per contract version")]
mod tables;

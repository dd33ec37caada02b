//! `weavelet:node@0.4.0`, the current contract: its host functions and glue.
//! The files are shared with `v0_3` (see `crate::contract`).

pub(crate) use crate::bindings::v0_4::ModulePre;
use crate::bindings::v0_4::weavelet::node::host;
use crate::bindings::v0_4::weavelet::node::types as wit;
// The one name that differs between the versions.
use wit::Value::Bool as BoolValue;
use wit::ValueType::Bool as BoolType;

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

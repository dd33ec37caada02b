//! Paths of the guest components under `guests/`, freshly built for
//! wasm32-wasip2 by this crate's build script.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

//! The host side of the WIT world `weavelet:node/module`, once per version of
//! the contract this host runs, with the `table`, `svg` and `image` resources
//! of both mapped to the same `weavelet-data` values.

/// `weavelet:node@0.4.0` (`wit/`), what components are built against now.
pub mod v0_4 {
    wasmtime::component::bindgen!({
        world: "module",
        path: "../../wit",
        with: {
            "weavelet:node/types.table": weavelet_data::Table,
            "weavelet:node/types.svg": weavelet_data::Svg,
            "weavelet:node/types.image": weavelet_data::Image,
        },
    });
}

/// `weavelet:node@0.3.0` (`wit-0.3.0/`, frozen): components built before the
/// boolean type had one name. Still run; `ComponentModule::outdated` says so.
pub mod v0_3 {
    wasmtime::component::bindgen!({
        world: "module",
        path: "wit-0.3.0",
        with: {
            "weavelet:node/types.table": weavelet_data::Table,
            "weavelet:node/types.svg": weavelet_data::Svg,
            "weavelet:node/types.image": weavelet_data::Image,
        },
    });
}

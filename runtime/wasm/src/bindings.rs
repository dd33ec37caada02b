//! The host side of the WIT world `weavelet:node/module`, with the `table`,
//! `svg` and `image` resources mapped to `weavelet-data`'s values.

wasmtime::component::bindgen!({
    world: "module",
    path: "../../wit",
    with: {
        "weavelet:node/types.table": weavelet_data::Table,
        "weavelet:node/types.svg": weavelet_data::Svg,
        "weavelet:node/types.image": weavelet_data::Image,
    },
});

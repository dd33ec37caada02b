//! Components as OCI artifacts (the layout of wasm-pkg-tools and Spin): one
//! `application/wasm` layer holding the component, a
//! `application/vnd.wasm.config.v0+json` config, and — Weavelet's own — an
//! optional layer holding a minisign signature of the component, plus the
//! component's WIT world as a manifest annotation. Pulled and pushed with
//! `oci-client`; every transfer bounded in size and time.

use std::collections::BTreeMap;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use weavelet_core::human_bytes;
use weavelet_core::key::{hex, sha256};

use crate::fetch::{MAX_SIGNATURE, TIMEOUT, transfer_runtime};

/// The media type of the layer holding the component.
pub const WASM_LAYER: &str = "application/wasm";
/// The media type of the artifact's config (the Wasm OCI artifact layout).
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// The media type of the layer holding a minisign signature of the component.
pub const SIGNATURE_LAYER: &str = "application/vnd.weavelet.minisign.signature";
/// The manifest annotation holding the component's WIT world.
pub const WIT_ANNOTATION: &str = "dev.weavelet.wit";

/// What a pull brought.
pub(crate) struct Pulled {
    /// The component's bytes (empty when only the signature was asked for).
    pub wasm: Vec<u8>,
    /// Its signature, where the artifact has one.
    pub signature: Option<Vec<u8>>,
}

/// A client for `reference`'s registry: HTTPS, except plain HTTP for a
/// registry on this machine (localhost, 127.0.0.0/8, [::1]), as Docker does.
fn client(reference: &Reference) -> Client {
    let registry = reference.resolve_registry().to_string();
    let host = registry.rsplit_once(':').map_or(registry.as_str(), |(host, _)| host);
    let local = host == "localhost"
        || host == "[::1]"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
    let protocol = if local { ClientProtocol::HttpsExcept(vec![registry]) } else { ClientProtocol::Https };
    Client::new(ClientConfig {
        protocol,
        read_timeout: Some(Duration::from_secs(30)),
        connect_timeout: Some(Duration::from_secs(30)),
        // A component is not an image for some platform: an image index is refused.
        platform_resolver: None,
        ..ClientConfig::default()
    })
}

/// Credentials for `reference`'s registry: `WEAVELET_REGISTRY_USERNAME` and
/// `WEAVELET_REGISTRY_PASSWORD`, only where it is the registry
/// `WEAVELET_REGISTRY_HOST` names (`registry.example` or `host:port`) — never
/// to a registry a pipeline merely lists. Anonymous otherwise.
fn auth(reference: &Reference) -> RegistryAuth {
    let host = std::env::var("WEAVELET_REGISTRY_HOST").unwrap_or_default();
    if host.is_empty() || host != reference.resolve_registry() {
        return RegistryAuth::Anonymous;
    }
    match (std::env::var("WEAVELET_REGISTRY_USERNAME"), std::env::var("WEAVELET_REGISTRY_PASSWORD")) {
        (Ok(user), Ok(password)) => RegistryAuth::Basic(user, password),
        _ => RegistryAuth::Anonymous,
    }
}

/// `text` as a reference, or why it is not one.
pub(crate) fn reference(text: &str) -> Result<Reference, String> {
    Reference::try_from(text).map_err(|e| {
        format!("`{text}` is not an OCI reference ({e}); one looks like registry.example/namespace/name:1.0")
    })
}

/// `future` run to its end on a transfer runtime, for at most [`TIMEOUT`].
fn block_on<T>(future: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    transfer_runtime()?.block_on(async {
        tokio::time::timeout(TIMEOUT, future)
            .await
            .map_err(|_| format!("it took longer than {} s", TIMEOUT.as_secs()))?
    })
}

/// An oci-client error with its causes, with anything the registry wrote
/// made safe for a terminal.
fn said(e: impl std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    weavelet_core::sanitize(&text)
}

/// The component (when `with_component`) and the signature of the artifact at
/// `text`. With `pin`, the manifest must name a component layer with that
/// SHA-256 before anything else is fetched; the component's bytes must have
/// the digest the manifest names (a registry serving other bytes is refused)
/// and are read only up to `max_size`.
pub(crate) fn pull(
    text: &str,
    pin: Option<&str>,
    max_size: u64,
    with_component: bool,
) -> Result<Pulled, String> {
    let reference = reference(text)?;
    let client = client(&reference);
    block_on(async {
        let (manifest, _) = client
            .pull_image_manifest(&reference, &auth(&reference))
            .await
            .map_err(|e| format!("the registry: {}", said(e)))?;
        let wasm_layers: Vec<&OciDescriptor> =
            manifest.layers.iter().filter(|l| l.media_type == WASM_LAYER).collect();
        let [layer] = wasm_layers.as_slice() else {
            return Err(format!(
                "the artifact holds {} layers of type {WASM_LAYER} (a component is published as exactly one; \
                 `weavelet publish` does that)",
                wasm_layers.len()
            ));
        };
        let named = layer
            .digest
            .strip_prefix("sha256:")
            .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| "its component layer names a digest that is not a SHA-256 one".to_string())?;
        // A layer with `urls` is fetched from those hosts where the registry
        // lacks it: the registry must serve every byte itself.
        if manifest.layers.iter().any(|l| l.urls.as_ref().is_some_and(|u| !u.is_empty())) {
            return Err("its manifest sends a layer to other hosts (`urls`), which is refused".into());
        }
        if let Some(pin) = pin
            && !named.eq_ignore_ascii_case(pin)
        {
            return Err(format!(
                "the registry's manifest names a component with SHA-256 {named}, not the {pin} the manifest pins; \
                 nothing was fetched (if the publisher changed it on purpose, review it with `weavelet update`)"
            ));
        }
        let wasm = if with_component {
            if layer.size < 0 || layer.size as u64 > max_size {
                return Err(format!(
                    "its component layer is {} long, more than the largest component accepted ({})",
                    human_bytes(layer.size.max(0) as u64),
                    human_bytes(max_size)
                ));
            }
            let bytes = blob(&client, &reference, layer, max_size, "component").await?;
            let got = hex(&sha256(&bytes));
            if !got.eq_ignore_ascii_case(named) {
                return Err(format!(
                    "the registry served a component whose SHA-256 is {got} for the layer its manifest names \
                     {named}; it was not kept or loaded"
                ));
            }
            bytes
        } else {
            Vec::new()
        };
        let signature = match manifest.layers.iter().find(|l| l.media_type == SIGNATURE_LAYER) {
            Some(layer) => Some(blob(&client, &reference, layer, MAX_SIGNATURE, "signature").await?),
            None => None,
        };
        Ok(Pulled { wasm, signature })
    })
}

/// The blob `layer` names, read up to `max_size` bytes (checked as it arrives).
async fn blob(
    client: &Client,
    reference: &Reference,
    layer: &OciDescriptor,
    max_size: u64,
    what: &str,
) -> Result<Vec<u8>, String> {
    use futures_util::StreamExt as _;
    let mut stream = client.pull_blob_stream(reference, layer).await.map_err(|e| {
        format!("fetching its {what} layer {}: {}", weavelet_core::sanitize(&layer.digest), said(e))
    })?;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            // oci-client checks the digest as the last chunk arrives; a
            // mismatch is said in the caller's words below.
            Err(_) if what == "component" && body.len() as u64 == layer.size.max(0) as u64 => break,
            Err(e) => {
                return Err(format!(
                    "fetching its {what} layer {}: {}",
                    weavelet_core::sanitize(&layer.digest),
                    said(e)
                ));
            }
        };
        if body.len() as u64 + chunk.len() as u64 > max_size {
            return Err(format!(
                "its {what} layer is longer than the largest {what} accepted ({})",
                human_bytes(max_size)
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let got = format!("sha256:{}", hex(&sha256(&body)));
    if what != "component" && got != layer.digest {
        return Err(format!(
            "the registry served a {what} whose digest is {got}, not the {} its manifest names",
            weavelet_core::sanitize(&layer.digest)
        ));
    }
    Ok(body)
}

/// The tags published for `text`'s repository.
pub fn tags(text: &str) -> Result<Vec<String>, String> {
    let reference = reference(text)?;
    let client = client(&reference);
    block_on(async {
        let listed = client
            .list_tags(&reference, &auth(&reference), None, None)
            .await
            .map_err(|e| format!("listing the tags of {}: {}", reference.repository(), said(e)))?;
        Ok(listed.tags)
    })
}

/// Pushes the component `wasm` to `text`, with its `signature` as a layer and
/// its WIT world as an annotation. The digest of the manifest pushed.
pub fn push(
    text: &str,
    wasm: Vec<u8>,
    signature: Option<Vec<u8>>,
    wit: Option<String>,
) -> Result<String, String> {
    let reference = reference(text)?;
    let client = client(&reference);
    let digest = format!("sha256:{}", hex(&sha256(&wasm)));
    let created = utc_now();
    // The Wasm OCI artifact config (CNCF TAG Runtime's layout).
    let config = serde_json::json!({
        "created": created,
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [digest],
        "component": null,
    });
    let config = Config::new(config.to_string().into_bytes(), WASM_CONFIG.to_string(), None);
    let mut layers = vec![ImageLayer::new(wasm, WASM_LAYER.to_string(), None)];
    if let Some(signature) = signature {
        layers.push(ImageLayer::new(signature, SIGNATURE_LAYER.to_string(), None));
    }
    let mut annotations = BTreeMap::new();
    annotations.insert("org.opencontainers.image.created".to_string(), created);
    if let Some(wit) = wit {
        annotations.insert(WIT_ANNOTATION.to_string(), wit);
    }
    let manifest = OciImageManifest::build(&layers, &config, Some(annotations));
    // Pushed as plain JSON: oci-client's own manifest push writes canonical
    // JSON, whose strings keep raw newlines (the WIT text has many), which
    // registries refuse.
    let body = serde_json::to_vec(&manifest).map_err(|e| format!("writing the manifest: {e}"))?;
    block_on(async {
        let failed = |e: oci_client::errors::OciDistributionError| format!("pushing to {text}: {}", said(e));
        client.store_auth_if_needed(reference.resolve_registry(), &auth(&reference)).await;
        for layer in &layers {
            client.push_blob(&reference, &layer.data, &layer.sha256_digest()).await.map_err(failed)?;
        }
        client.push_blob(&reference, &config.data, &manifest.config.digest).await.map_err(failed)?;
        let content_type =
            reqwest::header::HeaderValue::from_static(oci_client::manifest::OCI_IMAGE_MEDIA_TYPE);
        client.push_manifest_raw(&reference, body, content_type).await.map_err(failed)
    })
}

/// Now, as RFC 3339 (`2026-12-06T12:00:00Z`).
fn utc_now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    format!("{}Z", weavelet_core::utc_timestamp(ms).replacen(' ', "T", 1))
}

/// The WIT world of the component `bytes`, as WIT text (the annotation a
/// published artifact carries).
pub fn wit_world(bytes: &[u8]) -> Result<String, String> {
    match wit_component::decode(bytes).map_err(|e| format!("reading its WIT world: {e}"))? {
        wit_component::DecodedWasm::Component(resolve, world) => {
            let package = resolve.worlds[world].package.ok_or("its world belongs to no package")?;
            let mut printer = wit_component::WitPrinter::default();
            printer.print(&resolve, package, &[]).map_err(|e| format!("printing its WIT world: {e}"))?;
            Ok(printer.output.to_string())
        }
        wit_component::DecodedWasm::WitPackage(..) => Err("it is a WIT package, not a component".into()),
    }
}

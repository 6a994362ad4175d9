//! `docs/examples/kubernetes.yaml`, the Deployment `docs/operations.md`
//! shows, parsed by PyYAML: its ConfigMap's two files load through the real
//! config parsers, each container runs one of them, its readiness probe is
//! `/readyz` on the listener's port, and the grace period covers the
//! shutdown delay plus the drain.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use certbound_testkit::require_tool;
use serde_json::Value;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/examples/kubernetes.yaml"
);

/// Every document of the YAML file, as JSON.
fn documents() -> Vec<Value> {
    let out = std::process::Command::new(require_tool("python3"))
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
            EXAMPLE,
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "PyYAML could not read {EXAMPLE}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn kind<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The container's config file name, its readiness probe port and the
/// grace period of its pod.
fn container(deployment: &Value) -> (String, u64, u64, String) {
    let spec = &deployment["spec"]["template"]["spec"];
    let c = &spec["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let file = Path::new(args.last().copied().unwrap_or_default())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let probe = &c["readinessProbe"]["httpGet"];
    assert_eq!(probe["scheme"], "HTTPS");
    (
        file,
        probe["port"].as_u64().unwrap(),
        spec["terminationGracePeriodSeconds"].as_u64().unwrap(),
        probe["path"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn the_kubernetes_example_parses_and_matches_its_configs() {
    let docs = documents();
    let files = &kind(&docs, "ConfigMap", "certbound")["data"];
    let dir = tempfile::tempdir().unwrap();

    let (file, port, grace, path) = container(kind(&docs, "Deployment", "certbound"));
    assert_eq!(file, "certbound.toml");
    assert_eq!(path, "/readyz");
    let text = files[&file].as_str().unwrap();
    let config =
        certbound_server::Config::from_toml(text, &dir.path().join(&file), Vec::new()).unwrap();
    let mtls = config.listeners.mtls.as_ref().unwrap();
    assert_eq!(u64::from(mtls.addr.port()), port);
    let drain = config.listeners.limits.drain_timeout_secs;
    assert!(
        config.shutdown.delay_seconds + drain < grace,
        "grace {grace} s must cover the delay and the drain"
    );
    assert_eq!(
        config.storage.max_connections,
        Some(config.storage.min_connections),
        "a fixed-size pool, as the doc says"
    );
    assert!(config.storage.min_connections > 0);

    let (file, port, grace, path) = container(kind(&docs, "Deployment", "certbound-gateway"));
    assert_eq!(file, "gateway.toml");
    assert_eq!(path, "/readyz");
    let text = files[&file].as_str().unwrap();
    let gateway =
        certbound_gateway::GatewayConfig::from_toml(text, &dir.path().join(&file)).unwrap();
    assert_eq!(u64::from(gateway.listener.addr.port()), port);
    assert!(gateway.shutdown.delay_seconds + gateway.listener.limits.drain_timeout_secs < grace);
}

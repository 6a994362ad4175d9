//! `certbound clients add` for the browser flows: public clients, grant
//! types, redirect URIs, the consent page's name and logo.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{certbound, fresh_config};
use serde_json::Value;

#[test]
fn public_and_browser_clients_are_registered_and_shown() {
    let (_pki, tmp, cfg) = fresh_config("[listeners.mtls]\naddr = \"127.0.0.1:0\"");
    let dir = tmp.path();
    let run =
        |args: &[&str]| certbound(dir, &[&["clients"][..], args, &["--config", &cfg]].concat());

    let (code, out, err) = run(&[
        "add",
        "--id",
        "app",
        "--auth",
        "none",
        "--grant-types",
        "authorization_code,refresh_token",
        "--redirect-uri",
        "http://127.0.0.1:9/cb",
        "--name",
        "App",
    ]);
    assert_eq!(
        (code, out.as_str()),
        (0, "registered app (none)\n"),
        "{err}"
    );
    assert!(
        !out.contains("client_secret"),
        "a public client has no secret"
    );
    let (code, out, _) = run(&["show", "app"]);
    assert_eq!(code, 0);
    let show: Value = serde_json::from_str(&out).expect("show JSON");
    assert_eq!(show["token_endpoint_auth_method"], "none");
    assert_eq!(
        show["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        show["redirect_uris"],
        serde_json::json!(["http://127.0.0.1:9/cb"])
    );
    assert_eq!(show["client_name"], "App");
    assert_eq!(show["logo_uri"], Value::Null);
    assert_eq!(show["always_issue_refresh_token"], false);
    assert_eq!(show["has_secret"], false);

    // A confidential web client: two redirect URIs, a logo, refresh tokens always.
    let (code, _, err) = run(&[
        "add",
        "--id",
        "web",
        "--auth",
        "tls_client_auth",
        "--subject-dn",
        "CN=web",
        "--grant-types",
        "authorization_code,refresh_token,client_credentials",
        "--redirect-uri",
        "https://web.example/cb",
        "--redirect-uri",
        "com.example.app:/cb",
        "--logo-uri",
        "https://web.example/logo.png",
        "--always-refresh-token",
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(&["show", "web"]);
    let show: Value = serde_json::from_str(&out).expect("show JSON");
    assert_eq!(
        show["redirect_uris"],
        serde_json::json!(["https://web.example/cb", "com.example.app:/cb"])
    );
    assert_eq!(show["logo_uri"], "https://web.example/logo.png");
    assert_eq!(show["always_issue_refresh_token"], true);
    assert_eq!(show["client_name"], Value::Null);

    // A client_credentials client shows the new fields empty.
    let (code, _, _) = run(&[
        "add",
        "--id",
        "svc",
        "--auth",
        "tls_client_auth",
        "--san-dns",
        "svc",
    ]);
    assert_eq!(code, 0);
    let (_, out, _) = run(&["show", "svc"]);
    let show: Value = serde_json::from_str(&out).expect("show JSON");
    assert_eq!(show["redirect_uris"], serde_json::json!([]));
    assert_eq!(
        show["grant_types"],
        serde_json::json!(["client_credentials"])
    );
}

#[test]
fn browser_client_refusals_name_the_flag_and_the_rule() {
    let (_pki, tmp, cfg) = fresh_config("[listeners.mtls]\naddr = \"127.0.0.1:0\"");
    let dir = tmp.path();
    let public = ["--auth", "none", "--grant-types", "authorization_code"];
    let cases: [(Vec<&str>, &str); 7] = [
        (
            [&public[..], &["--redirect-uri", "http://example.com/cb"]].concat(),
            "error: --redirect-uri: redirect URI 'http://example.com/cb' uses http to a host \
             that is not a loopback address; use https (http only for 127.0.0.1 or [::1])\n",
        ),
        (
            [&public[..], &["--redirect-uri", "https://*.example.com/cb"]].concat(),
            "error: --redirect-uri: redirect URI 'https://*.example.com/cb' contains '*'; \
             redirect URIs match exactly, with no wildcards\n",
        ),
        (
            vec![
                "--auth",
                "none",
                "--grant-types",
                "authorization_code,client_credentials",
                "--redirect-uri",
                "https://app.example/cb",
            ],
            "error: --grant-types: a public client (token_endpoint_auth_method none) \
             cannot use client_credentials\n",
        ),
        (
            // The default grant is client_credentials, which a public client cannot use.
            vec!["--auth", "none", "--redirect-uri", "https://app.example/cb"],
            "error: --grant-types: a public client (token_endpoint_auth_method none) \
             cannot use client_credentials\n",
        ),
        (
            public.to_vec(),
            "error: --redirect-uri: the authorization_code grant needs at least one \
             redirect URI (--redirect-uri)\n",
        ),
        (
            [
                &public[..],
                &[
                    "--redirect-uri",
                    "https://app.example/cb",
                    "--logo-uri",
                    "http://app.example/l.png",
                ],
            ]
            .concat(),
            "error: --logo-uri: logo_uri must be an https URL\n",
        ),
        (
            [
                &public[..],
                &["--redirect-uri", "https://app.example/cb", "--name", " "],
            ]
            .concat(),
            "error: --name: client_name is empty\n",
        ),
    ];
    for (args, message) in cases {
        let (code, out, err) = certbound(
            dir,
            &[
                &["clients", "add", "--config", &cfg, "--id", "app"][..],
                &args[..],
            ]
            .concat(),
        );
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (1, "", message),
            "{args:?}"
        );
    }
    let (code, _, err) = certbound(
        dir,
        &[
            "clients",
            "add",
            "--config",
            &cfg,
            "--id",
            "app",
            "--auth",
            "tls_client_auth",
            "--subject-dn",
            "CN=app",
            "--grant-types",
            "refresh_token",
        ],
    );
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "error: --grant-types: the refresh_token grant needs the authorization_code grant, \
             which issues refresh tokens\n"
        )
    );
    let (code, _, err) = certbound(
        dir,
        &[
            "clients", "add", "--config", &cfg, "--id", "app", "--auth", "none", "--secret",
        ],
    );
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "error: --secret does not apply to --auth none: a public client has no secret\n"
        )
    );
    let (code, out, _) = certbound(dir, &["clients", "list", "--config", &cfg]);
    assert_eq!((code, out.as_str()), (0, ""), "nothing was registered");
}

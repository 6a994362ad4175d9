//! `certbound users` as an operator runs it: the real binary against SQLite
//! (and once against PostgreSQL), passwords only through stdin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use certbound_server::users::{LoginCheck, LoginRefusal, check_login};
use certbound_testkit::TestPostgres;
use common::{BIN, certbound, fresh_config, fresh_config_with};
use serde_json::Value;

const LISTENERS: &str = "[listeners.mtls]\naddr = \"127.0.0.1:0\"";

/// `users REST… --config CFG`.
fn users<'a>(cfg: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    [&["users"][..], rest, &["--config", cfg]].concat()
}

/// Runs `certbound ARGS…` with `stdin` written to its standard input and
/// the audit events (at info) on stderr, to see that they hold no password.
fn with_stdin(dir: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    run_with_stdin(dir, args, stdin, &[("CERTBOUND_LOG", "info")])
}

/// Like [`with_stdin`] at the default log level, so stderr is only the error.
fn certbound_stdin(dir: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    run_with_stdin(dir, args, stdin, &[])
}

fn run_with_stdin(
    dir: &Path,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn certbound");
    // The command may exit before reading (an unknown user): ignore a broken pipe.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every output line of a run, kept so the test can check no password was printed.
#[derive(Default)]
struct Transcript(String);

impl Transcript {
    fn keep(&mut self, run: (i32, String, String)) -> (i32, String, String) {
        self.0.push_str(&run.1);
        self.0.push_str(&run.2);
        run
    }
}

fn check(url: &str, username: &str, password: &str) -> LoginCheck {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = certbound_store::SqlStore::connect(url).await.unwrap();
        check_login(&store, username, password).await.unwrap()
    })
}

#[test]
fn users_add_list_show_passwd_disable_remove_on_sqlite() {
    let (_pki, tmp, cfg) = fresh_config(LISTENERS);
    let dir = tmp.path();
    let url = certbound_testkit::sqlite_url(dir);
    let mut seen = Transcript::default();

    let (code, out, err) = seen.keep(with_stdin(
        dir,
        &users(
            &cfg,
            &[
                "add",
                "--username",
                "alice",
                "--name",
                "Alice Liddell",
                "--email",
                "alice@example.com",
                "--password-stdin",
            ],
        ),
        "rabbit-hole-42\n",
    ));
    assert_eq!(code, 0, "{out}{err}");
    let user_id = out
        .trim()
        .strip_prefix("added alice (user_id ")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    assert_eq!(user_id.len(), 22, "{user_id}");
    assert!(err.contains("\"user_added\""), "audited: {err}");
    let (code, out, err) = seen.keep(with_stdin(
        dir,
        &users(&cfg, &["add", "--username", "bob", "--password-stdin"]),
        "bobs-password\r\n",
    ));
    assert_eq!(code, 0, "{out}{err}");
    assert!(matches!(
        check(&url, "bob", "bobs-password"),
        LoginCheck::Accepted(_)
    ));

    let list = |seen: &mut Transcript| {
        let (code, out, err) = seen.keep(certbound(dir, &users(&cfg, &["list"])));
        assert_eq!(code, 0, "{err}");
        out
    };
    let before = list(&mut seen);
    assert_eq!(
        before,
        "USERNAME  NAME           EMAIL              DISABLED\n\
         alice     Alice Liddell  alice@example.com  no\n\
         bob       -              -                  no\n"
    );

    let (code, out, err) = seen.keep(certbound(dir, &users(&cfg, &["show", "alice"])));
    assert_eq!(code, 0, "{err}");
    let show: Value = serde_json::from_str(&out).expect("show JSON");
    assert_eq!(show["user_id"], user_id.as_str());
    assert_eq!(show["username"], "alice");
    assert_eq!(show["display_name"], "Alice Liddell");
    assert_eq!(show["email"], "alice@example.com");
    assert_eq!(show["disabled"], false);
    assert!(show["created_at"].as_i64().unwrap() > 0);
    assert!(
        show.get("password_hash").is_none() && !out.contains("$argon2"),
        "{out}"
    );

    // A duplicate username: exit 1, the problem and the fix; nothing changed.
    let (code, _, err) = seen.keep(with_stdin(
        dir,
        &users(&cfg, &["add", "--username", "alice", "--password-stdin"]),
        "other-password\n",
    ));
    assert_eq!(code, 1);
    assert_eq!(
        err.lines().last(),
        Some("error: user 'alice' already exists; pick another --username")
    );

    // Bad fields: the flag, the rule; the list is unchanged.
    for (args, message) in [
        (
            vec!["--username", "a b"],
            "error: --username: username must not contain spaces or control characters\n",
        ),
        (
            vec!["--username", "carol", "--email", "carol.example.com"],
            "error: --email: email must have one '@' with text on both sides, like name@example.com\n",
        ),
        (
            vec!["--username", &"c".repeat(65)],
            "error: --username: username must be at most 64 characters\n",
        ),
    ] {
        let (code, out, err) = seen.keep(certbound_stdin(
            dir,
            &users(
                &cfg,
                &[&["add"][..], &args[..], &["--password-stdin"]].concat(),
            ),
            "carols-password\n",
        ));
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (1, "", message),
            "{args:?}"
        );
    }
    let (code, _, err) = seen.keep(certbound_stdin(
        dir,
        &users(&cfg, &["add", "--username", "carol", "--password-stdin"]),
        "short\n",
    ));
    assert_eq!(
        (code, err.as_str()),
        (1, "error: password must be at least 8 characters\n")
    );
    assert_eq!(list(&mut seen), before, "nothing was added");

    // passwd: the new password works, the old one no longer does; same user_id.
    let (code, out, err) = seen.keep(with_stdin(
        dir,
        &users(&cfg, &["passwd", "alice", "--password-stdin"]),
        "through-the-looking-glass\n",
    ));
    assert_eq!(
        (code, out.as_str()),
        (0, "password changed for alice\n"),
        "{err}"
    );
    assert!(err.contains("\"password_set\""), "audited: {err}");
    match check(&url, "alice", "through-the-looking-glass") {
        LoginCheck::Accepted(user) => assert_eq!(user.user_id, user_id),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        check(&url, "alice", "rabbit-hole-42"),
        LoginCheck::Refused(LoginRefusal::WrongPassword)
    );

    // disable: listed and shown; the login is refused.
    let (code, out, _) = seen.keep(certbound(dir, &users(&cfg, &["disable", "bob"])));
    assert_eq!(code, 0);
    assert!(out.starts_with("disabled bob"), "{out}");
    assert!(list(&mut seen).contains("bob       -              -                  yes\n"));
    assert_eq!(
        check(&url, "bob", "bobs-password"),
        LoginCheck::Refused(LoginRefusal::Disabled)
    );
    let (code, _, _) = seen.keep(certbound(dir, &users(&cfg, &["enable", "bob"])));
    assert_eq!(code, 0);
    assert!(matches!(
        check(&url, "bob", "bobs-password"),
        LoginCheck::Accepted(_)
    ));

    // remove, and every command on an unknown user says so.
    let (code, out, _) = seen.keep(certbound(dir, &users(&cfg, &["remove", "bob"])));
    assert_eq!(code, 0);
    assert!(out.starts_with("removed bob (user_id "), "{out}");
    assert!(!list(&mut seen).contains("bob"));
    let unknown = "error: no user 'bob'; `certbound users list` shows who exists\n";
    for args in [
        &["remove", "bob"][..],
        &["show", "bob"],
        &["disable", "bob"],
        &["passwd", "bob", "--password-stdin"],
    ] {
        let (code, _, err) = seen.keep(certbound_stdin(dir, &users(&cfg, args), "bobs-password\n"));
        assert_eq!((code, err.as_str()), (1, unknown), "{args:?}");
    }

    for password in [
        "rabbit-hole-42",
        "bobs-password",
        "other-password",
        "through-the-looking-glass",
        "carols-password",
        "short",
    ] {
        assert!(
            !seen.0.contains(password),
            "{password} was printed:\n{}",
            seen.0
        );
    }
}

#[test]
fn no_password_prompt_without_a_terminal_and_no_password_flag() {
    let (_pki, tmp, cfg) = fresh_config(LISTENERS);
    let message = "error: stdin is not a terminal, so the password cannot be prompted for; \
                   pass --password-stdin and write the password to stdin\n";
    // `certbound()` runs with stdin closed: not a terminal.
    for args in [
        &["users", "add", "--username", "dave", "--config", &cfg][..],
        &["users", "passwd", "dave", "--config", &cfg],
    ] {
        let (code, out, err) = certbound(tmp.path(), args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (1, "", message),
            "{args:?}"
        );
    }
    // A pipe is not a terminal either.
    let (code, _, err) = certbound_stdin(
        tmp.path(),
        &["users", "add", "--username", "dave", "--config", &cfg],
        "daves-password\n",
    );
    assert_eq!((code, err.as_str()), (1, message));
    let (code, out, _) = certbound(tmp.path(), &["users", "list", "--config", &cfg]);
    assert_eq!(
        (code, out.as_str()),
        (0, "USERNAME  NAME  EMAIL  DISABLED\n")
    );
    // There is no flag that takes the password itself.
    let (code, _, err) = certbound(
        tmp.path(),
        &[
            "users",
            "add",
            "--username",
            "dave",
            "--password",
            "x",
            "--config",
            &cfg,
        ],
    );
    assert_eq!(code, 2, "{err}");
    // An empty stdin is no password.
    let (code, _, err) = certbound_stdin(
        tmp.path(),
        &[
            "users",
            "add",
            "--username",
            "dave",
            "--password-stdin",
            "--config",
            &cfg,
        ],
        "",
    );
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "error: --password-stdin: stdin held no password; write it as one line\n"
        )
    );
}

#[test]
fn users_on_postgresql() {
    let pg = TestPostgres::create();
    let (_pki, tmp, cfg) = fresh_config_with(LISTENERS, |_| pg.url());
    let dir = tmp.path();
    let (code, out, err) = certbound_stdin(
        dir,
        &users(
            &cfg,
            &[
                "add",
                "--username",
                "erin",
                "--email",
                "erin@example.com",
                "--password-stdin",
            ],
        ),
        "erins-password\n",
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = certbound_stdin(
        dir,
        &users(&cfg, &["add", "--username", "erin", "--password-stdin"]),
        "erins-password\n",
    );
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "error: user 'erin' already exists; pick another --username\n"
        )
    );
    let (code, out, _) = certbound(dir, &users(&cfg, &["list"]));
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "USERNAME  NAME  EMAIL             DISABLED\nerin      -     erin@example.com  no\n"
    );
    let (code, _, _) = certbound_stdin(
        dir,
        &users(&cfg, &["passwd", "erin", "--password-stdin"]),
        "erins-new-password\n",
    );
    assert_eq!(code, 0);
    assert!(matches!(
        check(&pg.url(), "erin", "erins-new-password"),
        LoginCheck::Accepted(_)
    ));
    let (code, out, _) = certbound(dir, &users(&cfg, &["show", "erin"]));
    assert_eq!(code, 0);
    let show: Value = serde_json::from_str(&out).expect("show JSON");
    assert_eq!(show["email"], "erin@example.com");
    let (code, _, _) = certbound(dir, &users(&cfg, &["remove", "erin"]));
    assert_eq!(code, 0);
    let (_, out, _) = certbound(dir, &users(&cfg, &["list"]));
    assert_eq!(out, "USERNAME  NAME  EMAIL  DISABLED\n");
}

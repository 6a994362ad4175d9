use std::os::unix::fs::PermissionsExt;

use super::*;

fn kek() -> (KeyEncryptionKey, String) {
    KeyEncryptionKey::generate().unwrap()
}

fn stored(kid: &str, sealed: (String, String)) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.into(),
        alg: "ES256".into(),
        private_key: sealed.0,
        kek_id: Some(sealed.1),
        public_jwk: "{}".into(),
        created_at: 1,
        activates_at: 1,
        retired_at: None,
        publish_until: None,
        max_token_ttl: 0,
        max_signing_lag: 0,
    }
}

const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n";

#[test]
fn text_forms_of_one_kek_have_one_id() {
    let (a, text) = kek();
    let bytes = URL_SAFE_NO_PAD.decode(&text).unwrap();
    let standard_padded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    for form in [
        text.clone(),
        format!("  {text}\n"),
        standard_padded,
        format!("{text}="),
    ] {
        let read = KeyEncryptionKey::from_text(&form, "test").unwrap();
        assert_eq!(read.id(), a.id(), "{form:?}");
    }
    assert_eq!(a.id().len(), 16);
    assert!(!text.contains(a.id()), "the id reveals nothing of the key");
    assert_ne!(kek().0.id(), a.id());
}

#[test]
fn refuses_what_is_not_32_bytes_of_base64() {
    let short = URL_SAFE_NO_PAD.encode([7u8; 31]);
    let long = URL_SAFE_NO_PAD.encode([7u8; 33]);
    for bad in ["", "not base64 at all!", short.as_str(), long.as_str()] {
        match KeyEncryptionKey::from_text(bad, "CERTBOUND_KEK") {
            Err(ServerError::KeyEncryption(m)) => {
                assert!(m.starts_with("CERTBOUND_KEK does not hold"), "{bad:?}: {m}");
                assert!(m.contains("certbound keys new-kek"), "{m}");
            }
            other => panic!("{bad:?}: expected KeyEncryption, got {other:?}"),
        }
    }
}

#[test]
fn a_sealed_key_opens_only_under_its_kek_kid_and_alg() {
    let (a, _) = kek();
    let (b, _) = kek();
    let (a_id, b_id) = (a.id().to_owned(), b.id().to_owned());
    let by_a = KeyEncryption::new(a, vec![]);
    let sealed = by_a.seal_private_key("k1", "ES256", PEM).unwrap();
    assert_eq!(sealed.1, a_id);
    assert!(!sealed.0.contains("PRIVATE KEY"));
    assert_eq!(
        by_a.open_private_key(&stored("k1", sealed.clone()))
            .unwrap(),
        PEM
    );

    // Another KEK: refused, naming both ids and the way out.
    let by_b = KeyEncryption::new(b, vec![]);
    match by_b.open_private_key(&stored("k1", sealed.clone())) {
        Err(ServerError::KeyEncryption(m)) => {
            assert!(m.contains(&a_id) && m.contains(&b_id), "{m}");
            assert!(m.contains("keys.previous_kek_files"), "{m}");
        }
        other => panic!("expected KeyEncryption, got {other:?}"),
    }

    // The same sealed value under another kid or alg does not open.
    let moved = stored("k2", sealed.clone());
    assert!(matches!(
        by_a.open_private_key(&moved),
        Err(ServerError::KeyEncryption(m)) if m.contains("altered or damaged")
    ));
    let mut other_alg = stored("k1", sealed.clone());
    other_alg.alg = "PS256".into();
    assert!(by_a.open_private_key(&other_alg).is_err());
    let mut flipped = stored("k1", sealed);
    flipped.private_key.replace_range(20..21, "A");
    flipped.private_key.replace_range(21..22, "B");
    assert!(by_a.open_private_key(&flipped).is_err());
}

#[test]
fn reseal_moves_keys_to_the_current_kek() {
    let (old, old_text) = kek();
    let (new, _) = kek();
    let new_id = new.id().to_owned();
    let sealed_old = KeyEncryption::new(old, vec![])
        .seal_private_key("k1", "ES256", PEM)
        .unwrap();
    let rotating = KeyEncryption::new(
        new,
        vec![KeyEncryptionKey::from_text(&old_text, "old").unwrap()],
    );
    let key = stored("k1", sealed_old.clone());
    // The previous KEK still opens it.
    assert_eq!(rotating.open_private_key(&key).unwrap(), PEM);
    let resealed = rotating.reseal(&key).unwrap().unwrap();
    assert_eq!(
        (
            resealed.kid.as_str(),
            resealed.kek_id.as_str(),
            resealed.replaces.as_str()
        ),
        ("k1", new_id.as_str(), sealed_old.0.as_str())
    );
    let moved = stored("k1", (resealed.private_key, resealed.kek_id));
    assert_eq!(rotating.open_private_key(&moved).unwrap(), PEM);
    assert!(
        rotating.reseal(&moved).unwrap().is_none(),
        "already current"
    );

    // A key stored unsealed by an earlier version is read, then sealed.
    let mut plain = stored("k3", (PEM.into(), String::new()));
    plain.kek_id = None;
    assert_eq!(rotating.open_private_key(&plain).unwrap(), PEM);
    let sealed = rotating.reseal(&plain).unwrap().unwrap();
    assert_eq!(sealed.kek_id, new_id);
    assert!(!sealed.private_key.contains("PRIVATE KEY"));
}

#[test]
fn a_kek_file_is_created_owner_only_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kek");
    let created = KeyEncryptionKey::create_file(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        KeyEncryptionKey::read_file(&path).unwrap().id(),
        created.id()
    );
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        KeyEncryptionKey::create_file(&path),
        Err(ServerError::KeyEncryption(m)) if m.contains("creating the key-encryption key file")
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let debug = format!("{created:?}");
    assert!(
        debug.contains(created.id()) && !debug.contains(String::from_utf8_lossy(&before).trim())
    );
}

#[test]
fn a_missing_kek_file_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent");
    match KeyEncryptionKey::read_file(&path) {
        Err(ServerError::KeyEncryption(m)) => {
            assert!(m.starts_with("reading the key-encryption key"), "{m}");
            assert!(m.contains("certbound keys new-kek --out"), "{m}");
        }
        other => panic!("expected KeyEncryption, got {other:?}"),
    }
}

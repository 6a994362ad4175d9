#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use certbound_pki::KeyAlgorithm;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};

use crate::{JoseError, JwsSigner, install};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    scope: String,
}

fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.into(),
        exp: 4_000_000_000,
        scope: "read write".into(),
    }
}

/// A signer and the DecodingKey built from its public JWK components,
/// the way the server's `decoding_key` and the guard's JWKS cache build it.
fn key_pair(alg: Algorithm) -> (JwsSigner, DecodingKey) {
    install();
    let pki = match alg {
        Algorithm::ES256 => KeyAlgorithm::EcdsaP256,
        Algorithm::PS256 => KeyAlgorithm::Rsa2048,
        Algorithm::EdDSA => KeyAlgorithm::Ed25519,
        other => panic!("no test key for {other:?}"),
    };
    let pair = pki.generate().unwrap();
    let signer = JwsSigner::from_pkcs8_pem(alg, pair.serialize_pem().as_bytes(), "k1").unwrap();
    let raw = pair.public_key_raw();
    let decoding = match alg {
        Algorithm::ES256 => {
            assert_eq!((raw.len(), raw[0]), (65, 4));
            DecodingKey::from_ec_components(&B64.encode(&raw[1..33]), &B64.encode(&raw[33..]))
        }
        Algorithm::EdDSA => DecodingKey::from_ed_components(&B64.encode(raw)),
        _ => {
            let public = rsa::RsaPublicKey::from_pkcs1_der(raw).unwrap();
            DecodingKey::from_rsa_components(
                &B64.encode(public.n().to_bytes_be()),
                &B64.encode(public.e().to_bytes_be()),
            )
        }
    }
    .unwrap();
    (signer, decoding)
}

fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.validate_aud = false;
    v
}

fn decode(token: &str, key: &DecodingKey, alg: Algorithm) -> Result<Claims, ErrorKind> {
    jsonwebtoken::decode::<Claims>(token, key, &validation(alg))
        .map(|d| d.claims)
        .map_err(|e| e.into_kind())
}

/// Replaces part `i` (0 header, 1 payload, 2 signature) of a compact JWS.
fn with_part(token: &str, i: usize, part: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[i] = part;
    parts.join(".")
}

#[test]
fn every_signing_algorithm_round_trips_and_rejects_tampering() {
    for alg in [Algorithm::ES256, Algorithm::PS256, Algorithm::EdDSA] {
        let (signer, key) = key_pair(alg);
        let mut header = signer.header();
        header.typ = Some("at+jwt".into());
        let token = signer.sign(&header, &claims("alice")).unwrap();
        assert_eq!(decode(&token, &key, alg), Ok(claims("alice")), "{alg:?}");
        let read = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            (read.alg, read.kid.as_deref(), read.typ.as_deref()),
            (alg, Some("k1"), Some("at+jwt"))
        );

        // Another payload under the original signature.
        let other = B64.encode(serde_json::to_vec(&claims("mallory")).unwrap());
        let forged = with_part(&token, 1, &other);
        assert_eq!(decode(&forged, &key, alg), Err(ErrorKind::InvalidSignature));

        // One signature byte changed.
        let mut sig = B64.decode(token.rsplit('.').next().unwrap()).unwrap();
        sig[10] ^= 1;
        let forged = with_part(&token, 2, &B64.encode(&sig));
        assert_eq!(decode(&forged, &key, alg), Err(ErrorKind::InvalidSignature));

        // The right kind of key, but not the signer's.
        let (_, stranger) = key_pair(alg);
        assert_eq!(
            decode(&token, &stranger, alg),
            Err(ErrorKind::InvalidSignature)
        );
    }
}

#[test]
fn the_encoded_own_header_matches_an_explicit_one() {
    for alg in [Algorithm::ES256, Algorithm::PS256, Algorithm::EdDSA] {
        let (signer, key) = key_pair(alg);
        let signer = signer.with_typ("at+jwt").unwrap();
        let mut header = signer.header();
        header.typ = Some("at+jwt".into());
        let explicit = signer.sign(&header, &claims("alice")).unwrap();
        let own = signer.sign_claims(&claims("alice")).unwrap();
        // Same header and payload; ECDSA and PSS signatures are randomised.
        assert_eq!(
            own.rsplit_once('.').map(|p| p.0),
            explicit.rsplit_once('.').map(|p| p.0),
            "{alg:?}"
        );
        assert_eq!(decode(&own, &key, alg), Ok(claims("alice")), "{alg:?}");
        let read = jsonwebtoken::decode_header(&own).unwrap();
        assert_eq!(
            (read.alg, read.kid.as_deref(), read.typ.as_deref()),
            (alg, Some("k1"), Some("at+jwt"))
        );
    }
    // Without `with_typ` the signer's header says `JWT`.
    let (plain, _) = key_pair(Algorithm::ES256);
    let token = plain.sign_claims(&claims("alice")).unwrap();
    let read = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(read.typ.as_deref(), Some("JWT"));
}

#[test]
fn a_token_verifies_only_under_its_own_algorithm_family() {
    let (es, es_key) = key_pair(Algorithm::ES256);
    let (_, rsa_key) = key_pair(Algorithm::PS256);
    let token = es.sign(&es.header(), &claims("alice")).unwrap();
    // Validation pinned to PS256 refuses an ES256 header.
    assert_eq!(
        decode(&token, &rsa_key, Algorithm::PS256),
        Err(ErrorKind::InvalidAlgorithm)
    );
    // The provider itself refuses a key of another family than the algorithm.
    let (message, signature) = token.rsplit_once('.').unwrap();
    let verify = |key: &DecodingKey, alg| {
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, alg)
            .map_err(|e| e.into_kind())
    };
    use ErrorKind::{InvalidEcdsaKey, InvalidKeyFormat};
    for (key_name, key, alg, want) in [
        ("EC", &es_key, Algorithm::ES256, Ok(true)),
        ("EC", &es_key, Algorithm::ES384, Err(InvalidEcdsaKey)),
        ("RSA", &rsa_key, Algorithm::ES256, Err(InvalidKeyFormat)),
        ("EC", &es_key, Algorithm::PS256, Err(InvalidKeyFormat)),
        ("EC", &es_key, Algorithm::EdDSA, Err(InvalidKeyFormat)),
        // A public key is never an HMAC secret (algorithm confusion).
        ("EC", &es_key, Algorithm::HS256, Err(InvalidKeyFormat)),
    ] {
        assert_eq!(verify(key, alg), want, "{key_name} key, {alg:?}");
    }
}

#[test]
fn hmac_round_trips_through_encode_and_decode() {
    install();
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let token = jsonwebtoken::encode(
            &Header::new(alg),
            &claims("alice"),
            &EncodingKey::from_secret(b"shared secret"),
        )
        .unwrap();
        let right = DecodingKey::from_secret(b"shared secret");
        let wrong = DecodingKey::from_secret(b"shared secreT");
        assert_eq!(decode(&token, &right, alg), Ok(claims("alice")));
        assert_eq!(
            decode(&token, &wrong, alg),
            Err(ErrorKind::InvalidSignature)
        );
    }
}

#[test]
fn provider_signers_match_jws_signer_and_verify() {
    install();
    // Ed25519 is deterministic: both paths must produce the same bytes.
    let pair = KeyAlgorithm::Ed25519.generate().unwrap();
    let der = pair.serialize_der();
    let signer = JwsSigner::from_pkcs8_der(Algorithm::EdDSA, &der, "k").unwrap();
    let header = signer.header();
    let ours = signer.sign(&header, &claims("alice")).unwrap();
    let theirs =
        jsonwebtoken::encode(&header, &claims("alice"), &EncodingKey::from_ed_der(&der)).unwrap();
    assert_eq!(ours, theirs);

    // ECDSA and RSA through jsonwebtoken::encode (key parsed per call).
    for (alg, pki) in [
        (Algorithm::ES256, KeyAlgorithm::EcdsaP256),
        (Algorithm::RS256, KeyAlgorithm::Rsa2048),
        (Algorithm::PS384, KeyAlgorithm::Rsa2048),
    ] {
        let pair = pki.generate().unwrap();
        let pem = pair.serialize_pem();
        let encoding = match pki {
            KeyAlgorithm::EcdsaP256 => EncodingKey::from_ec_pem(pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .unwrap();
        let token = jsonwebtoken::encode(&Header::new(alg), &claims("bob"), &encoding).unwrap();
        // Verified against the public key from jwk_utils (ring) …
        let jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        assert!(
            !jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .is_empty()
        );
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        assert_eq!(decode(&token, &key, alg), Ok(claims("bob")), "{alg:?}");
        // … which is the key rcgen derived independently.
        let raw = pair.public_key_raw();
        match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(p) => {
                assert_eq!(B64.decode(&p.x).unwrap(), raw[1..33]);
                assert_eq!(B64.decode(&p.y).unwrap(), raw[33..]);
            }
            AlgorithmParameters::RSA(p) => {
                let public = rsa::RsaPublicKey::from_pkcs1_der(raw).unwrap();
                assert_eq!(B64.decode(&p.n).unwrap(), public.n().to_bytes_be());
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_signer_forces_its_algorithm_and_refuses_unfit_keys() {
    let (signer, key) = key_pair(Algorithm::ES256);
    let token = signer
        .sign(&Header::new(Algorithm::HS256), &claims("a"))
        .unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().alg,
        Algorithm::ES256
    );
    assert_eq!(decode(&token, &key, Algorithm::ES256), Ok(claims("a")));

    let ec = KeyAlgorithm::EcdsaP256.generate().unwrap().serialize_der();
    for alg in [Algorithm::PS256, Algorithm::EdDSA, Algorithm::ES384] {
        assert!(matches!(
            JwsSigner::from_pkcs8_der(alg, &ec, "k"),
            Err(JoseError::Key { .. })
        ));
    }
    assert!(matches!(
        JwsSigner::from_pkcs8_der(Algorithm::HS256, &ec, "k"),
        Err(JoseError::UnsupportedAlgorithm(_))
    ));
    assert!(JwsSigner::from_pkcs8_pem(Algorithm::ES256, b"not pem", "k").is_err());
}

#[test]
fn rfc_7515_a3_es256_vector_verifies() {
    install();
    let key = DecodingKey::from_ec_components(
        "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    )
    .unwrap();
    let message = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    let good =
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    let bad =
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU2Q";
    let verify =
        |sig| jsonwebtoken::crypto::verify(sig, message.as_bytes(), &key, Algorithm::ES256);
    assert!(verify(good).unwrap());
    assert!(!verify(bad).unwrap());
}

#[test]
fn rfc_8037_a4_ed25519_vector_from_a_pkcs8_v1_key() {
    install();
    // PKCS#8 v1 (no public key, as OpenSSL writes it) around the RFC's seed.
    let seed = B64
        .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
        .unwrap();
    let mut v1 = hex("302e020100300506032b657004220420");
    v1.extend_from_slice(&seed);
    let message = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    let expected =
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    let signed =
        jsonwebtoken::crypto::sign(message, &EncodingKey::from_ed_der(&v1), Algorithm::EdDSA);
    assert_eq!(signed.unwrap(), expected);
    assert!(JwsSigner::from_pkcs8_der(Algorithm::EdDSA, &v1, "k").is_ok());
    let public =
        DecodingKey::from_ed_components("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
    let verify = jsonwebtoken::crypto::verify(expected, message, &public, Algorithm::EdDSA);
    assert!(verify.unwrap());
}

#[test]
fn malformed_public_keys_are_refused_not_panicked_on() {
    install();
    let short = DecodingKey::from_ec_der(&[4; 33]);
    let ed = DecodingKey::from_ed_der(&[1; 31]);
    let any = |key: &DecodingKey, alg| {
        jsonwebtoken::crypto::verify("AAAA", b"x.y", key, alg).map_err(|e| e.into_kind())
    };
    assert_eq!(
        any(&short, Algorithm::ES256),
        Err(ErrorKind::InvalidEcdsaKey)
    );
    assert_eq!(any(&ed, Algorithm::EdDSA), Err(ErrorKind::InvalidEddsaKey));
    let rsa = DecodingKey::from_rsa_der(b"garbage");
    assert_eq!(any(&rsa, Algorithm::RS256), Ok(false));
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

//! Passwords at rest: Argon2id in PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`). The parameters travel in
//! the string, so raising [`DEFAULT_PARAMS`] later upgrades each stored hash
//! the next time its user signs in (see [`needs_rehash`]).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::ServerError;

/// Memory cost, KiB (OWASP's Argon2id recommendation).
pub const DEFAULT_MEMORY_KIB: u32 = 19_456;
/// Passes.
pub const DEFAULT_ITERATIONS: u32 = 2;
/// Lanes.
pub const DEFAULT_PARALLELISM: u32 = 1;

/// The parameters new hashes get, as `(m, t, p)`.
pub const DEFAULT_PARAMS: (u32, u32, u32) =
    (DEFAULT_MEMORY_KIB, DEFAULT_ITERATIONS, DEFAULT_PARALLELISM);

/// A hash at [`DEFAULT_PARAMS`] of a random password that was thrown away,
/// checked for unknown users so that an unknown name costs as much time as
/// a wrong password. A unit test keeps its parameters equal to the defaults.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$VvJWwJDvsN10wpEDhwov3A$fATYYfEXCQMq6tGbHTZh2BDqjz9AAFP3hsCcm12QwZE";

fn hasher(params: (u32, u32, u32)) -> Result<Argon2<'static>, ServerError> {
    let (m, t, p) = params;
    let params = Params::new(m, t, p, None).map_err(hash_error)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The error for a hashing failure; argon2's messages name parameters, never inputs.
fn hash_error(e: impl std::fmt::Display) -> ServerError {
    ServerError::PasswordHash(e.to_string())
}

/// Hashes `password` with Argon2id at [`DEFAULT_PARAMS`] and a fresh 128-bit salt.
pub fn hash_password(password: &str) -> Result<String, ServerError> {
    hash_with(password, DEFAULT_PARAMS)
}

/// Hashes with the given `(m, t, p)` (tests make weak hashes with it).
pub(crate) fn hash_with(password: &str, params: (u32, u32, u32)) -> Result<String, ServerError> {
    let salt = SaltString::encode_b64(&crate::random_bytes::<16>()?).map_err(hash_error)?;
    Ok(hasher(params)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(hash_error)?
        .to_string())
}

/// Whether `password` matches the PHC string `stored`, compared in constant
/// time; the work factor is the one in `stored`. An unparseable `stored` is
/// an error (a corrupt record), not a mismatch.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, ServerError> {
    let parsed = PasswordHash::new(stored).map_err(hash_error)?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(hash_error(e)),
    }
}

/// Spends the time a real check takes, for a user who does not exist.
pub(crate) fn verify_dummy(password: &str) {
    // The answer is always "no"; only the time it takes matters.
    let _ = verify_password(password, DUMMY_HASH);
}

/// Whether `stored` is weaker than what [`hash_password`] makes now: another
/// algorithm or version, or any cost below the defaults.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let current = parsed.algorithm == Algorithm::Argon2id.ident()
        && parsed.version == Some(Version::V0x13.into());
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    let (m, t, p) = DEFAULT_PARAMS;
    !current || params.m_cost() < m || params.t_cost() < t || params.p_cost() < p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params_of(stored: &str) -> (u32, u32, u32) {
        let parsed = PasswordHash::new(stored).unwrap();
        let p = Params::try_from(&parsed).unwrap();
        (p.m_cost(), p.t_cost(), p.p_cost())
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(!hash.contains("correct horse"));
        assert!(verify_password("correct horse", &hash).unwrap());
        assert!(!verify_password("correct horsf", &hash).unwrap());
        assert!(!verify_password("", &hash).unwrap());
        // A fresh salt each time.
        assert_ne!(hash, hash_password("correct horse").unwrap());
        assert!(!needs_rehash(&hash));
    }

    #[test]
    fn weaker_or_other_hashes_need_a_rehash_and_still_verify() {
        let weak = hash_with("pw-pw-pw-pw", (8, 1, 1)).unwrap();
        assert!(weak.contains("m=8,t=1,p=1"), "{weak}");
        assert!(verify_password("pw-pw-pw-pw", &weak).unwrap());
        assert!(needs_rehash(&weak));
        assert!(needs_rehash(
            &hash_with("x", (DEFAULT_MEMORY_KIB, 1, 1)).unwrap()
        ));
        // Stronger than the defaults is fine as it is.
        assert!(!needs_rehash(
            &hash_with("x", (DEFAULT_MEMORY_KIB, 3, 1)).unwrap()
        ));
        assert!(needs_rehash("not a PHC string"));
        assert!(verify_password("x", "not a PHC string").is_err());
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        assert_eq!(params_of(DUMMY_HASH), DEFAULT_PARAMS);
        assert!(!needs_rehash(DUMMY_HASH));
        // It parses and checks (so the unknown-user path does the full work).
        assert_eq!(verify_password("anything", DUMMY_HASH).ok(), Some(false));
    }
}

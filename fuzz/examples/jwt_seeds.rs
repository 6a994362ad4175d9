//! Writes the `jwt_verify` seeds: each `jwt_claims` seed (header JSON, a
//! newline, claims JSON) signed with the fixed key into a token.
//!
//! `cd fuzz && cargo run --example jwt_seeds`

use std::fs;

fn main() -> std::io::Result<()> {
    let out = "corpus/jwt_verify";
    fs::create_dir_all(out)?;
    for entry in fs::read_dir("corpus/jwt_claims")? {
        let entry = entry?;
        let data = fs::read(entry.path())?;
        let (header, payload) = match data.iter().position(|b| *b == b'\n') {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (&data[..], &b""[..]),
        };
        let token = certbound_fuzz::sign(header, payload);
        fs::write(
            format!("{out}/{}", entry.file_name().to_string_lossy()),
            token,
        )?;
    }
    Ok(())
}

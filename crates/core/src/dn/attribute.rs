//! Attribute type names and OIDs used in distinguished names.

/// Short names we print and accept, with their OIDs. The first block is the
/// RFC 4514 §3 table; the rest are registered LDAP descriptors that appear in
/// real client certificates (eIDAS/Open Banking use `organizationIdentifier`).
const KNOWN: &[(&str, &str)] = &[
    ("CN", "2.5.4.3"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("C", "2.5.4.6"),
    ("STREET", "2.5.4.9"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("serialNumber", "2.5.4.5"),
    ("SN", "2.5.4.4"),
    ("GN", "2.5.4.42"),
    ("title", "2.5.4.12"),
    ("postalCode", "2.5.4.17"),
    ("businessCategory", "2.5.4.15"),
    ("organizationIdentifier", "2.5.4.97"),
    ("emailAddress", "1.2.840.113549.1.9.1"),
];

/// Aliases accepted when parsing but never printed.
const ALIASES: &[(&str, &str)] = &[
    ("commonName", "2.5.4.3"),
    ("localityName", "2.5.4.7"),
    ("stateOrProvinceName", "2.5.4.8"),
    ("S", "2.5.4.8"),
    ("organizationName", "2.5.4.10"),
    ("organizationalUnitName", "2.5.4.11"),
    ("countryName", "2.5.4.6"),
    ("streetAddress", "2.5.4.9"),
    ("domainComponent", "0.9.2342.19200300.100.1.25"),
    ("userid", "0.9.2342.19200300.100.1.1"),
    ("surname", "2.5.4.4"),
    ("givenName", "2.5.4.42"),
    ("E", "1.2.840.113549.1.9.1"),
    ("email", "1.2.840.113549.1.9.1"),
];

/// Resolves a descriptor (case-insensitively) or dotted OID to a dotted OID.
pub(crate) fn oid_for(name: &str) -> Option<String> {
    if is_numeric_oid(name) {
        // RFC 4514 also allows an "OID." prefix in older RFC 1779 style.
        return Some(name.to_owned());
    }
    if let Some(rest) = name
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("oid."))
        .and_then(|_| name.get(4..))
    {
        return is_numeric_oid(rest).then(|| rest.to_owned());
    }
    KNOWN
        .iter()
        .chain(ALIASES)
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, oid)| (*oid).to_owned())
}

/// The short name printed for an OID, if it has one.
pub(crate) fn name_for(oid: &str) -> Option<&'static str> {
    KNOWN.iter().find(|(_, o)| *o == oid).map(|(n, _)| *n)
}

fn is_numeric_oid(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').count() >= 2
        && s.split('.').all(|arc| {
            !arc.is_empty()
                && arc.bytes().all(|b| b.is_ascii_digit())
                && (arc == "0" || !arc.starts_with('0'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_oids() {
        assert_eq!(oid_for("cn").as_deref(), Some("2.5.4.3"));
        assert_eq!(oid_for("commonName").as_deref(), Some("2.5.4.3"));
        assert_eq!(oid_for("2.5.4.3").as_deref(), Some("2.5.4.3"));
        assert_eq!(oid_for("OID.2.5.4.3").as_deref(), Some("2.5.4.3"));
        assert_eq!(oid_for("bogus"), None);
        assert_eq!(oid_for("2..3"), None);
        assert_eq!(oid_for("02.5"), None);
        assert_eq!(name_for("2.5.4.97"), Some("organizationIdentifier"));
    }
}

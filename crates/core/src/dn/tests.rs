use proptest::prelude::*;

use super::*;

fn dn(s: &str) -> DistinguishedName {
    match DistinguishedName::parse(s) {
        Ok(d) => d,
        Err(e) => panic!("{s:?} should parse: {e}"),
    }
}

/// The `tls_client_auth_subject_dn` comparison table: each left-hand DN
/// with the right-hand DNs it is compared to and whether they are equal.
const TABLE: &[(&str, &[(&str, bool)])] = &[
    (
        "CN=Client A,O=Bank",
        &[
            ("cn=client a, o=bank", true),
            ("CN=Client A,O=Bank,C=US", false),
            ("O=Bank,CN=Client A", false),
            ("CN=Client  A , O=Bank", true),
            ("CN=Client B,O=Bank", false),
            ("2.5.4.3=Client A,2.5.4.10=Bank", true),
            ("commonName=CLIENT A;organizationName=BANK", true),
        ],
    ),
    (
        "CN=Acme\\, Inc.,O=Bank",
        &[
            ("cn=acme\\2c inc.,o=bank", true),
            ("CN=Acme,CN=Inc.,O=Bank", false),
        ],
    ),
    ("CN=a\\+b,O=Bank", &[("CN=a+O=b,O=Bank", false)]),
    (
        "CN=Client A+UID=42,O=Bank",
        &[
            ("UID=42+CN=client a,O=Bank", true),
            ("CN=Client A,UID=42,O=Bank", false),
            ("CN=Client A+UID=43,O=Bank", false),
            ("CN=Client A,O=Bank", false),
        ],
    ),
    ("CN=Caf\\C3\\A9,O=Bank", &[("CN=café,O=Bank", true)]),
    (
        "CN=Café,O=Bank",
        &[("CN=Cafe\u{0301},O=Bank", true), ("CN=Cafe,O=Bank", false)],
    ),
    ("CN=\\ lead,O=Bank", &[("CN=lead,O=Bank", true)]),
    ("CN=\\#1,O=Bank", &[("CN=#0c022331,O=Bank", true)]),
    (
        "CN=x,DC=example,DC=com",
        &[
            ("CN=X,DC=EXAMPLE,DC=COM", true),
            ("CN=x,DC=example,DC=org", false),
        ],
    ),
    ("", &[("", true), ("CN=x", false)]),
    ("CN=tab\there", &[("CN=tab here", true)]),
];

#[test]
fn comparison_table() {
    assert!(TABLE.iter().map(|(_, rights)| rights.len()).sum::<usize>() >= 15);
    for (a, rights) in TABLE {
        for (b, want) in *rights {
            let (da, db) = (dn(a), dn(b));
            assert_eq!(da.matches(&db), *want, "{a:?} vs {b:?}");
            assert_eq!(db.matches(&da), *want, "symmetry: {b:?} vs {a:?}");
        }
    }
}

#[test]
fn prints_rfc4514() {
    assert_eq!(
        dn("cn = Client A , o=Bank").to_string(),
        "CN=Client A,O=Bank"
    );
    assert_eq!(dn("CN=Acme\\, Inc.").to_string(), "CN=Acme\\, Inc.");
    assert_eq!(dn("CN=\\ x\\ ").to_string(), "CN=\\ x\\ ");
    assert_eq!(dn("CN=\\#x").to_string(), "CN=\\#x");
    assert_eq!(dn("CN=a+UID=b").to_string(), "CN=a+UID=b");
    assert_eq!(dn("1.2.3.4=x").to_string(), "1.2.3.4=x");
    assert_eq!(dn("CN=#020105").to_string(), "CN=#020105");
    assert_eq!(dn("CN=a\\0ab").to_string(), "CN=a\\0ab");
}

#[test]
fn parse_errors_are_precise() {
    let err = |s: &str| match DistinguishedName::parse(s) {
        Ok(d) => panic!("{s:?} should not parse, got {d}"),
        Err(e) => e,
    };
    assert_eq!(
        err("FOO=bar"),
        DnError::UnknownAttributeType("FOO".into(), 0)
    );
    assert_eq!(err("=bar"), DnError::MissingAttributeType(0));
    assert_eq!(err("CN bar"), DnError::MissingEquals(3));
    assert_eq!(err("CN=a\\q"), DnError::InvalidEscape(4));
    assert_eq!(err("CN=a\\"), DnError::InvalidEscape(4));
    assert_eq!(err("CN=a\"b"), DnError::UnescapedSpecial('"', 4));
    assert_eq!(err("CN=#0c0"), DnError::InvalidHexValue(3));
    assert_eq!(err("CN=#zz"), DnError::InvalidHexValue(3));
    assert_eq!(err("CN=\\ff"), DnError::InvalidUtf8(6));
    assert_eq!(err("CN=a,,O=b"), DnError::EmptyRdn(5));
    assert_eq!(err("CN=a,"), DnError::EmptyRdn(5));
}

fn attr_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "CN", "O", "OU", "C", "L", "ST", "UID", "DC", "2.5.4.97",
    ])
}

fn value() -> impl Strategy<Value = String> {
    // Printable ASCII including every special, some non-ASCII, inner spaces.
    "[ -~éü漢]{1,12}".prop_filter("a value needs a non-space character", |v| {
        v.chars().any(|c| c != ' ')
    })
}

fn any_dn() -> impl Strategy<Value = DistinguishedName> {
    prop::collection::vec(prop::collection::vec((attr_name(), value()), 1..3), 0..5).prop_map(
        |rdns| {
            DistinguishedName::new(
                rdns.into_iter()
                    .map(|avas| {
                        RelativeDistinguishedName::new(
                            avas.into_iter()
                                .map(|(n, v)| {
                                    let oid = attribute::oid_for(n).unwrap_or_default();
                                    AttributeTypeAndValue::new(oid, AttributeValue::Text(v))
                                })
                                .collect(),
                        )
                    })
                    .collect(),
            )
        },
    )
}

proptest! {
    #[test]
    fn printed_dn_parses_back_to_the_same_values(d in any_dn()) {
        let printed = d.to_string();
        let back = DistinguishedName::parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed:?}: {e}")))?;
        prop_assert_eq!(back.rdns().len(), d.rdns().len());
        for (a, b) in back.rdns().iter().zip(d.rdns()) {
            for (x, y) in a.attributes().iter().zip(b.attributes()) {
                prop_assert_eq!(x.oid(), y.oid());
                prop_assert_eq!(x.value(), y.value(), "printed as {}", printed);
            }
        }
        prop_assert!(back.matches(&d));
    }

    #[test]
    fn case_and_spacing_do_not_matter(d in any_dn()) {
        // Same DN with values upper-cased, type names lower-cased and loose spacing.
        let shouted = d
            .rdns()
            .iter()
            .map(|rdn| {
                rdn.attributes()
                    .iter()
                    .map(|a| {
                        let AttributeValue::Text(t) = a.value() else { return a.to_string() };
                        let upper = AttributeTypeAndValue::new(a.oid(), AttributeValue::Text(t.to_uppercase()));
                        let printed = upper.to_string();
                        let (name, value) = printed.split_once('=').unwrap_or_default();
                        format!("{} =  {value}", name.to_lowercase())
                    })
                    .collect::<Vec<_>>()
                    .join(" + ")
            })
            .collect::<Vec<_>>()
            .join(" ,  ");
        let other = DistinguishedName::parse(&shouted).map_err(|e| TestCaseError::fail(format!("{shouted:?}: {e}")))?;
        prop_assert!(other.matches(&d), "{} vs {}", shouted, d);
    }

    #[test]
    fn changing_a_value_breaks_the_match(d in any_dn(), extra in "[a-z0-9]{1,4}") {
        prop_assume!(!d.is_empty());
        let mut rdns = d.rdns().to_vec();
        let first = &rdns[0].attributes()[0];
        let AttributeValue::Text(t) = first.value() else { return Ok(()) };
        let changed = AttributeTypeAndValue::new(first.oid(), AttributeValue::Text(format!("{t}{extra}")));
        let mut attrs = rdns[0].attributes().to_vec();
        attrs[0] = changed;
        rdns[0] = RelativeDistinguishedName::new(attrs);
        prop_assert!(!DistinguishedName::new(rdns).matches(&d));
    }
}

proptest! {
    /// Comparing through the kept prepared forms always agrees with
    /// preparing afresh, and printable ASCII always prepares.
    #[test]
    fn kept_forms_agree_with_fresh_preparation(a in any_dn(), b in any_dn(), text in "[ -~]{1,24}") {
        for (x, y) in [(&a, &a), (&a, &b), (&b, &a)] {
            for (r, s) in x.rdns().iter().zip(y.rdns()) {
                prop_assert_eq!(r.matches(s), r.matches_prepared(s));
            }
        }
        prop_assert!(prep::prepare_case_ignore(&text).is_some());
        let rdn = RelativeDistinguishedName::new(vec![AttributeTypeAndValue::new(
            "2.5.4.3",
            AttributeValue::Text(text),
        )]);
        prop_assert!(rdn.matches(&rdn.clone()));
        prop_assert!(rdn.matches_prepared(&rdn.clone()));
    }
}

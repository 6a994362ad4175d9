//! Why a user record or password is refused, as data: the field and the rule
//! it breaks. `certbound users` names the flag from the field, tests match
//! on the rule, and the message is written in one place. No message ever
//! repeats the value given: it may be a password typed in the wrong place.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;
/// Longest display name, in bytes.
pub const MAX_DISPLAY_NAME_BYTES: usize = 200;
/// Longest email address, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A field of a user record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    /// The login name.
    Username,
    /// The display name.
    DisplayName,
    /// The email address.
    Email,
    /// The password.
    Password,
}

impl UserField {
    /// The field's name in messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::DisplayName => "display name",
            Self::Email => "email",
            Self::Password => "password",
        }
    }
}

impl fmt::Display for UserField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule a user field breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRule {
    /// Empty, or blank after trimming.
    Empty,
    /// Fewer characters than the minimum.
    TooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// More characters than the maximum.
    TooManyCharacters {
        /// The maximum, in characters.
        max: usize,
    },
    /// More bytes than the maximum.
    TooLong {
        /// The maximum, in bytes.
        max: usize,
    },
    /// Contains whitespace or a control character.
    WhitespaceOrControl,
    /// Not exactly one `@` with text on both sides.
    EmailShape,
}

/// A user field refused: which field and which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUser {
    /// The field at fault.
    pub field: UserField,
    /// The rule it breaks.
    pub rule: UserRule,
}

impl InvalidUser {
    /// `field` breaks `rule`.
    pub fn new(field: UserField, rule: UserRule) -> Self {
        Self { field, rule }
    }
}

impl fmt::Display for InvalidUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.field;
        match &self.rule {
            UserRule::Empty => write!(f, "{field} is empty"),
            UserRule::TooShort { min } => write!(f, "{field} must be at least {min} characters"),
            UserRule::TooManyCharacters { max } => {
                write!(f, "{field} must be at most {max} characters")
            }
            UserRule::TooLong { max } => write!(f, "{field} is longer than {max} bytes"),
            UserRule::WhitespaceOrControl => {
                write!(f, "{field} must not contain spaces or control characters")
            }
            UserRule::EmailShape => write!(
                f,
                "{field} must have one '@' with text on both sides, like name@example.com"
            ),
        }
    }
}

impl std::error::Error for InvalidUser {}

/// The username as stored and looked up: NFC, so the same name typed on two
/// keyboards is one user.
pub fn canonical_username(username: &str) -> String {
    username.nfc().collect()
}

/// A username (already in NFC): 1-64 characters, no whitespace or control characters.
pub fn check_username(username: &str) -> Result<(), InvalidUser> {
    let invalid = |rule| Err(InvalidUser::new(UserField::Username, rule));
    if username.is_empty() {
        return invalid(UserRule::Empty);
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return invalid(UserRule::TooManyCharacters {
            max: MAX_USERNAME_CHARS,
        });
    }
    if has_whitespace_or_control(username) {
        return invalid(UserRule::WhitespaceOrControl);
    }
    Ok(())
}

/// A display name: not blank, at most 200 bytes, no control characters.
pub fn check_display_name(name: &str) -> Result<(), InvalidUser> {
    let invalid = |rule| Err(InvalidUser::new(UserField::DisplayName, rule));
    if name.trim().is_empty() {
        return invalid(UserRule::Empty);
    }
    if name.len() > MAX_DISPLAY_NAME_BYTES {
        return invalid(UserRule::TooLong {
            max: MAX_DISPLAY_NAME_BYTES,
        });
    }
    if name.chars().any(char::is_control) {
        // Spaces are fine in a name; line breaks and escapes are not.
        return invalid(UserRule::WhitespaceOrControl);
    }
    Ok(())
}

/// An email address: one `@` with text on both sides, no whitespace, at most 254 bytes.
pub fn check_email(email: &str) -> Result<(), InvalidUser> {
    let invalid = |rule| Err(InvalidUser::new(UserField::Email, rule));
    if email.is_empty() {
        return invalid(UserRule::Empty);
    }
    if email.len() > MAX_EMAIL_BYTES {
        return invalid(UserRule::TooLong {
            max: MAX_EMAIL_BYTES,
        });
    }
    if has_whitespace_or_control(email) {
        return invalid(UserRule::WhitespaceOrControl);
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(())
        }
        _ => invalid(UserRule::EmailShape),
    }
}

/// A new password: at least 8 characters, at most 1024 bytes; anything else goes.
pub fn check_password(password: &str) -> Result<(), InvalidUser> {
    let invalid = |rule| Err(InvalidUser::new(UserField::Password, rule));
    if password.len() > MAX_PASSWORD_BYTES {
        return invalid(UserRule::TooLong {
            max: MAX_PASSWORD_BYTES,
        });
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return invalid(UserRule::TooShort {
            min: MIN_PASSWORD_CHARS,
        });
    }
    Ok(())
}

fn has_whitespace_or_control(s: &str) -> bool {
    s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(r: Result<(), InvalidUser>) -> Option<(UserField, UserRule)> {
        r.err().map(|e| (e.field, e.rule))
    }

    #[test]
    fn usernames() {
        use UserField::Username as U;
        for ok in [
            "alice",
            "a",
            "Zoë",
            "bob@example.com",
            "x-y_z.1",
            &"é".repeat(64),
        ] {
            assert_eq!(rule(check_username(ok)), None, "{ok}");
        }
        assert_eq!(rule(check_username("")), Some((U, UserRule::Empty)));
        assert_eq!(
            rule(check_username(&"a".repeat(65))),
            Some((U, UserRule::TooManyCharacters { max: 64 }))
        );
        for bad in [
            "a b",
            " alice",
            "alice\n",
            "tab\there",
            "nb\u{a0}sp",
            "bell\u{7}",
        ] {
            assert_eq!(
                rule(check_username(bad)),
                Some((U, UserRule::WhitespaceOrControl)),
                "{bad:?}"
            );
        }
        // Decomposed and composed forms are one name.
        assert_eq!(canonical_username("Zoe\u{308}"), "Zo\u{eb}");
    }

    #[test]
    fn emails_and_display_names() {
        use UserField::{DisplayName as D, Email as E};
        for ok in ["a@b", "alice@example.com", "a.b+c@sub.example.org"] {
            assert_eq!(rule(check_email(ok)), None, "{ok}");
        }
        for bad in ["alice", "@example.com", "alice@", "a@b@c", "@"] {
            assert_eq!(
                rule(check_email(bad)),
                Some((E, UserRule::EmailShape)),
                "{bad}"
            );
        }
        assert_eq!(
            rule(check_email("a b@c")),
            Some((E, UserRule::WhitespaceOrControl))
        );
        assert_eq!(rule(check_email("")), Some((E, UserRule::Empty)));
        assert_eq!(rule(check_display_name("Alice Liddell")), None);
        assert_eq!(rule(check_display_name("  ")), Some((D, UserRule::Empty)));
        assert_eq!(rule(check_display_name(&"x".repeat(200))), None);
        assert_eq!(
            rule(check_display_name(&"x".repeat(201))),
            Some((D, UserRule::TooLong { max: 200 }))
        );
        assert_eq!(
            rule(check_display_name("two\nlines")),
            Some((D, UserRule::WhitespaceOrControl))
        );
    }

    #[test]
    fn passwords_and_messages_never_repeat_the_value() {
        use UserField::Password as P;
        assert_eq!(rule(check_password("12345678")), None);
        assert_eq!(rule(check_password("ünïcødé!")), None, "8 characters");
        assert_eq!(
            rule(check_password("1234567")),
            Some((P, UserRule::TooShort { min: 8 }))
        );
        assert_eq!(rule(check_password(&"p".repeat(1024))), None);
        assert_eq!(
            rule(check_password(&"p".repeat(1025))),
            Some((P, UserRule::TooLong { max: 1024 }))
        );
        let short = check_password("hunter2").err().map(|e| e.to_string());
        assert_eq!(
            short.as_deref(),
            Some("password must be at least 8 characters")
        );
        let email = check_email("hunter2hunter2").err().map(|e| e.to_string());
        assert_eq!(
            email.as_deref(),
            Some("email must have one '@' with text on both sides, like name@example.com")
        );
        let name = check_username("a b").err().map(|e| e.to_string());
        assert_eq!(
            name.as_deref(),
            Some("username must not contain spaces or control characters")
        );
    }
}

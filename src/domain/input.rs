//! Newtypes for every field a person types. Each has a `parse` that is the only way to build it,
//! so a value of the type is valid by construction. Errors name the field, as the contract's
//! `invalid_input` does.

use crate::error::AppError;
use std::fmt;

/// An email address: syntactically valid, at most 254 bytes, compared case-insensitively.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_BYTES: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let value = raw.trim();
        let fail = |why: &str| Err(AppError::invalid_input("email", why));
        if value.is_empty() {
            return fail("Enter your email address.");
        }
        if value.len() > Self::MAX_BYTES {
            return fail("An email address is at most 254 characters long.");
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return fail("An email address needs an @, as in name@example.com.");
        };
        if !is_valid_local_part(local) || !is_valid_domain(domain) {
            return fail("That is not a valid email address.");
        }
        Ok(Self(value.to_owned()))
    }

    /// As typed (trimmed): what the person sees.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form under which addresses are compared and kept unique.
    pub fn key(&self) -> String {
        Self::key_of(&self.0)
    }

    /// [`Email::key`] of an address stored before (valid then, maybe not by today's rules).
    pub fn key_of(address: &str) -> String {
        address.to_lowercase()
    }
}

fn is_valid_local_part(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+/=?^_`{|}~.-";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
}

fn is_valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A username: 3 to 32 characters of `a-z 0-9 _ . -`. Letters are folded to lower case, which
/// is what makes comparison case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// The rules, as a form says them beside the field.
    pub const RULE: &'static str = "3 to 32 characters: letters, digits, and _ . -";

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let value = raw.trim().to_ascii_lowercase();
        let fail = |why: &str| Err(AppError::invalid_input("username", why));
        let length_ok = (3..=32).contains(&value.chars().count());
        let characters_ok = value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
        // Every rule it breaks, at once: fixing one and then meeting the next is a wasted try.
        match (length_ok, characters_ok) {
            (true, true) => Ok(Self(value)),
            (false, true) => fail("A username is 3 to 32 characters long."),
            (true, false) => fail("A username uses only letters a-z, digits 0-9, and _ . -"),
            (false, false) => fail(
                "A username is 3 to 32 characters long, and uses only letters a-z, digits \
                 0-9, and _ . -",
            ),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A full name: 1 to 100 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let value = raw.trim();
        let length = value.chars().count();
        if length == 0 {
            return Err(AppError::invalid_input(
                "full_name",
                "Enter your full name.",
            ));
        }
        if length > 100 || value.chars().any(char::is_control) {
            return Err(AppError::invalid_input(
                "full_name",
                "A full name is at most 100 characters, without control characters.",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a person calls one of their passkeys: at most 64 characters after trimming, none of them
/// a control character or one that reorders text (bidirectional formatting, which could make a
/// list of passkeys read as something else); "Passkey" when left empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyName(String);

impl PasskeyName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let value = raw.trim();
        if value.is_empty() {
            return Ok(Self("Passkey".to_owned()));
        }
        let reorders = |c: char| matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if value.chars().count() > Self::MAX_CHARS
            || value.chars().any(|c| c.is_control() || reorders(c))
        {
            return Err(AppError::invalid_input(
                "name",
                "A passkey's name is at most 64 characters, without control or text-direction characters.",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8 to 128 characters, kept exactly as typed (spaces count).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The rules, as a form says them beside the field.
    pub const RULE: &'static str = "8 to 128 characters, not one that is easy to guess.";

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let length = raw.chars().count();
        if !(8..=128).contains(&length) {
            return Err(AppError::invalid_input(
                "password",
                "A password is 8 to 128 characters long.",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A password typed to prove who you are (at login, or to confirm a change or a deletion):
/// present and not absurdly long. It is not held to the rules for new passwords, which it may
/// predate. Like [`Password`], it never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct TypedPassword(String);

impl TypedPassword {
    /// Longer than any password a person types; past it, Argon2 would hash megabytes for
    /// nothing.
    pub const MAX_CHARS: usize = 1024;

    /// `field` names the form field, for the error.
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        if raw.is_empty() {
            return Err(AppError::invalid_input(field, "Enter your password."));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(AppError::invalid_input(
                field,
                "That password is far too long.",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TypedPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TypedPassword(<redacted>)")
    }
}

/// What the login form's `login` field holds: an email address or a username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginName {
    Email(String),
    Username(String),
}

impl LoginName {
    /// Only emptiness and absurd length are input errors; anything else is looked up, and a
    /// miss is the same `invalid_credentials` as a wrong password.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(AppError::invalid_input(
                "login",
                "Enter your email or username.",
            ));
        }
        if value.len() > Email::MAX_BYTES {
            return Err(AppError::invalid_input(
                "login",
                "That is longer than any email or username.",
            ));
        }
        Ok(if value.contains('@') {
            Self::Email(value.to_lowercase())
        } else {
            Self::Username(value.to_ascii_lowercase())
        })
    }
}

// Redacted so that a stray `{:?}` can never print what a person typed as a password, and an
// address only as much as a log needs.
impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: AppError) -> String {
        err.field.expect("invalid_input names its field")
    }

    #[test]
    fn email_accepts_ordinary_addresses_and_keeps_them_as_typed() {
        let email = Email::parse("  Ada.Lovelace+test@Example.org ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace+test@Example.org");
        assert_eq!(email.key(), "ada.lovelace+test@example.org");
    }

    #[test]
    fn email_rejects_malformed_addresses() {
        for bad in [
            "",
            "plain",
            "@example.org",
            "a@",
            "a@b",
            "a@@b.org",
            "a b@c.org",
            "a@-b.org",
            ".a@b.org",
            "a..b@c.org",
            "a@b..org",
        ] {
            let err = Email::parse(bad).expect_err(bad);
            assert_eq!(field_of(err), "email", "{bad}");
        }
    }

    #[test]
    fn email_rejects_more_than_254_bytes() {
        let long = format!("{}@{}.org", "a".repeat(64), "b".repeat(190));
        assert!(long.len() > 254);
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn username_is_folded_to_lower_case() {
        assert_eq!(
            Username::parse("Ada_L.o-v3").unwrap().as_str(),
            "ada_l.o-v3"
        );
    }

    #[test]
    fn username_enforces_length_and_alphabet() {
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        assert!(Username::parse("has space").is_err());
        assert!(Username::parse("émile").is_err());
        assert_eq!(field_of(Username::parse("a!b").unwrap_err()), "username");
    }

    #[test]
    fn full_name_is_trimmed_and_between_1_and_100_characters() {
        assert_eq!(
            FullName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert!(FullName::parse("   ").is_err());
        assert!(FullName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            field_of(FullName::parse(&"x".repeat(101)).unwrap_err()),
            "full_name"
        );
    }

    #[test]
    fn password_counts_characters_not_bytes_and_keeps_spaces() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("ééééééé é").is_ok());
        assert_eq!(Password::parse(" spaced  ").unwrap().expose(), " spaced  ");
        assert!(Password::parse(&"p".repeat(128)).is_ok());
        assert_eq!(
            field_of(Password::parse(&"p".repeat(129)).unwrap_err()),
            "password"
        );
    }

    #[test]
    fn password_debug_never_shows_the_password() {
        let shown = format!("{:?}", Password::parse("hunter22hunter").unwrap());
        assert!(!shown.contains("hunter"));
    }

    #[test]
    fn a_typed_password_is_present_not_absurdly_long_and_never_shown() {
        assert_eq!(
            field_of(TypedPassword::parse("current_password", "").unwrap_err()),
            "current_password"
        );
        assert!(
            TypedPassword::parse("password", "short").is_ok(),
            "older rules"
        );
        assert!(TypedPassword::parse("password", &"p".repeat(1024)).is_ok());
        assert!(TypedPassword::parse("password", &"p".repeat(1025)).is_err());
        let shown = format!("{:?}", TypedPassword::parse("password", "hunter2").unwrap());
        assert!(!shown.contains("hunter"), "{shown}");
    }

    #[test]
    fn login_name_tells_email_from_username() {
        assert_eq!(
            LoginName::parse("Ada@Example.org").unwrap(),
            LoginName::Email("ada@example.org".into())
        );
        assert_eq!(
            LoginName::parse(" Ada ").unwrap(),
            LoginName::Username("ada".into())
        );
        assert_eq!(field_of(LoginName::parse("").unwrap_err()), "login");
    }

    #[test]
    fn a_username_that_breaks_both_rules_is_told_both() {
        let message = Username::parse("b!").unwrap_err().message;
        assert!(message.contains("3 to 32 characters"), "{message}");
        assert!(message.contains("only letters"), "{message}");
    }
}

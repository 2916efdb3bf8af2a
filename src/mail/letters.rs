//! [ssr] What each mail says, in plain text and HTML: short, with the product name, what
//! happened, when, from which device and address, and what to do if it was not you.

use crate::store::OutgoingMail;
use html_escape::encode_text;
use std::time::Duration;
use time::{macros::format_description, OffsetDateTime};

const PRODUCT: &str = "Gatehouse";

/// Where and when the request behind a mail came from.
#[derive(Debug, Clone)]
pub struct Circumstances {
    pub when: OffsetDateTime,
    /// The browser and system, in words ("Firefox on Linux").
    pub device: String,
    /// The client address, as the limits see it.
    pub address: String,
}

/// One mail's content. Its links and codes are secrets: `Debug` names the kind of mail only.
#[derive(Clone)]
pub enum Letter {
    /// A link to choose a new password.
    PasswordReset { link: String, valid_for: Duration },
    /// The password was changed by a reset; `forgot` leads to a new reset if it was not them.
    PasswordChangedByReset { forgot: String },
    /// The password was changed from the profile (with the old one).
    PasswordChanged { forgot: String },
    /// A login from a browser that had not logged in to the account before.
    NewSignIn { devices: String },
    /// A session ended because its refresh token was presented again after it was rotated.
    SessionEndedForReuse { devices: String },
    /// A link and a six-digit code to prove the address is the account owner's.
    VerifyEmail {
        link: String,
        code: String,
        valid_for: Duration,
    },
    /// To a new address: a link that moves the account to it.
    ConfirmNewEmail { link: String, valid_for: Duration },
    /// To the current address: someone asked to move the account to `new`; `undo` cancels it.
    EmailChangeRequested { new: String, undo: String },
    /// To the address replaced: the account moved to `new`; `undo` brings it back.
    EmailChanged {
        new: String,
        undo: String,
        valid_for: Duration,
    },
    /// To the address an undo replaced: the account went back to `restored`.
    EmailRestored { restored: String },
    /// Wrong passwords locked the account for strangers; `forgot` is the owner's way in.
    AccountLocked { forgot: String, for_how_long: Duration },
    /// Two-step verification changed (`what`: "turned on", "turned off", "new recovery codes
    /// were made"); `forgot` is the way back if it was not the owner.
    FactorsChanged { what: &'static str, forgot: String },
    /// The right password, then wrong codes, until the code budget was spent: someone knows the
    /// password.
    CodesLocked { forgot: String, for_how_long: Duration },
}

impl std::fmt::Debug for Letter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Letter({:?})", self.subject())
    }
}

impl Letter {
    fn subject(&self) -> String {
        match self {
            Self::PasswordReset { .. } => format!("Reset your {PRODUCT} password"),
            Self::PasswordChangedByReset { .. } | Self::PasswordChanged { .. } => {
                format!("Your {PRODUCT} password was changed")
            }
            Self::NewSignIn { .. } => format!("A new sign-in to your {PRODUCT} account"),
            Self::SessionEndedForReuse { .. } => {
                format!("A {PRODUCT} session was ended to protect your account")
            }
            Self::VerifyEmail { .. } => format!("Confirm your address for {PRODUCT}"),
            Self::ConfirmNewEmail { .. } => format!("Confirm your new {PRODUCT} address"),
            Self::EmailChangeRequested { .. } => {
                format!("A change of your {PRODUCT} address was asked for")
            }
            Self::EmailChanged { .. } => format!("Your {PRODUCT} address was changed"),
            Self::EmailRestored { .. } => format!("A {PRODUCT} account left this address"),
            Self::AccountLocked { .. } => {
                format!("Your {PRODUCT} account was locked after wrong passwords")
            }
            Self::FactorsChanged { .. } => {
                format!("Two-step verification of your {PRODUCT} account changed")
            }
            Self::CodesLocked { .. } => {
                format!("Someone has your {PRODUCT} password")
            }
        }
    }

    /// The paragraphs of the message, in order, and the link it leads to.
    fn parts(&self, about: &Circumstances) -> (Vec<String>, Option<(&str, &str)>) {
        let when = when(about.when);
        let from = format!("{} at {}", or_unknown(&about.device), or_unknown(&about.address));
        match self {
            Self::PasswordReset { link, valid_for } => (
                vec![
                    format!("Someone asked to reset the password of your {PRODUCT} account on {when}, from {from}."),
                    format!(
                        "To choose a new password, open the link below. It works once, for {}.",
                        minutes(*valid_for)
                    ),
                    "If it was not you, ignore this mail: your password stays as it is.".to_owned(),
                ],
                Some(("Choose a new password", link.as_str())),
            ),
            Self::PasswordChangedByReset { forgot } => (
                vec![
                    format!("The password of your {PRODUCT} account was changed on {when}, from {from}, with a reset link sent to this address."),
                    "Every device that was logged in has been logged out, and the account's passkeys, if it had any, were removed: add yours again from the Two-step verification page.".to_owned(),
                    "If it was not you, reset your password now and check who can read this mailbox.".to_owned(),
                ],
                Some(("Reset your password", forgot.as_str())),
            ),
            Self::NewSignIn { devices } => (
                vec![
                    format!("Your {PRODUCT} account was logged in to on {when}, from {from}, a browser that had not logged in to it before."),
                    "If it was you, there is nothing to do.".to_owned(),
                    "If it was not you, log that device out on your devices page, then change your password.".to_owned(),
                ],
                Some(("See your devices", devices.as_str())),
            ),
            Self::SessionEndedForReuse { devices } => (
                vec![
                    format!("On {when}, {from} presented a sign-in token of your {PRODUCT} account that had already been used. That happens when a token is copied, so the session it belonged to has been ended and its device logged out."),
                    "If you did not expect this, change your password and look at your devices.".to_owned(),
                ],
                Some(("See your devices", devices.as_str())),
            ),
            Self::PasswordChanged { forgot } => (
                vec![
                    format!("The password of your {PRODUCT} account was changed on {when}, from {from}."),
                    "Every other device that was logged in has been logged out.".to_owned(),
                    "If it was not you, someone knows your password: reset it now, from the link below.".to_owned(),
                ],
                Some(("Reset your password", forgot.as_str())),
            ),
            Self::VerifyEmail { link, code, valid_for } => (
                vec![
                    format!("Confirm that this address belongs to your {PRODUCT} account: open the link below."),
                    format!("Or, where you are signed in, enter this code: {code}"),
                    format!("The link and the code work once, for {}.", minutes(*valid_for)),
                    format!("If you did not create a {PRODUCT} account, ignore this mail."),
                ],
                Some(("Confirm this address", link.as_str())),
            ),
            Self::ConfirmNewEmail { link, valid_for } => (
                vec![
                    format!("On {when}, from {from}, someone signed in to a {PRODUCT} account asked to use this address for it."),
                    format!(
                        "To confirm, open the link below. It works once, for {}; until then the account keeps its old address.",
                        minutes(*valid_for)
                    ),
                    "If it was not you, ignore this mail: nothing changes.".to_owned(),
                ],
                Some(("Use this address", link.as_str())),
            ),
            Self::EmailChangeRequested { new, undo } => (
                vec![
                    format!("On {when}, from {from}, someone signed in to your {PRODUCT} account asked to change its address to {new}."),
                    "Nothing changes until that address confirms it.".to_owned(),
                    "If it was not you, cancel the change with the link below, then change your password: someone else is signed in.".to_owned(),
                ],
                Some(("Cancel the change", undo.as_str())),
            ),
            Self::EmailChanged { new, undo, valid_for } => (
                vec![
                    format!("The address of your {PRODUCT} account was changed to {new} on {when}, from {from}. Mail about the account goes there now."),
                    format!(
                        "If it was not you, the link below puts this address back and logs every device out. It works for {}.",
                        minutes(*valid_for)
                    ),
                ],
                Some(("Put my address back", undo.as_str())),
            ),
            Self::EmailRestored { restored } => (
                vec![
                    format!("On {when}, from {from}, the {PRODUCT} account that used this address was moved back to {restored}, with a link sent there when it left that address."),
                    "Every device that was logged in to it has been logged out, and its password must be chosen again from that address.".to_owned(),
                    format!("If that was not meant to happen, whoever reads {restored} has the account now: contact whoever runs this site."),
                ],
                None,
            ),
            Self::AccountLocked { forgot, for_how_long } => (
                vec![
                    format!("On {when}, after wrong passwords from {from}, your {PRODUCT} account was locked for {} on every browser you have not logged in with before.", minutes(*for_how_long)),
                    "Browsers you have logged in with keep working. If you need another one now, setting a new password with the link below lifts the lock.".to_owned(),
                    "If the wrong passwords were not yours, someone is guessing: a long, unique password keeps them out.".to_owned(),
                ],
                Some(("Choose a new password", forgot.as_str())),
            ),
            Self::FactorsChanged { what, forgot } => (
                vec![
                    format!("Two-step verification of your {PRODUCT} account was changed on {when}, from {from}: {what}."),
                    "If it was not you, someone is in your account: choose a new password with the link below, then look at your devices.".to_owned(),
                ],
                Some(("Choose a new password", forgot.as_str())),
            ),
            Self::CodesLocked { forgot, for_how_long } => (
                vec![
                    format!("On {when}, from {from}, someone entered your {PRODUCT} password correctly, then wrong two-step codes, until codes were refused for {}.", minutes(*for_how_long)),
                    "If it was not you, your password is known: choose a new one now with the link below.".to_owned(),
                ],
                Some(("Choose a new password", forgot.as_str())),
            ),
        }
    }

    /// The message for `recipient`, ready for the outbox.
    pub fn to(&self, recipient: &str, about: &Circumstances, id: String) -> OutgoingMail {
        let (paragraphs, link) = self.parts(about);
        let mut text = paragraphs.join("\n\n");
        let mut html = String::from(
            "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">",
        );
        html.push_str(&format!("<h1 style=\"font-size:1.2em\">{PRODUCT}</h1>"));
        for paragraph in &paragraphs {
            html.push_str(&format!("<p>{}</p>", encode_text(paragraph)));
        }
        if let Some((label, href)) = link {
            text.push_str(&format!("\n\n{label}: {href}"));
            html.push_str(&format!(
                "<p><a href=\"{}\">{}</a></p>",
                html_escape::encode_double_quoted_attribute(href),
                encode_text(label)
            ));
        }
        text.push_str(&format!("\n\n-- \n{PRODUCT}\n"));
        html.push_str("</body></html>");
        OutgoingMail {
            id,
            recipient: recipient.to_owned(),
            subject: self.subject(),
            text_body: text,
            html_body: html,
            queued_at: about.when,
            discard_after: None,
        }
    }
}

fn or_unknown(text: &str) -> &str {
    if text.trim().is_empty() {
        "an unknown device"
    } else {
        text
    }
}

/// "1 December 2026 at 21:04 UTC": mail clients show it as it is, in any time zone.
fn when(at: OffsetDateTime) -> String {
    let format = format_description!(
        "[day padding:none] [month repr:long] [year] at [hour]:[minute] UTC"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

fn minutes(duration: Duration) -> String {
    match duration.as_secs() / 60 {
        0 | 1 => "1 minute".to_owned(),
        n if n % 1440 == 0 && n >= 2880 => format!("{} days", n / 1440),
        n if n % 60 == 0 && n >= 120 => format!("{} hours", n / 60),
        60 => "1 hour".to_owned(),
        n => format!("{n} minutes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn about() -> Circumstances {
        Circumstances {
            when: OffsetDateTime::from_unix_timestamp(1_795_640_640).unwrap(),
            device: "Firefox on <Linux>".into(),
            address: "192.0.2.7".into(),
        }
    }

    #[test]
    fn a_reset_mail_says_what_when_where_and_for_how_long_in_both_parts() {
        let letter = Letter::PasswordReset {
            link: "https://login.example.com/reset?token=abc&x=1".into(),
            valid_for: Duration::from_secs(1800),
        };
        let mail = letter.to("ada@example.com", &about(), "m1".into());
        assert_eq!(mail.subject, "Reset your Gatehouse password");
        for needle in ["30 minutes", "192.0.2.7", "UTC", "If it was not you"] {
            assert!(mail.text_body.contains(needle), "text lacks {needle}");
            assert!(mail.html_body.contains(needle), "html lacks {needle}");
        }
        assert!(mail.text_body.contains("https://login.example.com/reset?token=abc&x=1"));
        assert!(mail.html_body.contains("href=\"https://login.example.com/reset?token=abc&amp;x=1\""));
    }

    #[test]
    fn what_the_request_chose_is_escaped_in_html() {
        let letter = Letter::PasswordChangedByReset {
            forgot: "https://login.example.com/forgot".into(),
        };
        let mail = letter.to("ada@example.com", &about(), "m2".into());
        assert!(mail.html_body.contains("Firefox on &lt;Linux&gt;"));
        assert!(!mail.html_body.contains("<Linux>"));
    }
}

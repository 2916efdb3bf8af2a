//! [ssr] Whether a new password is good enough, beyond its length: not one that attackers try
//! first (judged by zxcvbn, which knows common passwords, words, names, keyboard walks, dates
//! and repeats), and not one built from the account's own name or address. The verdict names
//! the reason, so the person knows what to change.

use super::workers::Workers;
use crate::{
    domain::{Email, Password, Username},
    error::AppError,
};
use zxcvbn::{zxcvbn, Score};

/// The weakest zxcvbn score accepted: about 10^8 guesses, far beyond what rate-limited online
/// guessing can try, and refusing only passwords that dictionaries find fast.
const MIN_SCORE: Score = Score::Two;

/// Fragments of the account shorter than this are too common to forbid (a local part `jo`).
const MIN_FRAGMENT: usize = 3;

/// Checks `password` for the account being created or changed. CPU-bound for long inputs, so
/// callers run it off the async threads (see [`check_off_thread`]).
pub fn check(password: &Password, username: &Username, email: &Email) -> Result<(), AppError> {
    let refuse = |why: String| Err(AppError::invalid_input("password", why));
    let lowered = password.expose().to_lowercase();
    let local_part = email
        .as_str()
        .split('@')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    if lowered.contains(username.as_str()) {
        return refuse("A password must not contain your username.".into());
    }
    if local_part.chars().count() >= MIN_FRAGMENT && lowered.contains(&local_part) {
        return refuse("A password must not contain your email address.".into());
    }
    let estimate = zxcvbn(password.expose(), &[username.as_str(), &local_part]);
    if estimate.score() < MIN_SCORE {
        let mut message = "This password is too easy to guess.".to_owned();
        if let Some(warning) = estimate.feedback().and_then(|feedback| feedback.warning()) {
            message.push_str(&format!(" {warning}"));
        }
        message.push_str(" A few unrelated words together work well.");
        return refuse(message);
    }
    Ok(())
}

/// [`check`] on the worker threads (zxcvbn takes milliseconds on a long password: a flood of
/// registrations must not take a thread each).
pub async fn check_off_thread(
    workers: &Workers,
    password: Password,
    username: Username,
    email: Email,
) -> Result<(Password, Username, Email), AppError> {
    workers
        .run(move |_| check(&password, &username, &email).map(|()| (password, username, email)))
        .await
        .map_err(|stopped| AppError::internal(&stopped))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn verdict(password: &str) -> Result<(), AppError> {
        check(
            &Password::parse(password).unwrap(),
            &Username::parse("ada_l").unwrap(),
            &Email::parse("lovelace@example.org").unwrap(),
        )
    }

    fn refusal(password: &str) -> String {
        let error = verdict(password).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidInput);
        assert_eq!(error.field.as_deref(), Some("password"));
        error.message
    }

    #[test]
    fn strong_passwords_pass() {
        for good in [
            "correct horse battery",
            "tangerine-wharf-9-oblique",
            "Qm7#vL2p!xR9",
        ] {
            assert!(verdict(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn common_passwords_are_refused_saying_they_are_common() {
        for common in [
            "password",
            "password1",
            "12345678",
            "qwertyuiop",
            "iloveyou",
        ] {
            assert!(
                refusal(common).contains("common"),
                "{common}: {}",
                refusal(common)
            );
        }
    }

    #[test]
    fn a_password_containing_the_username_or_the_email_local_part_is_refused() {
        assert!(refusal("xx-ADA_L-rocks-2024").contains("username"));
        assert!(refusal("my LoveLace secret 77").contains("email"));
    }

    #[test]
    fn guessable_patterns_are_refused_with_the_reason() {
        let message = refusal("aaaaaaaaaaaa");
        assert!(message.contains("Repeats"), "{message}");
    }
}

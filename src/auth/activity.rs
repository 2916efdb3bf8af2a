//! [ssr] The account's recent activity, from the audit trail, in words its owner reads.

use super::request::CurrentRequest;
use crate::{
    domain::{describe_user_agent, ActivityEntry},
    error::AppError,
    store::{Actor, EventKind, EventRecord},
};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// How many entries the page shows: enough for weeks of a person's use, one screenful of reading.
pub const SHOWN: u32 = 50;

pub async fn activity() -> Result<Vec<ActivityEntry>, AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let events = request.state.store.events_of(&claims.sub, SHOWN).await?;
    Ok(events.iter().filter_map(entry).collect())
}

fn entry(event: &EventRecord) -> Option<ActivityEntry> {
    let kind = EventKind::parse(&event.kind)?;
    let by_operator = event.actor == Actor::Operator.as_str();
    let (what, notable) = words(kind);
    let what = if by_operator {
        format!("{what} by an administrator")
    } else {
        what.to_owned()
    };
    let at = OffsetDateTime::from_unix_timestamp(event.at).ok()?;
    Some(ActivityEntry {
        kind: event.kind.clone(),
        what,
        at: at.format(&Rfc3339).unwrap_or_default(),
        device: event
            .device
            .as_deref()
            .map(describe_user_agent)
            .unwrap_or_default(),
        ip: event.ip.clone().unwrap_or_default(),
        notable: notable || by_operator,
    })
}

/// What happened, and whether it deserves its owner's look.
fn words(kind: EventKind) -> (&'static str, bool) {
    match kind {
        EventKind::Registered => ("Account created", false),
        EventKind::LoggedIn => ("Logged in", false),
        EventKind::LoginFailed => ("Wrong password entered at login", true),
        EventKind::Locked => ("Logins paused after too many wrong passwords", true),
        EventKind::LoggedOut => ("Logged out", false),
        EventKind::SessionRevoked => ("A device was logged out", false),
        EventKind::SessionsEnded => ("Logged out everywhere", false),
        EventKind::ReuseDetected => (
            "A device's session was ended: its sign-in was used twice, which a copy would do",
            true,
        ),
        EventKind::PasswordChanged => ("Password changed", false),
        EventKind::PasswordReset => ("Password reset by mail", false),
        EventKind::EmailChanged => ("Email address changed", false),
        EventKind::EmailRestored => ("Email address restored; every device logged out", true),
        EventKind::AccountDisabled => ("Account disabled", true),
        EventKind::AccountEnabled => ("Account enabled again", true),
        EventKind::AccountDeleted => ("Account deleted", true),
        EventKind::TotpEnabled => ("Authenticator app turned on", true),
        EventKind::TotpDisabled => ("Authenticator app turned off", true),
        EventKind::RecoveryCodesReplaced => ("New recovery codes made; the old ones stopped working", true),
        EventKind::RecoveryCodeUsed => ("A recovery code was used", true),
        EventKind::SecondFactorFailed => ("Wrong code entered after the right password", true),
        EventKind::PasskeyAdded => ("Passkey added", true),
        EventKind::PasskeyRemoved => ("Passkey removed", true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str, actor: &str) -> EventRecord {
        EventRecord {
            id: 1,
            user_id: "u".into(),
            kind: kind.into(),
            at: 1_800_000_000,
            actor: actor.into(),
            ip: Some("203.0.113.9".into()),
            device: Some("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0".into()),
            session_id: None,
        }
    }

    #[test]
    fn a_failed_login_is_worded_and_marked_notable_with_its_device_named() {
        let entry = entry(&record("login_failed", "stranger")).unwrap();
        assert_eq!(entry.what, "Wrong password entered at login");
        assert!(entry.notable);
        assert_eq!(entry.device, "Firefox on Linux");
        assert_eq!(entry.at, "2027-01-15T08:00:00Z");
    }

    #[test]
    fn an_operators_action_says_so_and_is_notable() {
        let entry = entry(&record("session_revoked", "operator")).unwrap();
        assert_eq!(entry.what, "A device was logged out by an administrator");
        assert!(entry.notable);
    }

    #[test]
    fn an_event_of_a_kind_this_build_does_not_know_is_left_out() {
        assert_eq!(entry(&record("hardware_key_lost", "owner")), None);
    }
}

//! Why someone was signed out, carried to the page they land on (`?signed_out=`) so that it can
//! say so. Only these fixed words are ever shown: a value the page does not know shows nothing.

use crate::error::ErrorCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedOut {
    /// They logged out on this device.
    Here,
    /// They logged out every device, this one too.
    Everywhere,
    /// They logged out in another tab of this browser.
    OtherTab,
    /// This session was ended from another device (the sessions page, a password change).
    Elsewhere,
    /// This session's refresh token was used twice: it was ended to keep the account safe.
    Reused,
    /// They deleted their account.
    Deleted,
}

impl SignedOut {
    /// The query parameter that carries the reason.
    pub const PARAM: &'static str = "signed_out";

    const ALL: [Self; 6] = [
        Self::Here,
        Self::Everywhere,
        Self::OtherTab,
        Self::Elsewhere,
        Self::Reused,
        Self::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Here => "here",
            Self::Everywhere => "everywhere",
            Self::OtherTab => "other_tab",
            Self::Elsewhere => "elsewhere",
            Self::Reused => "reused",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == raw)
    }

    /// Why a session the browser held was refused, as the server's error code says: `None`
    /// when nothing ended it (it lapsed, or there never was one).
    pub fn of_refusal(code: ErrorCode) -> Option<Self> {
        match code {
            ErrorCode::TokenRevoked => Some(Self::Elsewhere),
            ErrorCode::TokenReused => Some(Self::Reused),
            _ => None,
        }
    }

    /// What the page says.
    pub fn message(self) -> &'static str {
        match self {
            Self::Here => "You have been logged out on this device.",
            Self::Everywhere => "You have been logged out on every device.",
            Self::OtherTab => "You logged out in another tab.",
            Self::Elsewhere => {
                "This device was logged out from another one. Log in again to continue."
            }
            Self::Reused => {
                "Your session was used from two places at once, so it was ended to keep your \
                 account safe. Log in again to continue."
            }
            Self::Deleted => "Your account has been deleted.",
        }
    }

    /// The login page, back to `next` afterwards, saying why when `reason` is known: where a
    /// refused session leads, from the server's detour (`auth::resume`) and from the client.
    pub fn login_url(next: &super::NextPath, reason: Option<Self>) -> String {
        let login = next.login_url();
        match reason {
            Some(why) => format!("{login}&{}={}", Self::PARAM, why.as_str()),
            None => login,
        }
    }

    /// `page` (a path without a query), saying why.
    pub fn on(self, page: &str) -> String {
        format!("{page}?{}={}", Self::PARAM, self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_and_unknown_words_are_refused() {
        for reason in SignedOut::ALL {
            assert_eq!(SignedOut::parse(reason.as_str()), Some(reason));
        }
        for junk in ["", "HERE", "here ", "<script>", "x"] {
            assert_eq!(SignedOut::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn only_an_ended_session_has_a_reason() {
        assert_eq!(
            SignedOut::of_refusal(ErrorCode::TokenRevoked),
            Some(SignedOut::Elsewhere)
        );
        assert_eq!(
            SignedOut::of_refusal(ErrorCode::TokenReused),
            Some(SignedOut::Reused)
        );
        assert_eq!(SignedOut::of_refusal(ErrorCode::TokenExpired), None);
        assert_eq!(SignedOut::of_refusal(ErrorCode::Unauthenticated), None);
    }
}

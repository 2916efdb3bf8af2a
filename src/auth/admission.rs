//! [ssr] Leave to start a session: what `CurrentRequest::start_session` takes, so that no
//! session starts without passing the second factor. Granted only by `second_factor` (a test
//! in tests/integration/factors/doors.rs checks that no other module grants it).

use crate::store::SignInMethod;

/// Leave to start a session, and how it signed in.
pub(super) struct Admitted(SignInMethod);

impl Admitted {
    /// For `second_factor` alone: after every factor the account asks for.
    pub(super) fn granted(method: SignInMethod) -> Self {
        Self(method)
    }

    pub(super) fn method(&self) -> SignInMethod {
        self.0
    }

    /// A new account has no second factor yet.
    pub(super) fn new_account() -> Self {
        Self(SignInMethod::Password)
    }
}

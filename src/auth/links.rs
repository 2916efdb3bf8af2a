//! [ssr] The pages that links in mail open, and what a link's token is worth before anything is
//! spent. Opening a link spends nothing (mail scanners and link previews fetch links): the page
//! shows a button, and only its POST spends the token. A link that cannot be used is sent on to
//! the same page with `?link=expired` or `?link=invalid` before the page renders, so it says so
//! at once, and the dead token leaves the address bar.

use super::request::{now, query_value};
use crate::{
    credentials::mail_tokens::MailToken,
    error::{
        AppError, ErrorCode, CHANGE_LINK_EXPIRED, CHANGE_LINK_INVALID, RESET_LINK_EXPIRED,
        RESET_LINK_INVALID, UNDO_LINK_EXPIRED, UNDO_LINK_INVALID, VERIFY_LINK_EXPIRED,
        VERIFY_LINK_INVALID,
    },
    state::AppState,
    store::{TokenPurpose, TokenState},
};

/// Each page a mailed link opens, and what its tokens are for.
const LINK_PAGES: [(&str, &[TokenPurpose]); 4] = [
    ("/reset", &[TokenPurpose::PasswordReset]),
    ("/verify", &[TokenPurpose::VerifyEmail]),
    ("/confirm-email", &[TokenPurpose::ChangeEmail]),
    // Cancelling a pending change and undoing a made one are one page for the person.
    (
        "/undo-email",
        &[TokenPurpose::UndoEmailChange, TokenPurpose::CancelEmailChange],
    ),
];

/// The path of the page that links made for `purpose` open, with `token`.
pub fn link_path(purpose: TokenPurpose, token: &MailToken) -> String {
    let page = LINK_PAGES
        .iter()
        .find(|(_, purposes)| purposes.contains(&purpose))
        .map_or("/", |(page, _)| page);
    format!("{page}?token={}", token.expose())
}

/// `GET` of a link's page with a token that cannot be used: where to send it instead. Read
/// only: a usable token is left for the page's POST.
pub async fn link_detour(state: &AppState, uri: &http::Uri) -> Option<String> {
    let (page, purposes) = LINK_PAGES.iter().find(|(page, _)| *page == uri.path())?;
    let token = query_value(uri.query(), "token")?;
    if back_at_a_second_step(uri.query()) {
        return None;
    }
    match link_state_of(state, &token, purposes).await {
        Ok((_, TokenState::Usable { .. })) | Err(_) => None,
        Ok((_, TokenState::Expired)) => Some(format!("{page}?link=expired")),
        Ok((_, TokenState::Invalid)) => Some(format!("{page}?link=invalid")),
    }
}

/// Whether the page is the answer to a reset that set the password and asked for the second
/// factor (`mfa_required`), or to a wrong code typed there: the token is spent, and the page
/// shows the second step rather than "this link was used".
fn back_at_a_second_step(query: Option<&str>) -> bool {
    use crate::error::ErrorCode;
    use leptos::server_fn::{error::ServerFnUrlError, ServerFn};
    let path = query_value(query, "__path");
    if path.as_deref() == Some(super::CompleteLogin::PATH) {
        return true;
    }
    path.as_deref() == Some(super::ResetPassword::PATH)
        && query_value(query, "__err").is_some_and(|err| {
            ServerFnUrlError::<crate::error::AppError>::decode_err(&err).code
                == ErrorCode::MfaRequired
        })
}

/// What a presented token is worth now for the first of `purposes` it was made for (a token
/// is made for one), and which: read only.
pub async fn link_state_of(
    state: &AppState,
    token: &str,
    purposes: &[TokenPurpose],
) -> Result<(TokenPurpose, TokenState), AppError> {
    let mut last = (purposes[0], TokenState::Invalid);
    for purpose in purposes {
        let found = link_state(state, token, *purpose).await?;
        if found != TokenState::Invalid {
            return Ok((*purpose, found));
        }
        last = (*purpose, found);
    }
    Ok(last)
}

/// What a presented token is worth now for `purpose`: read only.
pub async fn link_state(
    state: &AppState,
    token: &str,
    purpose: TokenPurpose,
) -> Result<TokenState, AppError> {
    let Some(token) = MailToken::parse(token) else {
        return Ok(TokenState::Invalid);
    };
    Ok(state
        .store
        .account_token_state(&token.hash(), purpose, now())
        .await?)
}

/// The answer to a link that cannot be used, with what to do instead.
pub fn refused(purpose: TokenPurpose, state: &TokenState) -> AppError {
    let expired = matches!(state, TokenState::Expired);
    let message = match (purpose, expired) {
        (TokenPurpose::PasswordReset, true) => RESET_LINK_EXPIRED,
        (TokenPurpose::PasswordReset, false) => RESET_LINK_INVALID,
        (TokenPurpose::VerifyEmail, true) => VERIFY_LINK_EXPIRED,
        (TokenPurpose::VerifyEmail, false) => VERIFY_LINK_INVALID,
        (TokenPurpose::ChangeEmail, true) => CHANGE_LINK_EXPIRED,
        (TokenPurpose::ChangeEmail, false) => CHANGE_LINK_INVALID,
        (TokenPurpose::CancelEmailChange | TokenPurpose::UndoEmailChange, true) => {
            UNDO_LINK_EXPIRED
        }
        (TokenPurpose::CancelEmailChange | TokenPurpose::UndoEmailChange, false) => {
            UNDO_LINK_INVALID
        }
    };
    let code = if expired {
        ErrorCode::TokenExpired
    } else {
        ErrorCode::TokenInvalid
    };
    AppError::new(code, message)
}

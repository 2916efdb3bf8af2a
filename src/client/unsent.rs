//! What a person typed into a form whose session ended before it was saved (a device logged
//! out from another one, then "Save"): kept in this tab's `sessionStorage` for the trip through
//! the login page, and filled in again once they are back, for the same account only (a shared
//! computer's next person does not get it). Only forms that hold no password keep anything.
//! Without `sessionStorage` (storage disabled), nothing is kept; the page still says what
//! happened. On the server, nothing is ever kept.

/// The storage key of one form: its server function's path.
fn key(form: &str) -> String {
    format!("gatehouse-unsent:{form}")
}

#[cfg(feature = "hydrate")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// Keeps a submission of `form`, made by account `owner`, until [`forget`] or [`take`].
pub fn keep(form: &str, owner: &str, fields: serde_json::Value) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = storage() {
        let kept = serde_json::json!({ "owner": owner, "fields": fields });
        let _ = storage.set_item(&key(form), &kept.to_string());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key(form), owner, fields);
}

/// The submission reached the server (saved, or refused for its content): nothing to keep.
pub fn forget(form: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = storage() {
        let _ = storage.remove_item(&key(form));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = key(form);
}

/// The fields kept for `form` (name to value), if `owner` made them; gone from storage
/// either way.
pub fn take(form: &str, owner: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    #[cfg(feature = "hydrate")]
    {
        let storage = storage()?;
        let raw = storage.get_item(&key(form)).ok().flatten()?;
        let _ = storage.remove_item(&key(form));
        let mut kept: serde_json::Value = serde_json::from_str(&raw).ok()?;
        if kept["owner"] != owner {
            return None;
        }
        match kept["fields"].take() {
            serde_json::Value::Object(fields) => Some(fields),
            _ => None,
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (key(form), owner);
        None
    }
}

/// Whether anything is kept in this tab, for the login page to say so.
pub fn any() -> bool {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = storage() {
        let prefix = key("");
        let count = storage.length().unwrap_or(0);
        return (0..count)
            .filter_map(|i| storage.key(i).ok().flatten())
            .any(|name| name.starts_with(&prefix));
    }
    false
}

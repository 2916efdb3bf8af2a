//! What a person typed into a form whose session ended before it was saved (a device logged
//! out from another one, then "Save"): kept in this tab's `sessionStorage` for the trip through
//! the login page, and filled in again once they are back, for the same account only (a shared
//! computer's next person does not get it). Only text and email fields are kept, never a
//! password. Without `sessionStorage` (storage disabled), nothing is kept; the page still says
//! what happened. On the server, nothing is ever kept.
//!
//! Kept as a JSON array `[owner, name, value, name, value, …]` through the browser's own `JSON`
//! and read from the form's fields, not through serde: the client's size budget is tight.

use crate::error::AppError;
use leptos::{
    ev::SubmitEvent, html::Section, prelude::*, wasm_bindgen::JsCast, web_sys::HtmlFormElement,
};

/// The storage key of one form: its server function's path.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn key(form: &str) -> String {
    format!("gatehouse-unsent:{form}")
}

#[cfg(feature = "hydrate")]
mod browser {
    use js_sys::{Array, Reflect, JSON};
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::{Element, HtmlFormElement, Storage};

    pub fn storage() -> Option<Storage> {
        web_sys::window()?.session_storage().ok().flatten()
    }

    /// The form's text and email fields, by name: nothing that could hold a password, not
    /// even one shown as typed (the toggle makes it `type=text`; its `autocomplete` stays).
    const FIELDS: &str =
        "input[name]:is(:not([type]), [type=text], [type=email]):not([autocomplete$=password])";

    pub fn fields(form: &HtmlFormElement) -> Vec<Element> {
        let Ok(found) = form.query_selector_all(FIELDS) else {
            return Vec::new();
        };
        (0..found.length())
            .filter_map(|i| found.item(i)?.dyn_into::<Element>().ok())
            .collect()
    }

    pub fn value(field: &Element) -> Option<String> {
        Reflect::get(field, &JsValue::from_str("value"))
            .ok()?
            .as_string()
    }

    pub fn set_value(field: &Element, value: &str) {
        let _ = Reflect::set(
            field,
            &JsValue::from_str("value"),
            &JsValue::from_str(value),
        );
    }

    pub fn encode(items: impl IntoIterator<Item = String>) -> Option<String> {
        let array: Array = items.into_iter().map(JsValue::from).collect();
        JSON::stringify(&array).ok()?.as_string()
    }

    pub fn decode(raw: &str) -> Vec<String> {
        JSON::parse(raw)
            .ok()
            .filter(Array::is_array)
            .map(|value| {
                Array::from(&value)
                    .iter()
                    .filter_map(|v| v.as_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The keeping of one form's fields: what it sends is kept until the answer comes back, and
/// filled in again (with [`Self::notice`] saying so) on the page that shows the form next.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub struct Unsent {
    /// The form's server function path, naming what is kept.
    path: &'static str,
    /// The account whose form it is.
    owner: StoredValue<String>,
    restored: RwSignal<bool>,
}

impl Unsent {
    /// For the form inside `around`, of account `owner`, posting to `path`. Once `around` is on
    /// the page, what was kept for it (by this account) goes back into its fields.
    pub fn new(path: &'static str, owner: String, around: NodeRef<Section>) -> Self {
        let this = Self {
            path,
            owner: StoredValue::new(owner),
            restored: RwSignal::new(false),
        };
        Effect::new(move |_| {
            let form = around
                .get()
                .and_then(|around| around.query_selector("form").ok().flatten());
            if let Some(form) = form.and_then(|f| f.dyn_into::<HtmlFormElement>().ok()) {
                if this.restore(&form) {
                    this.restored.set(true);
                }
            }
        });
        this
    }

    /// The form is being sent (a `submit` event from it): keep its fields.
    pub fn sending(self, ev: &SubmitEvent) {
        let form = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlFormElement>().ok());
        #[cfg(feature = "hydrate")]
        if let (Some(storage), Some(form)) = (browser::storage(), form) {
            let mut items = vec![self.owner.get_value()];
            for field in browser::fields(&form) {
                if let (Some(name), Some(value)) =
                    (field.get_attribute("name"), browser::value(&field))
                {
                    items.extend([name, value]);
                }
            }
            if let Some(kept) = browser::encode(items) {
                let _ = storage.set_item(&key(self.path), &kept);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = form;
    }

    /// The answer came: unless it was a lost session (and the page is on its way to login),
    /// the submission reached the server, saved or refused for its content: nothing to keep.
    pub fn answered(self, outcome: Option<&AppError>) {
        let reached = !outcome.is_some_and(|error| error.code.is_session_failure());
        #[cfg(feature = "hydrate")]
        if let (true, Some(storage)) = (reached, browser::storage()) {
            let _ = storage.remove_item(&key(self.path));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = reached;
    }

    /// Fills `form` with what was kept for it, if its owner sent it; whether anything was
    /// filled. What was kept is gone from storage either way.
    fn restore(self, form: &HtmlFormElement) -> bool {
        #[cfg(feature = "hydrate")]
        {
            let Some(storage) = browser::storage() else {
                return false;
            };
            let Some(raw) = storage.get_item(&key(self.path)).ok().flatten() else {
                return false;
            };
            let _ = storage.remove_item(&key(self.path));
            let items = browser::decode(&raw);
            let Some((owner, pairs)) = items.split_first() else {
                return false;
            };
            if *owner != self.owner.get_value() {
                return false;
            }
            let fields = browser::fields(form);
            let mut filled = false;
            for pair in pairs.chunks_exact(2) {
                let name = Some(pair[0].as_str());
                if let Some(field) = fields
                    .iter()
                    .find(|f| f.get_attribute("name").as_deref() == name)
                {
                    browser::set_value(field, &pair[1]);
                    filled = true;
                }
            }
            filled
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = form;
            false
        }
    }

    /// Says that the fields were filled in again, once they were.
    pub fn notice(self) -> impl IntoView {
        move || {
            self.restored.get().then(|| {
                view! {
                    <p class="notice" role="status">
                        "You were logged out before your changes were saved. They are filled in \
                         again below: check them and save."
                    </p>
                }
            })
        }
    }
}

//! [hydrate] What the tabs of one browser share: a Web Lock under which refreshes run, a count
//! of finished refreshes in `localStorage` (how a tab waiting for the lock learns that another
//! tab has just refreshed), and a BroadcastChannel on which a logout is announced so that the
//! other tabs leave their protected pages at once.
//!
//! Each piece falls back when the browser lacks it: without Web Locks, tabs refresh on their
//! own (the server's grace window gives them all the same successor, so nobody is logged out);
//! without `localStorage`, the count is per tab; without BroadcastChannel, other tabs find out
//! at their next request.

use js_sys::{Function, Promise, Reflect};
use std::{cell::Cell, future::Future, rc::Rc};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

const LOCK_NAME: &str = "gatehouse-refresh";
const GENERATION_KEY: &str = "gatehouse-refresh-generation";
const CHANNEL_NAME: &str = "gatehouse-session";
const LOGGED_OUT: &str = "logged-out";
/// Set while this browser has a session (as far as its tabs know): only then is a page that
/// the server rendered logged out worth a refresh to find out (see `auth_context`).
const HAD_SESSION_KEY: &str = "gatehouse-had-session";

thread_local! {
    /// The count, when `localStorage` is unavailable (private modes, storage disabled).
    static LOCAL_GENERATION: Cell<u64> = const { Cell::new(0) };
    static CHANNEL: Option<BroadcastChannel> = BroadcastChannel::new(CHANNEL_NAME).ok();
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// How many refreshes the tabs of this browser have finished.
pub fn generation() -> u64 {
    storage()
        .and_then(|s| s.get_item(GENERATION_KEY).ok().flatten())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| LOCAL_GENERATION.with(Cell::get))
}

pub fn bump_generation() {
    let next = generation().wrapping_add(1);
    LOCAL_GENERATION.with(|g| g.set(next));
    if let Some(storage) = storage() {
        let _ = storage.set_item(GENERATION_KEY, &next.to_string());
    }
}

/// Remembers whether this browser has a session, for the next page it loads.
pub fn remember_session(has: bool) {
    if let Some(storage) = storage() {
        let _ = if has {
            storage.set_item(HAD_SESSION_KEY, "1")
        } else {
            storage.remove_item(HAD_SESSION_KEY)
        };
    }
}

/// Whether this browser had a session when it last knew.
pub fn had_session() -> bool {
    storage().is_some_and(|s| s.get_item(HAD_SESSION_KEY).ok().flatten().is_some())
}

/// Runs `work` holding the browser-wide refresh lock (`navigator.locks`), or directly where
/// there is no such API.
pub async fn with_refresh_lock<T, F>(work: F) -> T
where
    F: Future<Output = T> + 'static,
    T: 'static,
{
    let locks = web_sys::window()
        .map(|w| JsValue::from(w.navigator()))
        .and_then(|navigator| Reflect::get(&navigator, &"locks".into()).ok())
        .filter(|locks| locks.is_object());
    let request = locks
        .as_ref()
        .and_then(|locks| Reflect::get(locks, &"request".into()).ok())
        .and_then(|f| f.dyn_into::<Function>().ok());
    let (Some(locks), Some(request)) = (locks, request) else {
        return work.await;
    };
    // The lock is held until the promise the callback returns settles: that is, until `work`
    // is done. Its result comes back through a channel.
    let (sender, receiver) = futures::channel::oneshot::channel();
    let slot = Rc::new(Cell::new(Some((work, sender))));
    let in_lock = slot.clone();
    let callback = Closure::once_into_js(move |_lock: JsValue| -> Promise {
        let Some((work, sender)) = in_lock.take() else {
            return Promise::resolve(&JsValue::UNDEFINED);
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let _ = sender.send(work.await);
            Ok(JsValue::UNDEFINED)
        })
    });
    if request.call2(&locks, &LOCK_NAME.into(), &callback).is_err() {
        if let Some((work, _)) = slot.take() {
            return work.await;
        }
    }
    match receiver.await {
        Ok(value) => value,
        // The lock request was dropped without running the callback (the page is going away).
        Err(_) => futures::future::pending().await,
    }
}

/// Tells the other tabs that this browser has logged out.
pub fn announce_logout() {
    CHANNEL.with(|channel| {
        if let Some(channel) = channel {
            let _ = channel.post_message(&LOGGED_OUT.into());
        }
    });
}

/// Calls `on_logout` when another tab announces a logout, until the returned guard is dropped.
pub fn watch_logout(on_logout: impl Fn() + 'static) -> Option<LogoutWatch> {
    CHANNEL.with(|channel| {
        let channel = channel.as_ref()?;
        let handler = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
            if event.data().as_string().as_deref() == Some(LOGGED_OUT) {
                on_logout();
            }
        });
        channel
            .add_event_listener_with_callback("message", handler.as_ref().unchecked_ref())
            .ok()?;
        Some(LogoutWatch {
            channel: channel.clone(),
            handler,
        })
    })
}

/// A listener on the logout channel; removed when dropped.
pub struct LogoutWatch {
    channel: BroadcastChannel,
    handler: Closure<dyn Fn(MessageEvent)>,
}

impl Drop for LogoutWatch {
    fn drop(&mut self) {
        let _ = self
            .channel
            .remove_event_listener_with_callback("message", self.handler.as_ref().unchecked_ref());
    }
}

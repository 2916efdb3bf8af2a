//! Who is logged in, as this tab knows it: one context, provided by the app, that the nav and
//! the pages read. It starts from what the server found while rendering the page (carried to
//! the browser with it, so hydration changes nothing), and is then kept true by what this tab
//! learns: a login or registration, a protected page that loaded, a logout here ([`use_sign_out`])
//! or in another tab of this browser (the BroadcastChannel of `tabs`).
//!
//! One case needs a request of its own. The access cookie lasts as long as its token, so a
//! person back after its lifetime is rendered logged out by a server that cannot refresh (the
//! refresh cookie is sent to `/api/auth` only). On a page that does not deal with the session
//! itself (not a protected page, which refreshes on its first call, nor the login or register
//! page, where a refused refresh clearing the cookies could race the login), the browser then
//! refreshes once, quietly: a session that lives on shows in the header, and one that is gone
//! changes nothing. Only a browser that had a session when it last knew asks (a flag in
//! `localStorage`), so a visitor's page loads cost nothing.

#[cfg(feature = "hydrate")]
thread_local! {
    /// Whether the page being shown deals with the session itself (see [`page_handles_session`]).
    static PAGE_HANDLES_SESSION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Called by pages that deal with the session themselves (protected pages, login, register):
/// on those the browser does not check quietly whether a session outlived its access token.
pub fn page_handles_session() {
    #[cfg(feature = "hydrate")]
    PAGE_HANDLES_SESSION.with(|flag| flag.set(true));
}

use crate::{
    auth::{me, Logout},
    domain::{SignedOut, User},
};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthStatus {
    LoggedOut,
    /// Logged in; the account too, once this tab has loaded it (a page that lists sessions
    /// proves a login without naming whose).
    LoggedIn(Option<User>),
}

/// The auth context. `Copy`: it is two arena handles.
#[derive(Clone, Copy)]
pub struct Auth {
    /// What the server found while rendering the page.
    rendered: Resource<AuthStatus>,
    /// What this tab has learnt since, if anything.
    learnt: RwSignal<Option<AuthStatus>>,
}

impl Auth {
    /// Provides the context for the whole app; called once, by the app's root.
    pub fn provide() -> Self {
        let rendered = Resource::new(
            || (),
            |_| {
                let load = async {
                    // An expired access token reads as logged out here: the server cannot
                    // refresh while rendering, and a protected page cures it in the browser.
                    match me().await {
                        Ok(user) => AuthStatus::LoggedIn(Some(user)),
                        Err(_) => AuthStatus::LoggedOut,
                    }
                };
                // In the browser the call's future is not `Send`; it never leaves its thread.
                #[cfg(feature = "hydrate")]
                let load = send_wrapper::SendWrapper::new(load);
                load
            },
        );
        let auth = Self {
            rendered,
            learnt: RwSignal::new(None),
        };
        provide_context(auth);
        #[cfg(feature = "hydrate")]
        {
            let watch = super::tabs::watch_logout(move || auth.set(AuthStatus::LoggedOut));
            let watch = send_wrapper::SendWrapper::new(watch);
            on_cleanup(move || drop(watch));
            // Once, after the first render: the page has said by then whether it deals with
            // the session itself.
            Effect::new(move |checked: Option<bool>| {
                if checked == Some(true) {
                    return true;
                }
                let Some(rendered) = auth.rendered.get() else {
                    return false;
                };
                let logged_in = matches!(rendered, AuthStatus::LoggedIn(_));
                let untouched = auth.learnt.get_untracked().is_none();
                if logged_in {
                    super::tabs::remember_session(true);
                } else if untouched
                    && super::tabs::had_session()
                    && !PAGE_HANDLES_SESSION.with(std::cell::Cell::get)
                {
                    leptos::task::spawn_local(auth.check_quietly());
                }
                true
            });
        }
        auth
    }

    /// Refreshes once to find out whether the session outlived its access token.
    #[cfg(feature = "hydrate")]
    async fn check_quietly(self) {
        let outcome = super::refresh::refresh_quietly().await;
        // Whatever this tab learnt meanwhile (a login, a logout) is newer than this answer.
        if self.learnt.get_untracked().is_some() {
            return;
        }
        match outcome {
            Ok(()) => self.logged_in(None),
            Err(_) => super::tabs::remember_session(false),
        }
    }

    /// The app's auth context.
    pub fn get() -> Self {
        expect_context()
    }

    /// Who is logged in (reactive); `None` while the server's answer is still on its way.
    pub fn status(&self) -> Option<AuthStatus> {
        self.learnt.get().or_else(|| self.rendered.get())
    }

    /// [`Self::status`], read without subscribing to it.
    pub fn status_untracked(&self) -> Option<AuthStatus> {
        self.learnt
            .get_untracked()
            .or_else(|| self.rendered.get_untracked())
    }

    /// Someone is logged in: `user` when the caller knows the account, else whoever was known.
    pub fn logged_in(&self, user: Option<User>) {
        let known = match self.status_untracked() {
            Some(AuthStatus::LoggedIn(known)) => known,
            _ => None,
        };
        self.set(AuthStatus::LoggedIn(user.or(known)));
    }

    /// Records `status`, unless it is what the context already says (so that what reads it,
    /// the nav's links, is not rebuilt for nothing).
    fn set(&self, status: AuthStatus) {
        #[cfg(feature = "hydrate")]
        super::tabs::remember_session(matches!(status, AuthStatus::LoggedIn(_)));
        if self.status_untracked().as_ref() != Some(&status) {
            self.learnt.set(Some(status));
        }
    }
}

/// For a component whose action ends this tab's session (a logout, logging out everywhere,
/// deleting the account): what to call once it has, with why and the page to go to (which
/// says why). It tells the other tabs of this browser, marks this tab logged out, and goes.
pub fn use_sign_out() -> impl Fn(SignedOut, &'static str) + Clone + 'static {
    let auth = Auth::get();
    let navigate = use_navigate();
    move |why, page| {
        super::announce_logout();
        auth.set(AuthStatus::LoggedOut);
        navigate(&why.on(page), Default::default());
    }
}

/// A logout form's action, for wherever one is offered (the header's menu, the profile): once
/// it succeeds, this tab is signed out and goes to the login page, which says so.
pub fn logout_action() -> ServerAction<Logout> {
    let logout = ServerAction::<Logout>::new();
    let sign_out = use_sign_out();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            sign_out(SignedOut::Here, "/login");
        }
    });
    logout
}

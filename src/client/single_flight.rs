//! The rules of refreshing, whatever a refresh is: a call refused for its session leads to at
//! most one refresh and one retry; concurrent callers in a tab share a single in-flight refresh;
//! and across tabs, a refresh that another tab finished since the call began is not repeated
//! (see [`refresh_unless_done`]). The server's grace window makes a repeat harmless, but one
//! refresh for any number of tabs is the goal. Kept free of the browser so that these rules are
//! tested natively.

use crate::error::AppError;
use futures::future::{FutureExt, LocalBoxFuture, Shared};
use std::{
    cell::{Cell, RefCell},
    future::Future,
    rc::{Rc, Weak},
};

/// A refresh of the session, as the browser makes it.
pub type RefreshFuture = LocalBoxFuture<'static, Result<(), AppError>>;
type InFlight = Shared<RefreshFuture>;

/// One tab's session: how to refresh it, what to do when it is lost, and the refresh in flight.
pub struct TabSession<R, L, G> {
    /// Refreshes, unless some tab has refreshed since the generation it is given.
    refresh: R,
    session_lost: L,
    /// How many refreshes all tabs have finished: read when a call starts.
    generation: G,
    in_flight: RefCell<Option<InFlight>>,
    /// Refreshes finished so far, and how the last one went: a caller whose refusal predates
    /// the last refresh takes that refresh's outcome instead of starting another.
    finished: Cell<u64>,
    last_outcome: RefCell<Result<(), AppError>>,
}

impl<R, RF, L, G> TabSession<R, L, G>
where
    R: Fn(u64) -> RF + 'static,
    RF: Future<Output = Result<(), AppError>> + 'static,
    L: Fn(&AppError) + 'static,
    G: Fn() -> u64 + 'static,
{
    pub fn new(refresh: R, session_lost: L, generation: G) -> Rc<Self> {
        Rc::new(Self {
            refresh,
            session_lost,
            generation,
            in_flight: RefCell::new(None),
            finished: Cell::new(0),
            last_outcome: RefCell::new(Ok(())),
        })
    }

    /// Runs `call`; if its session is refused, refreshes (once, shared) and retries once. When
    /// the refresh or the retry is refused too, the session is lost.
    pub async fn call<T, F, Fut>(self: &Rc<Self>, call: F) -> Result<T, AppError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        let finished_before = self.finished.get();
        let seen = (self.generation)();
        match call().await {
            Err(e) if e.code.is_session_failure() => {
                let refreshed = if self.finished.get() == finished_before {
                    self.shared_refresh(seen).await
                } else {
                    self.last_outcome.borrow().clone()
                };
                if let Err(failed) = refreshed {
                    if failed.code.is_session_failure() {
                        (self.session_lost)(&failed);
                    }
                    return Err(failed);
                }
                let retried = call().await;
                if let Err(e) = &retried {
                    if e.code.is_session_failure() {
                        (self.session_lost)(e);
                    }
                }
                retried
            }
            other => other,
        }
    }

    /// Refreshes (joining a refresh in flight), retrying nothing, and never losing the session
    /// when it is refused: for finding out whether a session outlived its access token.
    pub async fn refresh(self: &Rc<Self>) -> Result<(), AppError> {
        self.shared_refresh((self.generation)()).await
    }

    /// Joins the refresh in flight, or starts one for a call that began at generation `seen`.
    fn shared_refresh(self: &Rc<Self>, seen: u64) -> InFlight {
        let mut slot = self.in_flight.borrow_mut();
        slot.get_or_insert_with(|| {
            // Weak: a refresh abandoned by every caller must not keep the session alive.
            let tab: Weak<Self> = Rc::downgrade(self);
            let refresh = (self.refresh)(seen);
            async move {
                let outcome = refresh.await;
                if let Some(tab) = tab.upgrade() {
                    tab.finished.set(tab.finished.get() + 1);
                    *tab.last_outcome.borrow_mut() = outcome.clone();
                    tab.in_flight.borrow_mut().take();
                }
                outcome
            }
            .boxed_local()
            .shared()
        })
        .clone()
    }
}

/// The cross-tab rule, run while holding a lock that all tabs share: a call that began at
/// generation `seen` refreshes only if no tab has finished a refresh since; otherwise the
/// cookies already hold a fresh pair and a retry is all it needs. A successful refresh moves
/// the generation on (`bump`), which is how the tabs waiting for the lock learn of it.
pub async fn refresh_unless_done<Fut>(
    seen: u64,
    generation: impl Fn() -> u64,
    bump: impl Fn(),
    refresh: impl FnOnce() -> Fut,
) -> Result<(), AppError>
where
    Fut: Future<Output = Result<(), AppError>>,
{
    if generation() != seen {
        return Ok(());
    }
    let outcome = refresh().await;
    if outcome.is_ok() {
        bump();
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use futures::{executor::block_on, future::join_all};
    use std::{
        pin::Pin,
        task::{Context, Poll},
    };

    /// Gives other futures a turn, as a network round trip would.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    async fn turns(n: usize) {
        for _ in 0..n {
            YieldOnce(false).await;
        }
    }

    /// How long a refresh takes, in turns: every caller below starts within it.
    const REFRESH_TURNS: usize = 5;
    /// How long a slow call takes: longer than a refresh.
    const SLOW: usize = 4 * REFRESH_TURNS;

    fn expired() -> AppError {
        AppError::new(ErrorCode::TokenExpired, "expired")
    }

    type Tab =
        TabSession<Box<dyn Fn(u64) -> RefreshFuture>, Box<dyn Fn(&AppError)>, Box<dyn Fn() -> u64>>;

    /// What the tabs of one browser share: the Web Lock and the refresh generation.
    #[derive(Clone, Default)]
    struct Browser {
        lock: Rc<futures::lock::Mutex<()>>,
        generation: Rc<Cell<u64>>,
    }

    /// A server whose access token is expired until a refresh succeeds, counting refreshes
    /// and lost sessions.
    #[derive(Clone, Default)]
    struct FakeServer {
        valid: Rc<Cell<bool>>,
        refreshes: Rc<Cell<u32>>,
        lost: Rc<Cell<u32>>,
        refresh_fails_with: Option<ErrorCode>,
    }

    impl FakeServer {
        /// A server whose refresh endpoint answers `code`.
        fn refusing_refresh(code: ErrorCode) -> Self {
            Self {
                refresh_fails_with: Some(code),
                ..Self::default()
            }
        }

        /// The server's refresh endpoint.
        fn refresh(&self) -> RefreshFuture {
            let server = self.clone();
            async move {
                turns(REFRESH_TURNS).await;
                server.refreshes.set(server.refreshes.get() + 1);
                match server.refresh_fails_with {
                    Some(code) => Err(AppError::new(code, "refresh refused")),
                    None => {
                        server.valid.set(true);
                        Ok(())
                    }
                }
            }
            .boxed_local()
        }

        /// A tab that refreshes on its own (no other tabs).
        fn tab(&self) -> Rc<Tab> {
            let server = self.clone();
            let lost = self.lost.clone();
            TabSession::new(
                Box::new(move |_| server.refresh()),
                Box::new(move |_| lost.set(lost.get() + 1)),
                Box::new(|| 0),
            )
        }

        /// A tab of a browser whose tabs share `browser`'s lock and refresh generation.
        fn tab_in(&self, browser: &Browser) -> Rc<Tab> {
            let server = self.clone();
            let lost = self.lost.clone();
            let shared = browser.clone();
            let generation = browser.generation.clone();
            TabSession::new(
                Box::new(move |seen| {
                    let server = server.clone();
                    let browser = shared.clone();
                    async move {
                        let _held = browser.lock.lock().await;
                        let generation = &browser.generation;
                        refresh_unless_done(
                            seen,
                            || generation.get(),
                            || generation.set(generation.get() + 1),
                            || server.refresh(),
                        )
                        .await
                    }
                    .boxed_local()
                }),
                Box::new(move |_| lost.set(lost.get() + 1)),
                Box::new(move || generation.get()),
            )
        }

        /// A protected call that answers after `delay` turns, as the server saw it at the start.
        async fn me(&self, delay: usize) -> Result<&'static str, AppError> {
            let valid = self.valid.get();
            turns(delay).await;
            if valid {
                Ok("me")
            } else {
                Err(expired())
            }
        }
    }

    #[test]
    fn concurrent_callers_refused_for_their_session_share_one_refresh_and_all_succeed() {
        let server = FakeServer::default();
        let tab = server.tab();
        let results = block_on(join_all((0..5).map(|_| tab.call(|| server.me(0)))));
        assert!(results.iter().all(|r| r.as_ref().is_ok_and(|v| *v == "me")));
        assert_eq!(server.refreshes.get(), 1);
        assert_eq!(server.lost.get(), 0);
    }

    #[test]
    fn a_caller_whose_401_predates_a_finished_refresh_retries_without_refreshing_again() {
        let server = FakeServer::default();
        let tab = server.tab();
        // The slow call was sent with the old token and is refused after the fast call's
        // refresh has already finished.
        let (fast, slow) = block_on(futures::future::join(
            tab.call(|| server.me(0)),
            tab.call(|| server.me(SLOW)),
        ));
        assert!(fast.is_ok() && slow.is_ok());
        assert_eq!(server.refreshes.get(), 1);
    }

    #[test]
    fn a_caller_whose_401_predates_a_refused_refresh_gets_its_error_without_refreshing_again() {
        let server = FakeServer::refusing_refresh(ErrorCode::TokenRevoked);
        let tab = server.tab();
        let (fast, slow) = block_on(futures::future::join(
            tab.call(|| server.me(0)),
            tab.call(|| server.me(SLOW)),
        ));
        assert_eq!(fast.unwrap_err().code, ErrorCode::TokenRevoked);
        assert_eq!(slow.unwrap_err().code, ErrorCode::TokenRevoked);
        assert_eq!(server.refreshes.get(), 1);
        assert_eq!(server.lost.get(), 2);
    }

    #[test]
    fn a_refused_refresh_loses_the_session_and_returns_its_error() {
        let server = FakeServer::refusing_refresh(ErrorCode::TokenReused);
        let tab = server.tab();
        let results = block_on(join_all((0..3).map(|_| tab.call(|| server.me(0)))));
        for result in results {
            assert_eq!(result.unwrap_err().code, ErrorCode::TokenReused);
        }
        assert_eq!(server.refreshes.get(), 1);
        assert_eq!(server.lost.get(), 3, "each caller is told");
    }

    #[test]
    fn a_retry_still_refused_loses_the_session_without_a_second_refresh() {
        let server = FakeServer::default();
        let tab = server.tab();
        let always_expired = || async { Err::<(), _>(expired()) };
        let result = block_on(tab.call(always_expired));
        assert_eq!(result.unwrap_err().code, ErrorCode::TokenExpired);
        assert_eq!(server.refreshes.get(), 1);
        assert_eq!(server.lost.get(), 1);
    }

    #[test]
    fn an_error_that_is_not_about_the_session_is_returned_without_refreshing() {
        let server = FakeServer::default();
        let tab = server.tab();
        let conflict = || async { Err::<(), _>(AppError::new(ErrorCode::Conflict, "taken")) };
        let result = block_on(tab.call(conflict));
        assert_eq!(result.unwrap_err().code, ErrorCode::Conflict);
        assert_eq!(server.refreshes.get(), 0);
        assert_eq!(server.lost.get(), 0);
    }

    #[test]
    fn several_tabs_whose_calls_are_refused_together_make_one_refresh_in_total() {
        let server = FakeServer::default();
        let browser = Browser::default();
        let tabs: Vec<Rc<Tab>> = (0..3).map(|_| server.tab_in(&browser)).collect();
        let results = block_on(join_all(tabs.iter().map(|tab| tab.call(|| server.me(0)))));
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(server.refreshes.get(), 1);
        assert_eq!(browser.generation.get(), 1);
    }

    #[test]
    fn a_tab_refreshes_again_when_its_call_began_after_the_last_refresh() {
        let server = FakeServer::default();
        let browser = Browser::default();
        let tab = server.tab_in(&browser);
        assert!(block_on(tab.call(|| server.me(0))).is_ok());
        // The access token expires again: the next refused call needs a refresh of its own.
        server.valid.set(false);
        assert!(block_on(tab.call(|| server.me(0))).is_ok());
        assert_eq!(server.refreshes.get(), 2);
    }

    #[test]
    fn a_failed_refresh_does_not_move_the_generation() {
        let browser = Browser::default();
        let generation = &browser.generation;
        let outcome = block_on(refresh_unless_done(
            0,
            || generation.get(),
            || generation.set(generation.get() + 1),
            || async { Err(expired()) },
        ));
        assert!(outcome.is_err());
        assert_eq!(generation.get(), 0);
    }

    #[test]
    fn a_refused_quiet_refresh_returns_its_error_without_losing_the_session() {
        let server = FakeServer::refusing_refresh(ErrorCode::Unauthenticated);
        let tab = server.tab();
        let outcome = block_on(tab.refresh());
        assert_eq!(outcome.unwrap_err().code, ErrorCode::Unauthenticated);
        assert_eq!(server.refreshes.get(), 1);
        assert_eq!(server.lost.get(), 0);
    }
}

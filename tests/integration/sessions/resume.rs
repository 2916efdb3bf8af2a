//! A full page load of a page that needs a login, without a live access token: the detour
//! through `GET /api/auth/resume`, which refreshes where the refresh cookie is sent and comes
//! back to the page, so the first page the browser shows has the person's data (issue 12,
//! item 8). And the ways it can go wrong: no session, an ended one, another site's link, a
//! `next` that points away, many tabs at once.

use super::*;
use reqwest::header::LOCATION;

/// Where an answer sends the browser (a 303 See Other).
fn location(response: &reqwest::Response) -> &str {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{response:?}");
    response.headers()[LOCATION].to_str().unwrap()
}

fn without_access(jar: &Jar) -> Jar {
    let mut jar = jar.clone();
    jar.0.remove(support::ACCESS);
    jar
}

/// Follows a detour as a browser would: the page, resume, the page again. Returns the final
/// page's HTML and the jar after it.
async fn load_page(app: &TestApp, path: &str, jar: &Jar) -> (String, Jar) {
    let detour = app.get(path, jar).await;
    let resume = location(&detour).to_owned();
    let encoded = path.replace('?', "%3F").replace('=', "%3D");
    assert_eq!(
        resume,
        format!("/api/auth/resume?next={encoded}"),
        "the page sends the load through resume"
    );
    let back = app.get(&resume, jar).await;
    assert_eq!(location(&back), path, "resume comes back to the page");
    let mut jar = jar.clone();
    jar.absorb(&back);
    let page = app.get(path, &jar).await;
    assert_eq!(page.status(), StatusCode::OK);
    (page.text().await.unwrap(), jar)
}

#[tokio::test]
async fn a_page_load_whose_access_cookie_has_gone_comes_back_through_resume_with_its_data() {
    support::log::watch();
    let app = spawn_app().await;
    let jar = app.register("comeback").await;
    let (html, after) = load_page(&app, "/profile", &without_access(&jar)).await;
    assert!(html.contains("comeback@example.org"), "the profile itself");
    assert!(!html.contains("Checking your session"));
    assert_ne!(
        after.get(support::REFRESH),
        jar.get(support::REFRESH),
        "rotated"
    );
    assert_eq!(sessions_of(&app, &after).await.len(), 1, "the same session");

    // The query comes along, encoded on the way and decoded on the way back.
    let (html, _) = load_page(&app, "/sessions?from=mail", &without_access(&after)).await;
    assert!(html.contains(r#"data-testid="session""#), "the device list");
    support::log::assert_no_server_errors();
}

#[tokio::test]
async fn a_page_load_with_an_expired_access_token_takes_the_detour_too() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_EXPIRY", "1s")]).await;
    let jar = app.register("lapsed").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (html, _) = load_page(&app, "/profile", &jar).await;
    assert!(html.contains("lapsed@example.org"));
}

#[tokio::test]
async fn a_page_load_with_a_live_access_token_is_answered_at_once() {
    let app = spawn_app().await;
    let jar = app.register("live").await;
    for page in ["/profile", "/sessions"] {
        let answer = app.get(page, &jar).await;
        let status = answer.status();
        let head = format!("{:?}", answer.headers());
        assert_eq!(status, StatusCode::OK, "{page}: {head}");
    }
    // Pages that need no login never detour, with or without a session.
    for page in ["/", "/login", "/register"] {
        let answer = app.get(page, &Jar::default()).await;
        assert_eq!(answer.status(), StatusCode::OK, "{page}");
    }
}

#[tokio::test]
async fn resume_without_a_session_goes_to_login_and_back_to_the_page_after_it() {
    let app = spawn_app().await;
    let detour = app.get("/sessions", &Jar::default()).await;
    assert_eq!(
        detour.headers()["cache-control"],
        "no-store",
        "a redirect per person"
    );
    let resume = location(&detour).to_owned();
    let answer = app.get(&resume, &Jar::default()).await;
    assert_eq!(location(&answer), "/login?next=/sessions");
    assert_eq!(answer.headers()["cache-control"], "no-store");
}

/// A browser that leaves out the `Strict` cookie on another site's link without saying so
/// (no `Sec-Fetch-*`: Safari before 16.4) lands on login, but a link never logs it out: with
/// no refresh cookie presented, no cookie is cleared, so its live access cookie still works.
#[tokio::test]
async fn a_link_to_resume_without_the_refresh_cookie_clears_nothing() {
    let app = spawn_app().await;
    let jar = app.register("oldsafari").await;
    let mut access_only = jar.clone();
    access_only.0.remove(support::REFRESH);
    let answer = app
        .get("/api/auth/resume?next=/profile", &access_only)
        .await;
    assert_eq!(location(&answer), "/login?next=/profile");
    assert!(support::set_cookies(&answer).is_empty(), "nothing cleared");
    assert_eq!(app.get("/profile", &jar).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_query_too_long_to_carry_is_dropped_and_the_page_still_detours() {
    let app = spawn_app().await;
    let jar = without_access(&app.register("longquery").await);
    let long = format!("/profile?x={}", "a".repeat(3000));
    let detour = app.get(&long, &jar).await;
    assert_eq!(location(&detour), "/api/auth/resume?next=/profile");
}

#[tokio::test]
async fn resume_of_a_session_ended_elsewhere_goes_to_login_saying_so_and_clears_its_cookies() {
    let app = spawn_app().await;
    let ended = app.register("ended").await;
    let other = login_from(&app, "ended", "other device").await;
    let all = app.post("/api/auth/logout_all", &[], &other).await;
    assert_eq!(all.status(), StatusCode::OK);

    // The access token is still within its lifetime, but its session has ended.
    let detour = app.get("/profile", &ended).await;
    let answer = app.get(location(&detour), &ended).await;
    assert_eq!(
        location(&answer),
        "/login?next=/profile&signed_out=elsewhere"
    );
    for name in [support::ACCESS, support::REFRESH] {
        assert!(
            set_cookie_line(&answer, name).contains("Max-Age=0"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn resume_never_sends_the_browser_off_the_site() {
    let app = spawn_app().await;
    let jar = app.register("homebody").await;
    let mut jar = without_access(&jar);
    for away in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "%2F%2Fevil.example",
        "/login",
        // Endpoints are no pages: a redirect there would be this site's own request.
        "/api/auth/sessions",
        "/api/auth/resume%3Fnext%3D/api/auth/resume",
        "/pkg/gatehouse.wasm",
    ] {
        let answer = app
            .get(&format!("/api/auth/resume?next={away}"), &jar)
            .await;
        assert_eq!(location(&answer), "/profile", "{away}");
        jar.absorb(&answer);
        let answer = app
            .get(&format!("/api/auth/resume?next={away}"), &Jar::default())
            .await;
        assert_eq!(location(&answer), "/login?next=/profile", "{away}");
    }
}

#[tokio::test]
async fn a_link_from_another_site_without_the_strict_cookie_gets_one_same_site_step_not_login() {
    let app = spawn_app().await;
    let navigation = |site: &'static str, dest: &'static str| {
        let app = &app;
        async move {
            app.http
                .get(app.url("/api/auth/resume?next=/sessions%3Fa%3D%22%3E"))
                .header("sec-fetch-site", site)
                .header("sec-fetch-dest", dest)
                .header("sec-fetch-mode", "navigate")
                .send()
                .await
                .unwrap()
        }
    };
    // The browser left the cookie out: an empty page that goes to the same address at once,
    // a navigation of this site's own (with the `next` still encoded, so nothing is injected).
    // Header values are compared as the browser may spell them.
    assert_eq!(
        navigation("Cross-Site", "Document").await.status(),
        StatusCode::OK
    );
    let step = navigation("cross-site", "document").await;
    assert_eq!(step.status(), StatusCode::OK);
    let policy = step.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let html = step.text().await.unwrap();
    assert!(
        html.contains(
            r#"<meta http-equiv="refresh" content="0; url=/api/auth/resume?next=/sessions%3Fa%3D%22%3E">"#
        ),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");

    // That step, same-origin, or anything but a page load from elsewhere: no cookie means login.
    for (site, dest) in [
        ("same-origin", "document"),
        ("none", "document"),
        ("cross-site", "iframe"),
        ("cross-site", "image"),
    ] {
        let answer = navigation(site, dest).await;
        assert_eq!(
            location(&answer),
            "/login?next=/sessions%3Fa%3D%22%3E",
            "{site} {dest}"
        );
    }
}

/// A browser restoring several tabs of pages that need a login: every load detours with the
/// same refresh token at once, from several addresses (a phone changing networks). Each comes
/// back to its page with the one successor (the grace window), in one session, and no answer
/// is a 5xx.
#[test]
fn twelve_tabs_resuming_at_once_all_come_back_to_their_pages_in_one_session() {
    support::log::runtime(4).block_on(async {
        support::log::watch();
        let app = spawn_app().await;
        let jar = without_access(&app.register("restorer").await);
        let answers = join_all((0..12u8).map(|i| {
            let visitor = app.visitor_from(1 + i % 3);
            let jar = jar.clone();
            let page = if i % 2 == 0 { "/profile" } else { "/sessions" };
            async move {
                let answer = visitor
                    .get(&format!("/api/auth/resume?next={page}"), &jar)
                    .await;
                (page, answer)
            }
        }))
        .await;
        let mut successors = Vec::new();
        for (page, answer) in &answers {
            assert_eq!(location(answer), *page);
            let mut next = jar.clone();
            next.absorb(answer);
            successors.push(next.get(support::REFRESH).unwrap().to_owned());
        }
        successors.dedup();
        assert_eq!(successors.len(), 1, "one successor for all twelve");
        let mut next = jar.clone();
        next.absorb(&answers[0].1);
        assert_eq!(sessions_of(&app, &next).await.len(), 1);
        support::log::assert_no_server_errors();
    });
}

#[tokio::test]
async fn the_login_and_register_pages_send_someone_logged_in_on_before_rendering() {
    let app = spawn_app().await;
    let jar = app.register("already").await;
    for (page, to) in [
        ("/login?next=%2Fsessions", "/sessions"),
        ("/login", "/profile"),
        ("/register?next=/sessions%3Fx%3D1", "/sessions?x=1"),
        ("/login?next=//evil.example", "/profile"),
        ("/login?next=https://evil.example/", "/profile"),
    ] {
        assert_eq!(location(&app.get(page, &jar).await), to, "{page}");
    }
    // Logged out, or with an access token of an ended session: the form itself.
    let logout = app.post("/api/auth/logout", &[], &jar).await;
    assert_eq!(logout.status(), StatusCode::OK);
    for jar in [&jar, &Jar::default()] {
        for page in ["/login", "/register"] {
            let answer = app.get(page, jar).await;
            let status = answer.status();
            let head = format!("{:?}", answer.headers());
            assert_eq!(status, StatusCode::OK, "{page}: {head}");
        }
    }
}

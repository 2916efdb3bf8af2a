//! Pages render whatever else the process is doing. Building a router walks the app once with
//! resource loading switched off, and leptos switches it off for the whole process: a page whose
//! resources first ran in that window waited forever (leptos issue #4773). The test suite builds
//! many routers in one process; a page of another test hung until `REQUEST_TIMEOUT`, once in CI.

use crate::support::{app_state, spawn_app_with};
use reqwest::StatusCode;
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

#[tokio::test]
async fn pages_render_while_other_apps_in_the_process_build_their_routers() {
    let app = spawn_app_with(&[("REQUEST_TIMEOUT", "3s")]).await;
    let jar = app.register("steady").await;
    let done = Arc::new(AtomicBool::new(false));
    // Other apps building their routers, on threads of their own, as other tests' apps do.
    let builders: Vec<_> = (0..2)
        .map(|_| {
            let done = done.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let dir = tempfile::tempdir().unwrap();
                let unused = "127.0.0.1:9".parse().unwrap();
                let state = runtime.block_on(app_state(dir.path(), &[], unused));
                let _inside = runtime.enter();
                let mut built = 0;
                while !done.load(Ordering::Relaxed) {
                    drop(gatehouse::server::router(state.clone()));
                    built += 1;
                }
                built
            })
        })
        .collect();
    let mut pages = 0;
    let mut stuck = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < until {
        let loads = ["/profile", "/sessions", "/activity", "/"].map(|path| {
            let (app, jar) = (&app, &jar);
            async move { (path, app.get(path, jar).await.status()) }
        });
        for (path, status) in futures::future::join_all(loads).await {
            pages += 1;
            if status != StatusCode::OK {
                stuck.push(format!("{path}: {status}"));
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    let built: usize = builders.into_iter().map(|b| b.join().unwrap()).sum();
    assert!(built > 0 && pages > 0, "{built} apps built, {pages} pages");
    assert!(
        stuck.is_empty(),
        "of {pages} pages while {built} apps started: {stuck:?}"
    );
}

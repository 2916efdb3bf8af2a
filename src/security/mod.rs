//! [ssr] Defences at the HTTP boundary, each in its own file: what the browser is told it may
//! do (`headers`), which POSTs are refused as cross-site (`origin`).

pub mod headers;
pub mod origin;

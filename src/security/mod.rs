//! [ssr] Defences at the HTTP boundary, each in its own file: what the browser is told it may
//! do (`headers`), which POSTs are refused as cross-site (`origin`), who the client is
//! (`client_ip`) and how many attempts it may make (`limits`).

pub mod client_ip;
pub mod headers;
pub mod limits;
pub mod origin;

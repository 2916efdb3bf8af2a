//! Operating the service: the audit trail and what its owner sees of it.

mod disable;
mod events;

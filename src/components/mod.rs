//! View pieces the pages share.

mod form;
mod not_loaded;

pub use form::{Field, FormError};
pub use not_loaded::NotLoaded;

//! View pieces the pages share.

mod form;

pub use form::{Field, FormError};

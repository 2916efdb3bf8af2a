//! View pieces the pages share.

mod form;
mod not_loaded;
mod signed_out_notice;
mod when;

pub use form::{Field, FormError, SubmitButton};
pub use not_loaded::NotLoaded;
pub use signed_out_notice::SignedOutNotice;
pub use when::When;

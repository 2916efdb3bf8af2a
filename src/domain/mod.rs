//! Validated input and the public user type, shared by the browser and the server so that both
//! apply exactly the same rules.

mod factors;
mod input;
mod next_path;
mod session;
mod signed_out;
mod user;

pub use factors::{FactorStatus, PasskeyInfo, SecondStepOptions, TotpEnrolment};
pub use input::{Email, FullName, LoginName, PasskeyName, Password, TypedPassword, Username};
pub use next_path::NextPath;
pub use session::{ago, calendar_date, unix_seconds, ActivityEntry, SessionInfo};
#[cfg(feature = "ssr")]
pub use session::{describe_user_agent, recognised_device};
pub use signed_out::SignedOut;
pub use user::User;

//! [ssr] What each instance keeps in memory so the hot paths need no query: the sessions ended
//! within one access lifetime (their access tokens are refused at once), the accounts `/me`
//! answers with, and the follower that keeps both in step with changes other instances make.

pub mod follow;
pub mod revoked;
pub mod user_cache;

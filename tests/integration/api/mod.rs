//! Every row of the contract's endpoint table, against the real server: success and each
//! failure, the cookies' attributes, rotation, logout and restart persistence.

mod login;
mod pages;
mod register;
mod tokens;

use crate::support;

use reqwest::{header, StatusCode};

use serde_json::Value;

use support::*;

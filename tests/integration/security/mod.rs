//! Abuse resistance, against the real server. Each test names the requirement it meets: OWASP
//! ASVS 4.0.3 ids, or RFC 8725 (JWT best current practice) sections.

mod forged;
mod found_in_release;
mod guessing;
mod headers;

use crate::support;

use reqwest::{header, StatusCode};

use support::{assert_error, spawn_app, spawn_app_with, Jar, PASSWORD};

//! A session as its owner sees it in the list, and a readable name for the device behind it.

use serde::{Deserialize, Serialize};

/// One entry of `GET /api/auth/sessions`. Times are RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
    pub user_agent: String,
    /// The device in words ("Firefox on Linux"), from `user_agent`: named by the server, so
    /// that every client says the same and the browser carries no table of agents.
    pub device: String,
    pub ip: String,
    /// How it signed in: `password`, `password_totp`, `password_recovery_code` or `passkey`.
    pub method: String,
    /// The same in words ("Password and authenticator code").
    pub signed_in_with: String,
    /// The session this request was made in.
    pub current: bool,
}

/// One entry of `GET /api/auth/activity`, newest first. Worded by the server, like `device`, so
/// that the browser carries no table of events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityEntry {
    /// The event's stable name (`logged_in`, `login_failed`, …).
    pub kind: String,
    /// What happened, in words.
    pub what: String,
    /// When, RFC 3339.
    pub at: String,
    /// The device of the request that did it, in words; empty when unknown (an administrator).
    pub device: String,
    /// Its address; empty when unknown.
    pub ip: String,
    /// Worth a look: a wrong password, a lock, a reused token, an administrator's action.
    pub notable: bool,
}

/// Seconds since the Unix epoch of a time as the server writes them, RFC 3339 in UTC
/// (`2026-11-24T15:43:18Z`); `None` for anything else.
pub fn unix_seconds(rfc3339: &str) -> Option<i64> {
    let part = |from: usize, to: usize| rfc3339.get(from..to)?.parse::<i64>().ok();
    let (year, month, day) = (part(0, 4)?, part(5, 7)?, part(8, 10)?);
    let seconds = part(11, 13)? * 3600 + part(14, 16)? * 60 + part(17, 19)?;
    // Days since 1970-01-01 of a proleptic Gregorian date, counted in 400-year eras from
    // 0000-03-01 (so that the leap day ends its year): H. Hinnant's `days_from_civil`.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146_097 + day_of_era - 719_468) * 86_400 + seconds)
}

/// When `then` was, seen at `now` (both Unix seconds), as a person says it: "just now",
/// "5 minutes ago", "3 hours ago", "yesterday", "4 days ago"; past a week, the date
/// ("on 24 Nov 2026", in UTC, which the page's tooltip says in full).
pub fn ago(then: i64, now: i64, rfc3339: &str) -> String {
    let seconds = (now - then).max(0);
    let count = |n: i64, unit: &str| format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" });
    match seconds {
        0..60 => "just now".to_owned(),
        60..3_600 => count(seconds / 60, "minute"),
        3_600..86_400 => count(seconds / 3_600, "hour"),
        86_400..172_800 => "yesterday".to_owned(),
        172_800..604_800 => count(seconds / 86_400, "day"),
        _ => format!("on {}", calendar_date(rfc3339)),
    }
}

/// `2026-11-24…` as `24 Nov 2026`.
pub fn calendar_date(rfc3339: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = rfc3339
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.checked_sub(1)?));
    match (rfc3339.get(0..4), month, rfc3339.get(8..10)) {
        (Some(year), Some(month), Some(day)) => {
            format!("{} {month} {year}", day.trim_start_matches('0'))
        }
        _ => rfc3339.to_owned(),
    }
}

/// A short, readable name for a user agent: browser and system, as far as they can be told.
/// Server only: the client reads it in [`SessionInfo::device`]. An agent we cannot name is
/// shown as sent (its first 40 characters), to the session's owner.
#[cfg(any(feature = "ssr", test))]
pub fn describe_user_agent(agent: &str) -> String {
    match recognised_device(agent) {
        Some(words) => words,
        None if agent.trim().is_empty() => "Unknown device".to_owned(),
        None => agent.chars().take(40).collect(),
    }
}

/// The device in our own words only, for mail: `None` when neither browser nor system is
/// recognised. The sessions page may show an unknown agent as sent, to its owner; a mail goes
/// to anyone's address on a stranger's request, and must not carry the stranger's text. Order
/// matters: Edge and Opera also say "Chrome", Chrome also says "Safari", Android also says
/// "Linux".
#[cfg(any(feature = "ssr", test))]
pub fn recognised_device(agent: &str) -> Option<String> {
    const BROWSERS: [(&str, &str); 9] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("python-requests/", "Python requests"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(marker, _)| agent.contains(marker))
            .map(|(_, name)| *name)
    };
    match (find(&BROWSERS), find(&SYSTEMS)) {
        (Some(browser), Some(system)) => Some(format!("{browser} on {system}")),
        (Some(browser), None) => Some(browser.to_owned()),
        (None, Some(system)) => Some(format!("A browser on {system}")),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{ago, calendar_date, describe_user_agent, unix_seconds};

    #[test]
    fn times_read_back_as_the_seconds_of_the_epoch() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(unix_seconds("2024-02-29T12:34:56Z"), Some(1_709_210_096));
        assert_eq!(unix_seconds("2026-12-01T06:36:00Z"), Some(1_796_106_960));
        assert_eq!(unix_seconds("yesterday"), None);
        assert_eq!(unix_seconds(""), None);
    }

    #[test]
    fn a_time_reads_as_how_long_ago_it_was_and_past_a_week_as_its_date() {
        let at = "2026-11-24T15:43:18Z";
        let then = unix_seconds(at).unwrap();
        let cases = [
            (0, "just now"),
            (59, "just now"),
            (60, "1 minute ago"),
            (5 * 60 + 30, "5 minutes ago"),
            (3_600, "1 hour ago"),
            (23 * 3_600, "23 hours ago"),
            (30 * 3_600, "yesterday"),
            (3 * 86_400, "3 days ago"),
            (8 * 86_400, "on 24 Nov 2026"),
            // A clock behind the server's: not "in the future".
            (-90, "just now"),
        ];
        for (later, expected) in cases {
            assert_eq!(ago(then, then + later, at), expected, "{later}");
        }
        assert_eq!(calendar_date("2026-01-05T00:00:00Z"), "5 Jan 2026");
        assert_eq!(calendar_date("2026-13-05"), "2026-13-05");
    }

    #[test]
    fn common_browsers_are_named_with_their_system() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Linux"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"),
            ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36", "Headless Chrome on Linux"),
            ("curl/8.5.0", "curl"),
        ];
        for (agent, expected) in cases {
            assert_eq!(describe_user_agent(agent), expected, "{agent}");
        }
    }

    #[test]
    fn an_empty_agent_is_an_unknown_device_and_an_odd_one_is_shown_shortened() {
        assert_eq!(describe_user_agent(""), "Unknown device");
        assert_eq!(describe_user_agent(&"x".repeat(100)).len(), 40);
    }
}

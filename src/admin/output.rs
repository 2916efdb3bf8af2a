//! [ssr] What the command line prints: aligned columns for people, or one JSON document for
//! scripts (`--json`). Never a password hash: nothing here reads one.

use crate::store::{EventRecord, SessionRecord, SigningKeyRecord, UserRecord};
use serde_json::{json, Value};
use std::io::Write;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn users(&self, users: &[UserRecord]) -> std::io::Result<()> {
        if self.json {
            return print_json(&Value::Array(users.iter().map(user_json).collect()));
        }
        let rows = users.iter().map(|u| {
            vec![
                u.id.clone(),
                u.username.clone(),
                u.email.clone(),
                yes_no(u.email_verified_at.is_some()),
                u.disabled_at.map_or_else(String::new, unix),
                rfc3339(u.created_at),
            ]
        });
        table(
            &["ID", "USERNAME", "EMAIL", "VERIFIED", "DISABLED", "CREATED"],
            rows,
        )
    }

    pub fn user(&self, user: &UserRecord, sessions: &[SessionRecord]) -> std::io::Result<()> {
        if self.json {
            let mut value = user_json(user);
            value["sessions"] = Value::Array(sessions.iter().map(session_json).collect());
            return print_json(&value);
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "id         {}", user.id)?;
        writeln!(out, "username   {}", user.username)?;
        writeln!(out, "full name  {}", user.full_name)?;
        writeln!(out, "email      {} ({})", user.email,
            if user.email_verified_at.is_some() { "verified" } else { "not verified" })?;
        writeln!(out, "created    {}", rfc3339(user.created_at))?;
        let disabled = user.disabled_at.map_or_else(|| "no".to_owned(), |at| format!("since {}", unix(at)));
        writeln!(out, "disabled   {disabled}")?;
        writeln!(out, "sessions   {} live", sessions.len())?;
        drop(out);
        if !sessions.is_empty() {
            println!();
            self.sessions(sessions)?;
        }
        Ok(())
    }

    pub fn sessions(&self, sessions: &[SessionRecord]) -> std::io::Result<()> {
        if self.json {
            return print_json(&Value::Array(sessions.iter().map(session_json).collect()));
        }
        let rows = sessions.iter().map(|s| {
            vec![
                s.id.clone(),
                crate::domain::describe_user_agent(&s.user_agent),
                s.ip.clone(),
                rfc3339(s.created_at),
                rfc3339(s.last_used_at),
                rfc3339(s.expires_at),
            ]
        });
        table(
            &["ID", "DEVICE", "ADDRESS", "LOGGED IN", "LAST USED", "LAPSES"],
            rows,
        )
    }

    pub fn events(&self, events: &[EventRecord]) -> std::io::Result<()> {
        if self.json {
            let all = events.iter().map(|e| {
                json!({
                    "at": unix(e.at),
                    "kind": e.kind,
                    "actor": e.actor,
                    "ip": e.ip,
                    "device": e.device,
                    "session_id": e.session_id,
                })
            });
            return print_json(&Value::Array(all.collect()));
        }
        let rows = events.iter().map(|e| {
            vec![
                unix(e.at),
                e.kind.clone(),
                e.actor.clone(),
                e.ip.clone().unwrap_or_default(),
                e.device
                    .as_deref()
                    .map(crate::domain::describe_user_agent)
                    .unwrap_or_default(),
                e.session_id.clone().unwrap_or_default(),
            ]
        });
        table(&["AT", "KIND", "BY", "ADDRESS", "DEVICE", "SESSION"], rows)
    }

    /// The signing keys, newest first, as the database lists them (none: only the original).
    pub fn keys(&self, keys: &[SigningKeyRecord]) -> std::io::Result<()> {
        let original = [SigningKeyRecord {
            kid: crate::credentials::key_ring::ORIGINAL.to_owned(),
            created_at: 0,
            retired_at: None,
        }];
        let keys = if keys.is_empty() { &original[..] } else { keys };
        // The servers' rule (`key_ring::Ring::signer`): the newest live key that has been live
        // for ACTIVATION_SECS, or the oldest live one while none has.
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let activation = crate::credentials::key_ring::ACTIVATION_SECS;
        let live: Vec<usize> = (0..keys.len()).filter(|&n| keys[n].retired_at.is_none()).collect();
        let signer = live
            .iter()
            .copied()
            .find(|&n| keys[n].created_at <= now - activation)
            .or(live.last().copied());
        let state = |n: usize, key: &SigningKeyRecord| match (key.retired_at, Some(n) == signer) {
            (Some(_), _) => "retired",
            (None, true) => "signs",
            (None, false) if signer.is_some_and(|s| n < s) => "next",
            (None, false) => "verifies",
        };
        let created = |key: &SigningKeyRecord| {
            if key.created_at == 0 {
                "the secret itself".to_owned()
            } else {
                unix(key.created_at)
            }
        };
        if self.json {
            let all = keys.iter().enumerate().map(|(n, key)| {
                json!({
                    "kid": key.kid,
                    "state": state(n, key),
                    "created_at": (key.created_at != 0).then(|| unix(key.created_at)),
                    "retired_at": key.retired_at.map(unix),
                })
            });
            return print_json(&Value::Array(all.collect()));
        }
        let rows = keys.iter().enumerate().map(|(n, key)| {
            vec![
                key.kid.clone(),
                state(n, key).to_owned(),
                created(key),
                key.retired_at.map_or_else(String::new, unix),
            ]
        });
        table(&["KID", "STATE", "CREATED", "RETIRED"], rows)
    }

    /// An account changed: `what` happened to it, ending `ended` sessions.
    pub fn changed(&self, what: &str, user: &UserRecord, ended: usize) -> std::io::Result<()> {
        if self.json {
            return print_json(&json!({
                "done": what,
                "user_id": user.id,
                "username": user.username,
                "sessions_ended": ended,
            }));
        }
        println!("{} ({}): {what}; {ended} session(s) ended", user.username, user.id);
        Ok(())
    }

    pub fn revoked(&self, session_id: &str, user_id: &str) -> std::io::Result<()> {
        if self.json {
            return print_json(&json!({"done": "revoked", "session_id": session_id, "user_id": user_id}));
        }
        println!("session {session_id} of {user_id}: ended");
        Ok(())
    }

    pub fn done(&self, what: &str) -> std::io::Result<()> {
        if self.json {
            return print_json(&json!({ "done": what }));
        }
        println!("{what}");
        Ok(())
    }
}

fn user_json(user: &UserRecord) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "full_name": user.full_name,
        "email_verified": user.email_verified_at.is_some(),
        "disabled_at": user.disabled_at.map(unix),
        "created_at": rfc3339(user.created_at),
    })
}

fn session_json(session: &SessionRecord) -> Value {
    json!({
        "id": session.id,
        "device": crate::domain::describe_user_agent(&session.user_agent),
        "user_agent": session.user_agent,
        "ip": session.ip,
        "created_at": rfc3339(session.created_at),
        "last_used_at": rfc3339(session.last_used_at),
        "expires_at": rfc3339(session.expires_at),
    })
}

fn print_json(value: &Value) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)
}

/// Columns padded to their widest cell, two spaces apart.
fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let header = header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>();
    for row in std::iter::once(&header).chain(&rows) {
        let line = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn yes_no(yes: bool) -> String {
    if yes { "yes" } else { "no" }.to_owned()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn unix(at: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at).map_or_else(|_| at.to_string(), rfc3339)
}

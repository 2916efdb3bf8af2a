//! Lifetimes as people write them: `30s`, `15m`, `1h`, `1d`, `10d`, or plain seconds.

use std::time::Duration;

/// Why a lifetime could not be read; shown to the operator next to the variable's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("expected a number followed by s, m, h or d (as in 30s, 15m, 1d), got {0:?}")]
    Malformed(String),
    #[error("a lifetime must be longer than zero")]
    Zero,
    #[error("{0:?} is too long to be a lifetime")]
    TooLong(String),
}

/// Longest lifetime accepted: 10 years, far beyond any sensible token, well inside `i64` seconds.
const MAX_SECONDS: u64 = 10 * 366 * 24 * 3600;

pub fn parse_duration(raw: &str) -> Result<Duration, DurationError> {
    let text = raw.trim();
    let malformed = || DurationError::Malformed(raw.to_owned());
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(malformed());
    }
    let multiplier: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(malformed()),
    };
    let count: u64 = digits
        .parse()
        .map_err(|_| DurationError::TooLong(raw.to_owned()))?;
    let seconds = count
        .checked_mul(multiplier)
        .filter(|s| *s <= MAX_SECONDS)
        .ok_or_else(|| DurationError::TooLong(raw.to_owned()))?;
    if seconds == 0 {
        return Err(DurationError::Zero);
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_plain_seconds() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("10d"), Ok(Duration::from_secs(864_000)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration(" 7d "), Ok(Duration::from_secs(604_800)));
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            "", "m", "15 m", "15min", "1.5h", "-5m", "15M", "d1", "1d2h", "１5m",
        ] {
            assert!(
                matches!(parse_duration(bad), Err(DurationError::Malformed(_))),
                "{bad:?} should be malformed"
            );
        }
    }

    #[test]
    fn rejects_zero_and_absurd_lengths() {
        assert_eq!(parse_duration("0s"), Err(DurationError::Zero));
        assert_eq!(parse_duration("0"), Err(DurationError::Zero));
        assert!(matches!(
            parse_duration("99999999999999999999d"),
            Err(DurationError::TooLong(_))
        ));
        assert!(matches!(
            parse_duration("4000d"),
            Err(DurationError::TooLong(_))
        ));
    }

    proptest::proptest! {
        /// Any text at all gives a lifetime or an error, never a panic.
        #[test]
        fn any_input_is_parsed_or_refused_without_panicking(raw in "\\PC{0,40}") {
            let _ = parse_duration(&raw);
        }

        /// Every well-formed lifetime in range reads back as its number of seconds.
        #[test]
        fn well_formed_lifetimes_read_back_exactly(count in 1u64..100_000, unit in 0usize..4) {
            let (suffix, seconds) = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)][unit];
            let parsed = parse_duration(&format!("{count}{suffix}"));
            if count * seconds <= MAX_SECONDS {
                proptest::prop_assert_eq!(parsed, Ok(Duration::from_secs(count * seconds)));
            } else {
                proptest::prop_assert!(matches!(parsed, Err(DurationError::TooLong(_))));
            }
        }
    }
}

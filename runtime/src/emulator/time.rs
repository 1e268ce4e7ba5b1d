//! Wall-clock helpers: Unix seconds and the civil (UTC) dates Entra prints in error bodies.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A UTC calendar date and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

impl Civil {
    /// Howard Hinnant's `civil_from_days`.
    pub(crate) fn from_unix(unix: u64) -> Self {
        let days = (unix / 86_400) as i64;
        let secs = (unix % 86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self { year, month, day, hour: secs / 3600, minute: secs / 60 % 60, second: secs % 60 }
    }
}

/// Entra's error `timestamp` format: `2026-11-26 04:11:37Z`.
pub(crate) fn entra_timestamp() -> String {
    let t = Civil::from_unix(unix_now());
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z", t.year, t.month, t.day, t.hour, t.minute, t.second)
}

/// Graph's `innerError.date` format: `2026-11-26T04:11:37`.
pub(crate) fn graph_date() -> String {
    let t = Civil::from_unix(unix_now());
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second)
}

#[cfg(test)]
mod tests {
    use super::Civil;

    #[test]
    fn civil_dates() {
        assert_eq!(
            Civil::from_unix(0),
            Civil { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0 }
        );
        // 2024-02-29T12:34:56Z
        assert_eq!(
            Civil::from_unix(1_709_210_096),
            Civil { year: 2024, month: 2, day: 29, hour: 12, minute: 34, second: 56 }
        );
    }
}

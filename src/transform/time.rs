//! Event times: epoch milliseconds in, RFC 3339 UTC text and date/hour keys out.

use time::OffsetDateTime;

/// Earliest epoch millisecond written (0000-01-01T00:00:00.000Z).
const MIN_MILLIS: i64 = -62_167_219_200_000;
/// Latest epoch millisecond written (9999-12-31T23:59:59.999Z).
const MAX_MILLIS: i64 = 253_402_300_799_999;

/// An instant between years 0 and 9999, UTC, with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcTime {
    millis: i64,
}

impl UtcTime {
    /// The instant `millis` after the Unix epoch, or `None` outside years 0 to 9999.
    pub fn from_millis(millis: i64) -> Option<Self> {
        (MIN_MILLIS..=MAX_MILLIS)
            .contains(&millis)
            .then_some(Self { millis })
    }

    /// Parses an RFC 3339 time such as EventBridge's `2026-11-22T06:41:00Z`.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let parsed =
            OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
        let millis = i64::try_from(parsed.unix_timestamp_nanos().div_euclid(1_000_000)).ok()?;
        Self::from_millis(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.millis
    }

    /// Seconds since the epoch, rounded down.
    pub fn second(self) -> i64 {
        self.millis.div_euclid(1000)
    }

    /// The start of the hour holding this instant, as epoch hours.
    pub fn epoch_hour(self) -> i64 {
        self.millis.div_euclid(3_600_000)
    }

    fn civil(self) -> OffsetDateTime {
        // In range by construction: from_millis bounds the value to years 0..=9999.
        OffsetDateTime::from_unix_timestamp(self.second()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// `YYYY-MM-DD`.
    pub fn date_string(self) -> String {
        let mut text = String::with_capacity(10);
        let civil = self.civil();
        push_digits(&mut text, civil.year().unsigned_abs(), 4);
        text.push('-');
        push_digits(&mut text, u32::from(u8::from(civil.month())), 2);
        text.push('-');
        push_digits(&mut text, u32::from(civil.day()), 2);
        text
    }

    /// `HH`.
    pub fn hour_string(self) -> String {
        let mut text = String::with_capacity(2);
        push_digits(&mut text, u32::from(self.civil().hour()), 2);
        text
    }
}

fn push_digits(text: &mut String, value: u32, width: u32) {
    for position in (0..width).rev() {
        let digit = (value / 10u32.pow(position)) % 10;
        text.push(char::from(b'0' + digit as u8));
    }
}

/// Writes RFC 3339 times with milliseconds, caching the text of the current second:
/// consecutive log events almost always share it, so the calendar arithmetic runs
/// once per second of data instead of once per event.
#[derive(Debug, Default)]
pub struct TimeFormatter {
    cached_second: Option<i64>,
    cached_text: [u8; 19],
}

impl TimeFormatter {
    /// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` to `out`.
    pub fn write(&mut self, time: UtcTime, out: &mut Vec<u8>) {
        let second = time.second();
        if self.cached_second != Some(second) {
            let civil = time.civil();
            let mut text = String::with_capacity(19);
            text.push_str(&time.date_string());
            text.push('T');
            push_digits(&mut text, u32::from(civil.hour()), 2);
            text.push(':');
            push_digits(&mut text, u32::from(civil.minute()), 2);
            text.push(':');
            push_digits(&mut text, u32::from(civil.second()), 2);
            self.cached_text.copy_from_slice(text.as_bytes());
            self.cached_second = Some(second);
        }
        out.extend_from_slice(&self.cached_text);
        let millis = time.millis().rem_euclid(1000) as u32;
        out.extend_from_slice(&[
            b'.',
            b'0' + (millis / 100) as u8,
            b'0' + (millis / 10 % 10) as u8,
            b'0' + (millis % 10) as u8,
            b'Z',
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(millis: i64) -> String {
        let mut out = Vec::new();
        TimeFormatter::default().write(UtcTime::from_millis(millis).unwrap(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_rfc3339_with_milliseconds() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
            (1_795_329_660_007, "2026-11-22T06:41:00.007Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (MIN_MILLIS, "0000-01-01T00:00:00.000Z"),
            (MAX_MILLIS, "9999-12-31T23:59:59.999Z"),
        ];
        for (millis, expected) in cases {
            assert_eq!(formatted(millis), expected, "{millis}");
        }
    }

    #[test]
    fn cache_does_not_leak_between_seconds() {
        let mut formatter = TimeFormatter::default();
        let mut out = Vec::new();
        for millis in [1_000, 1_999, 2_000, 59_999, 60_000, 1_000] {
            formatter.write(UtcTime::from_millis(millis).unwrap(), &mut out);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1970-01-01T00:00:01.000Z 1970-01-01T00:00:01.999Z 1970-01-01T00:00:02.000Z \
             1970-01-01T00:00:59.999Z 1970-01-01T00:01:00.000Z 1970-01-01T00:00:01.000Z "
        );
    }

    #[test]
    fn out_of_range_is_rejected() {
        assert!(UtcTime::from_millis(MIN_MILLIS - 1).is_none());
        assert!(UtcTime::from_millis(MAX_MILLIS + 1).is_none());
        assert!(UtcTime::from_millis(i64::MAX).is_none());
        assert!(UtcTime::from_millis(i64::MIN).is_none());
    }

    #[test]
    fn date_and_hour_keys() {
        let time = UtcTime::from_millis(1_795_329_660_007).unwrap();
        assert_eq!(time.date_string(), "2026-11-22");
        assert_eq!(time.hour_string(), "06");
    }

    #[test]
    fn parses_eventbridge_times() {
        let parsed = UtcTime::parse_rfc3339("2026-11-22T06:41:00Z").unwrap();
        assert_eq!(parsed.millis(), 1_795_329_660_000);
        assert_eq!(
            UtcTime::parse_rfc3339("2026-11-22T07:41:00.5+01:00").map(UtcTime::millis),
            Some(1_795_329_660_500)
        );
        assert!(UtcTime::parse_rfc3339("yesterday").is_none());
    }
}

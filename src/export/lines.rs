//! Export text into events. CloudWatch Logs writes one `<timestamp> <message>` line per
//! event (`2022-11-11T01:10:28.255Z START RequestId: …`); a message with newlines goes on
//! over the following lines, so a line that does not start with a timestamp continues
//! the event before it.
//!
//! The splitter is fed decompressed bytes in chunks of any size (it is the `Write` end of
//! a streaming gunzip) and holds back only the event still open, so memory stays flat
//! whatever the object's size.

use std::io::Write;

use super::ExportError;
use crate::transform::time::UtcTime;

/// Longest event accepted. CloudWatch Logs events are at most 1 MB; a longer run of
/// continuation lines means the object is not an export.
pub const MAX_EVENT_BYTES: usize = 2 << 20;

/// One event of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportEvent<'a> {
    /// The event's time, to the millisecond.
    pub time: UtcTime,
    /// The message: everything after the timestamp and one space, continuation lines
    /// joined with `\n`.
    pub message: &'a str,
    /// The event's position in the object, from 0.
    pub index: u64,
}

/// Receives the events of an export, in order.
pub trait EventSink {
    /// Takes one event.
    fn event(&mut self, event: ExportEvent<'_>) -> Result<(), ExportError>;
}

/// Splits export text into events; write decompressed bytes into it, then call
/// [`Splitter::finish`].
#[derive(Debug)]
pub struct Splitter<S> {
    sink: S,
    buffer: Vec<u8>,
    /// Where the next unread line starts in `buffer`.
    scanned: usize,
    /// The open event: its time, and its message's bytes in `buffer`.
    open: Option<OpenEvent>,
    events: u64,
    bytes: u64,
    timestamps: TimestampParser,
}

#[derive(Debug, Clone, Copy)]
struct OpenEvent {
    time: UtcTime,
    start: usize,
    end: usize,
}

impl<S: EventSink> Splitter<S> {
    /// A splitter handing events to `sink`.
    pub fn new(sink: S) -> Self {
        Self {
            sink,
            buffer: Vec::new(),
            scanned: 0,
            open: None,
            events: 0,
            bytes: 0,
            timestamps: TimestampParser::default(),
        }
    }

    /// The sink, for what it gathered so far.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Bytes of export text read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Takes more export text.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), ExportError> {
        self.bytes += chunk.len() as u64;
        self.buffer.extend_from_slice(chunk);
        while let Some(newline) = memchr::memchr(b'\n', &self.buffer[self.scanned..]) {
            let line_end = self.scanned + newline;
            self.line(self.scanned, line_end)?;
            self.scanned = line_end + 1;
        }
        // Keep only the open event and the unfinished line.
        let keep_from = self.open.map_or(self.scanned, |open| open.start);
        if keep_from > 0 {
            self.buffer.drain(..keep_from);
            self.scanned -= keep_from;
            if let Some(open) = &mut self.open {
                open.start -= keep_from;
                open.end -= keep_from;
            }
        }
        if self.buffer.len() > MAX_EVENT_BYTES {
            return Err(ExportError::EventTooLong { index: self.events });
        }
        Ok(())
    }

    /// Ends the text: the last line and the last event. Returns the sink and the number
    /// of events.
    /// Empty text is an export of no events (moto writes one for a stream with nothing
    /// in the time range).
    pub fn finish(mut self) -> Result<(S, u64), ExportError> {
        if self.scanned < self.buffer.len() {
            self.line(self.scanned, self.buffer.len())?;
        }
        self.emit()?;
        Ok((self.sink, self.events))
    }

    /// One complete line, `buffer[start..end]`, without its newline.
    fn line(&mut self, start: usize, end: usize) -> Result<(), ExportError> {
        match self.timestamps.parse(&self.buffer[start..end]) {
            Some((time, length)) => {
                self.emit()?;
                let message_start = (start + length).min(end);
                self.open = Some(OpenEvent {
                    time,
                    start: message_start,
                    end,
                });
            }
            None => match &mut self.open {
                Some(open) => open.end = end,
                None => {
                    let shown = &self.buffer[start..end.min(start + 80)];
                    return Err(ExportError::NoTimestamp(
                        String::from_utf8_lossy(shown).into_owned(),
                    ));
                }
            },
        }
        Ok(())
    }

    fn emit(&mut self) -> Result<(), ExportError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let index = self.events;
        let message = simdutf8::basic::from_utf8(&self.buffer[open.start..open.end])
            .map_err(|_| ExportError::NotUtf8 { index })?;
        self.events += 1;
        self.sink.event(ExportEvent {
            time: open.time,
            message,
            index,
        })
    }
}

/// The splitter as the `Write` end of a streaming decoder: errors travel as
/// `io::Error`s wrapping an [`ExportError`], recovered by [`export_error`].
impl<S: EventSink> Write for Splitter<S> {
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<usize> {
        self.push(chunk).map_err(std::io::Error::other)?;
        Ok(chunk.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The [`ExportError`] inside an `io::Error` from a decoder writing into a [`Splitter`];
/// any other `io::Error` is the gzip stream's.
pub fn export_error(error: std::io::Error) -> ExportError {
    if !error
        .get_ref()
        .is_some_and(|inner| inner.is::<ExportError>())
    {
        return ExportError::Gzip(error);
    }
    match error
        .into_inner()
        .map(|inner| inner.downcast::<ExportError>())
    {
        Some(Ok(export)) => *export,
        // Unreachable: the check above saw an ExportError inside.
        _ => ExportError::Gzip(std::io::Error::other("the splitter's error was lost")),
    }
}

/// Reads the timestamp at the start of a line, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`
/// followed by a space or the line's end, remembering the last minute it converted.
#[derive(Debug, Default)]
pub struct TimestampParser {
    minute: Option<([u8; 16], i64)>,
}

impl TimestampParser {
    /// The time and the length of the timestamp with its space, when the line starts
    /// with one.
    pub fn parse(&mut self, line: &[u8]) -> Option<(UtcTime, usize)> {
        // 2022-11-11T01:10:28
        let head = line.get(..19)?;
        let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
        if head[4] != b'-'
            || head[7] != b'-'
            || head[10] != b'T'
            || head[13] != b':'
            || head[16] != b':'
            || !digits.iter().all(|&at| head[at].is_ascii_digit())
        {
            return None;
        }
        let number = |from: usize, to: usize| {
            head[from..to]
                .iter()
                .fold(0i64, |value, digit| value * 10 + i64::from(digit - b'0'))
        };
        let mut at = 19;
        let mut millis = 0;
        if line.get(at) == Some(&b'.') {
            at += 1;
            let digits = line[at..]
                .iter()
                .take_while(|byte| byte.is_ascii_digit())
                .count();
            if !(1..=9).contains(&digits) {
                return None;
            }
            for (position, digit) in line[at..at + digits.min(3)].iter().enumerate() {
                millis += i64::from(digit - b'0') * [100, 10, 1][position];
            }
            at += digits;
        }
        if line.get(at) != Some(&b'Z') {
            return None;
        }
        at += 1;
        match line.get(at) {
            None => {}
            Some(b' ') => at += 1,
            Some(_) => return None,
        }
        let second = number(17, 19);
        if second > 59 {
            return None;
        }
        let minute_key: [u8; 16] = head[..16].try_into().ok()?;
        let minute_millis = match self.minute {
            Some((key, millis)) if key == minute_key => millis,
            _ => {
                let (hour, minute) = (number(11, 13), number(14, 16));
                if hour > 23 || minute > 59 {
                    return None;
                }
                let month = time::Month::try_from(u8::try_from(number(5, 7)).ok()?).ok()?;
                let date = time::Date::from_calendar_date(
                    i32::try_from(number(0, 4)).ok()?,
                    month,
                    u8::try_from(number(8, 10)).ok()?,
                )
                .ok()?;
                let days = i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY;
                let millis = ((days * 24 + hour) * 60 + minute) * 60_000;
                self.minute = Some((minute_key, millis));
                millis
            }
        };
        let time = UtcTime::from_millis(minute_millis + second * 1000 + millis)?;
        Some((time, at))
    }
}

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Default)]
    struct Collect(Vec<(i64, String, u64)>);

    impl EventSink for Collect {
        fn event(&mut self, event: ExportEvent<'_>) -> Result<(), ExportError> {
            self.0
                .push((event.time.millis(), event.message.to_owned(), event.index));
            Ok(())
        }
    }

    fn split(text: &[u8], chunk: usize) -> Result<Vec<(i64, String)>, ExportError> {
        let mut splitter = Splitter::new(Collect::default());
        for piece in text.chunks(chunk.max(1)) {
            splitter.push(piece)?;
        }
        let (collect, count) = splitter.finish()?;
        assert_eq!(count as usize, collect.0.len());
        assert!(collect.0.iter().enumerate().all(|(i, e)| e.2 == i as u64));
        Ok(collect.0.into_iter().map(|(t, m, _)| (t, m)).collect())
    }

    #[test]
    fn reads_the_services_format() {
        let text = "2022-11-11T01:10:28.255Z START RequestId: a7679120 Version: $LATEST\n\
                    2022-11-11T01:10:28.256Z Traceback (most recent call last):\n  File \"x.py\", line 1\n\tat frame\n\
                    2022-11-11T01:10:29Z moto writes seconds\n\
                    2022-11-11T01:10:29.1234567Z more digits\n\
                    2022-11-11T01:10:30.000Z \n\
                    2022-11-11T01:10:31.000Z\n\
                    2022-11-11T01:10:32.000Z é 漢字 😀\n";
        let expected = vec![
            (
                1_668_129_028_255,
                "START RequestId: a7679120 Version: $LATEST".to_owned(),
            ),
            (
                1_668_129_028_256,
                "Traceback (most recent call last):\n  File \"x.py\", line 1\n\tat frame"
                    .to_owned(),
            ),
            (1_668_129_029_000, "moto writes seconds".to_owned()),
            (1_668_129_029_123, "more digits".to_owned()),
            (1_668_129_030_000, String::new()),
            (1_668_129_031_000, String::new()),
            (1_668_129_032_000, "é 漢字 😀".to_owned()),
        ];
        for chunk in [1, 2, 7, 64, 1 << 20] {
            assert_eq!(
                split(text.as_bytes(), chunk).unwrap(),
                expected,
                "chunk {chunk}"
            );
        }
        // Without the final newline, and with an empty line inside a message.
        let got = split(b"2022-11-11T01:10:28.255Z a\n\nb", 3).unwrap();
        assert_eq!(got, vec![(1_668_129_028_255, "a\n\nb".to_owned())]);
    }

    #[test]
    fn what_is_not_an_export_is_an_error() {
        assert_eq!(split(b"", 4).unwrap(), vec![]);
        let cases: [(&[u8], &str); 6] = [
            (b"START without a timestamp\n", "first line"),
            (b"\n2022-11-11T01:10:28.255Z a\n", "first line"),
            (b"2022-11-11 01:10:28.255Z a\n", "first line"),
            (b"2022-11-11T01:10:28.255Z \xff\xfe\n", "UTF-8"),
            (b"2022-13-11T01:10:28.255Z month 13\n", "first line"),
            (b"2022-11-11T24:10:28.255Z hour 24\n", "first line"),
        ];
        for (text, expected) in cases {
            let error = split(text, 4).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let long = [
            b"2022-11-11T01:10:28.255Z ".as_slice(),
            &vec![b'x'; MAX_EVENT_BYTES + 1],
        ]
        .concat();
        assert!(matches!(
            split(&long, 1 << 16),
            Err(ExportError::EventTooLong { index: 0 })
        ));
    }

    #[test]
    fn timestamps_agree_with_rfc3339() {
        let mut parser = TimestampParser::default();
        for text in [
            "1970-01-01T00:00:00.000Z",
            "2000-02-29T23:59:59.999Z",
            "2026-11-22T06:41:00.012Z",
            "1969-12-31T23:59:59.5Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            let (time, length) = parser.parse(text.as_bytes()).unwrap();
            assert_eq!(length, text.len());
            assert_eq!(Some(time), UtcTime::parse_rfc3339(text), "{text}");
        }
        for text in [
            "2001-02-29T00:00:00Z",
            "2026-11-22T06:41:60Z",
            "2026-11-22T06:41:00.Z",
            "2026-11-22T06:41:00+00:00",
        ] {
            assert_eq!(parser.parse(text.as_bytes()), None, "{text}");
        }
    }

    proptest! {
        /// Any events, written as an export and cut into any chunks, come back exactly.
        #[test]
        fn events_round_trip(
            events in prop::collection::vec((0i64..4_102_444_800_000, "[^\r]{0,40}"), 1..20),
            chunk in 1usize..64,
        ) {
            let events: Vec<(i64, String)> = events
                .into_iter()
                // A continuation line that itself starts with a timestamp cannot be told
                // from a new event (documented); the generator avoids that one case.
                .filter(|(_, m)| !m.split('\n').skip(1).any(|line| TimestampParser::default().parse(line.as_bytes()).is_some()))
                .collect();
            prop_assume!(!events.is_empty());
            let mut text = String::new();
            for (millis, message) in &events {
                let time = UtcTime::from_millis(*millis).unwrap();
                let mut stamp = Vec::new();
                crate::transform::time::TimeFormatter::default().write(time, &mut stamp);
                text.push_str(std::str::from_utf8(&stamp).unwrap());
                text.push(' ');
                text.push_str(message);
                text.push('\n');
            }
            prop_assert_eq!(split(text.as_bytes(), chunk).unwrap(), events);
        }

        /// Arbitrary bytes: an error or events, never a panic, whatever the chunking.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), chunk in 1usize..32) {
            let whole = split(&bytes, bytes.len().max(1)).map_err(|e| e.to_string());
            let chunked = split(&bytes, chunk).map_err(|e| e.to_string());
            prop_assert_eq!(whole, chunked);
        }
    }
}

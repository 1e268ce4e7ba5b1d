//! A `text/event-stream` body cut into its events, byte for byte, as it arrives
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream>):
//! lines end in CRLF, LF or CR; an empty line ends an event. The pieces, put back together in
//! order, are exactly the bytes received; an event is handed over as soon as its empty line
//! arrives, so nothing waits for the next event.

use axum::body::Bytes;

/// A piece of the stream, in order.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// One whole event, its closing empty line included (of a CRLF at its very end, the LF may
    /// follow as a [`Piece::Pass`]: it is only seen when the next byte arrives).
    Event(Bytes),
    /// Bytes to pass on as they are: the LF of such a CRLF, an event larger than the limit, or
    /// the unfinished event at the end of the stream.
    Pass(Bytes),
}

/// Cuts a byte stream into [`Piece`]s, holding back at most the current event and never more than
/// `limit` bytes of it: an event that grows beyond passes on as it comes.
#[derive(Debug)]
pub(super) struct EventSplitter {
    /// The bytes of the current event received so far (unless it is oversized).
    event: Vec<u8>,
    limit: usize,
    /// The current event grew beyond `limit`: its bytes pass on as they come.
    oversized: bool,
    /// The last byte ended a line (or nothing was received yet).
    at_line_start: bool,
    /// The last byte was a CR: a LF next belongs to the same line ending.
    after_cr: bool,
    /// The last byte was a CR that ended an event.
    ended_at_cr: bool,
}

impl EventSplitter {
    /// A splitter that holds back at most `limit` bytes of an event.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            event: Vec::new(),
            limit,
            oversized: false,
            at_line_start: true,
            after_cr: false,
            ended_at_cr: false,
        }
    }

    /// Takes the next chunk of the stream; the pieces it completes are appended to `out`.
    pub(super) fn push(&mut self, chunk: &Bytes, out: &mut Vec<Piece>) {
        let mut start = 0;
        for (i, &b) in chunk.iter().enumerate() {
            let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
            let ended_at_cr = std::mem::take(&mut self.ended_at_cr);
            if b == b'\n' && after_cr {
                // The LF of a CRLF: the line ended at the CR already.
                if ended_at_cr {
                    out.push(Piece::Pass(chunk.slice(i..=i)));
                    start = i + 1;
                }
                continue;
            }
            let ends_line = b == b'\n' || b == b'\r';
            if ends_line && self.at_line_start {
                self.end_event(chunk, start..i + 1, out);
                start = i + 1;
                self.ended_at_cr = b == b'\r';
            }
            self.at_line_start = ends_line;
        }
        if start == chunk.len() {
            return;
        }
        if self.oversized {
            out.push(Piece::Pass(chunk.slice(start..)));
            return;
        }
        self.event.extend_from_slice(&chunk[start..]);
        if self.event.len() > self.limit {
            self.oversized = true;
            out.push(Piece::Pass(std::mem::take(&mut self.event).into()));
        }
    }

    /// The stream ended: what is held back of an unfinished event passes on.
    pub(super) fn finish(&mut self, out: &mut Vec<Piece>) {
        if !self.event.is_empty() {
            out.push(Piece::Pass(std::mem::take(&mut self.event).into()));
        }
    }

    /// The current event ends with `chunk[range]`.
    fn end_event(&mut self, chunk: &Bytes, range: std::ops::Range<usize>, out: &mut Vec<Piece>) {
        if std::mem::take(&mut self.oversized) {
            out.push(Piece::Pass(chunk.slice(range)));
        } else if self.event.len() + range.len() > self.limit {
            if !self.event.is_empty() {
                out.push(Piece::Pass(std::mem::take(&mut self.event).into()));
            }
            out.push(Piece::Pass(chunk.slice(range)));
        } else if self.event.is_empty() {
            out.push(Piece::Event(chunk.slice(range)));
        } else {
            self.event.extend_from_slice(&chunk[range]);
            out.push(Piece::Event(std::mem::take(&mut self.event).into()));
        }
    }
}

/// The `data` of an event (its `data:` lines joined with LF), if it has any.
pub(super) fn data(event: &[u8]) -> Option<String> {
    let mut data: Option<Vec<u8>> = None;
    for (line, _) in lines(event) {
        if let Some(value) = data_value(line) {
            let data = data.get_or_insert_with(Vec::new);
            if !data.is_empty() {
                data.push(b'\n');
            }
            data.extend_from_slice(value);
        }
    }
    String::from_utf8(data?).ok()
}

/// `event` with its `data:` lines replaced by `data` (one `data:` line per line of it, where the
/// first `data:` line was, with that line's ending); every other line kept byte for byte.
pub(super) fn with_data(event: &[u8], data: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(event.len());
    let mut written = false;
    for (line, ending) in lines(event) {
        if data_value(line).is_none() {
            out.extend_from_slice(line);
            out.extend_from_slice(ending);
        } else if !written {
            written = true;
            for part in data.split('\n') {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(part.as_bytes());
                out.extend_from_slice(ending);
            }
        }
    }
    out
}

/// The value of a `data` field line, without the one space after the colon.
fn data_value(line: &[u8]) -> Option<&[u8]> {
    if line == b"data" {
        return Some(b"");
    }
    let value = line.strip_prefix(b"data:")?;
    Some(value.strip_prefix(b" ").unwrap_or(value))
}

/// The lines of `text` and their endings (CRLF, LF, CR, or none for an unfinished last line).
fn lines(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest.iter().position(|&b| b == b'\n' || b == b'\r').unwrap_or(rest.len());
        let ending = match rest.get(end..) {
            Some([b'\r', b'\n', ..]) => 2,
            Some([_, ..]) => 1,
            _ => 0,
        };
        let (line, tail) = rest.split_at(end);
        let (ending, tail) = tail.split_at(ending);
        rest = tail;
        Some((line, ending))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every piece of `stream` cut at `cuts`, and the pieces put back.
    fn split(stream: &[u8], cuts: &[usize], limit: usize) -> Vec<Piece> {
        let mut splitter = EventSplitter::new(limit);
        let mut out = Vec::new();
        let mut at = 0;
        for &cut in cuts.iter().chain([&stream.len()]) {
            splitter.push(&Bytes::copy_from_slice(&stream[at..cut]), &mut out);
            at = cut;
        }
        splitter.finish(&mut out);
        out
    }

    fn joined(pieces: &[Piece]) -> Vec<u8> {
        pieces
            .iter()
            .flat_map(|p| match p {
                Piece::Event(b) | Piece::Pass(b) => b.to_vec(),
            })
            .collect()
    }

    fn events(pieces: &[Piece]) -> Vec<String> {
        pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Event(b) => Some(String::from_utf8_lossy(b).into_owned()),
                Piece::Pass(_) => None,
            })
            .collect()
    }

    const STREAM: &[u8] = b"id: 0\r\nretry: 3000\r\ndata:\r\n\r\n: ping\n\nevent: message\rdata: {\"a\":\r\ndata: 1}\r\n\r\ndata: x\n\ndata: tail";

    #[test]
    fn events_are_found_wherever_the_chunks_are_cut() {
        let whole = split(STREAM, &[], 1 << 20);
        let expected = [
            "id: 0\r\nretry: 3000\r\ndata:\r\n\r",
            ": ping\n\n",
            "event: message\rdata: {\"a\":\r\ndata: 1}\r\n\r",
            "data: x\n\n",
        ];
        assert_eq!(events(&whole), expected);
        for a in 0..=STREAM.len() {
            for b in a..=STREAM.len() {
                let pieces = split(STREAM, &[a, b], 1 << 20);
                assert_eq!(joined(&pieces), STREAM, "cut at {a} and {b}: every byte, in order");
                assert_eq!(events(&pieces), expected, "cut at {a} and {b}");
            }
        }
    }

    #[test]
    fn an_event_is_handed_over_at_its_empty_line() {
        let mut splitter = EventSplitter::new(1 << 20);
        let mut out = Vec::new();
        splitter.push(&Bytes::from_static(b"data: 1\r\n\r"), &mut out);
        assert_eq!(out, [Piece::Event(Bytes::from_static(b"data: 1\r\n\r"))], "no wait for the LF");
        out.clear();
        splitter.push(&Bytes::from_static(b"\ndata: 2\n"), &mut out);
        assert_eq!(out, [Piece::Pass(Bytes::from_static(b"\n"))]);
    }

    #[test]
    fn an_event_beyond_the_limit_passes_as_it_comes() {
        let stream = b"data: 0123456789\n\ndata: 1\n\n";
        for cut in 0..=stream.len() {
            let pieces = split(stream, &[cut], 12);
            assert_eq!(joined(&pieces), stream, "cut at {cut}");
            assert_eq!(events(&pieces), ["data: 1\n\n"], "cut at {cut}");
        }
        let mut splitter = EventSplitter::new(4);
        let mut out = Vec::new();
        splitter.push(&Bytes::from_static(b"data: 01"), &mut out);
        assert_eq!(out, [Piece::Pass(Bytes::from_static(b"data: 01"))], "nothing held beyond the limit");
    }

    #[test]
    fn data_lines_are_read_and_replaced_in_place() {
        let event = b"id: 4\r\nevent: message\r\ndata:{\"a\":\r\n: note\r\ndata: 1}\r\nretry: 5\r\n\r";
        assert_eq!(data(event).as_deref(), Some("{\"a\":\n1}"));
        assert_eq!(
            with_data(event, "{\"b\":\n2}"),
            b"id: 4\r\nevent: message\r\ndata: {\"b\":\r\ndata: 2}\r\n: note\r\nretry: 5\r\n\r"
        );
        assert_eq!(data(b"data\n\n").as_deref(), Some(""));
        assert_eq!(data(b": ping\n\n"), None);
        assert_eq!(data(b"database: 1\n\n"), None, "only the field named data");
    }
}

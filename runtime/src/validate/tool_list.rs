//! The answer to a `tools/list` with the tools the caller may not see taken out, as the MCP
//! service streams it: a JSON body (`application/json`) or a server-sent event stream
//! (`text/event-stream`, the streamable HTTP transport:
//! <https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#streamable-http>).
//! Only the answer to the listing is rewritten; every other byte passes on unchanged and in order,
//! an event as soon as its closing empty line has arrived.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::{Body, Bytes, HttpBody};
use axum::response::Response;
use http::header;
use http_body::{Frame, SizeHint};
use serde_json::Value;

use super::jsonrpc;
use super::sse::{self, EventSplitter, Piece};

/// The largest JSON answer, or event of an event stream, held back to be rewritten: 4 MiB. A
/// larger one passes unchanged.
pub(super) const LIST_ANSWER_MAX: usize = 4 * 1024 * 1024;

/// `response` with the tools named in `hidden` taken out of the answers to the `tools/list`
/// requests `ids`. An answer in another media type, or compressed, passes unchanged.
pub(super) fn filter(response: Response, ids: Vec<Value>, hidden: Vec<String>) -> Response {
    if response.headers().get(header::CONTENT_ENCODING).is_some_and(|e| e != "identity") {
        return response;
    }
    let framing = match media_type(response.headers()).as_deref() {
        Some("application/json") => Framing::Json { body: Vec::new(), oversized: false },
        Some("text/event-stream") => Framing::Sse(EventSplitter::new(LIST_ANSWER_MAX)),
        _ => return response,
    };
    let (mut parts, body) = response.into_parts();
    // The length changes when a tool is taken out; the body is sent chunked instead.
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = ToolListBody {
        inner: body,
        filter: Filter { framing, ids, hidden },
        ready: VecDeque::new(),
        error: None,
        ended: false,
    };
    Response::from_parts(parts, Body::new(body))
}

/// The media type of `Content-Type`, lower case, without parameters.
fn media_type(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

/// How the answer is framed, and what of it is held back.
#[derive(Debug)]
enum Framing {
    /// A JSON body: held back whole (up to [`LIST_ANSWER_MAX`]) and rewritten at its end.
    Json { body: Vec<u8>, oversized: bool },
    /// An event stream: each event held back until its end.
    Sse(EventSplitter),
    /// Every listing answered: the rest passes as it comes.
    Done,
}

/// The rewriting, apart from the body's polling.
#[derive(Debug)]
struct Filter {
    framing: Framing,
    /// The `tools/list` requests not answered yet.
    ids: Vec<Value>,
    /// The tools to take out.
    hidden: Vec<String>,
}

impl Filter {
    /// Takes the next chunk of the answer; what may go on is appended to `out`.
    fn push(&mut self, chunk: Bytes, out: &mut VecDeque<Frame<Bytes>>) {
        match &mut self.framing {
            Framing::Done | Framing::Json { oversized: true, .. } => out.push_back(Frame::data(chunk)),
            Framing::Json { body, oversized } => {
                body.extend_from_slice(&chunk);
                if body.len() > LIST_ANSWER_MAX {
                    *oversized = true;
                    out.push_back(Frame::data(std::mem::take(body).into()));
                }
            }
            Framing::Sse(splitter) => {
                let mut pieces = Vec::new();
                splitter.push(&chunk, &mut pieces);
                self.pieces(pieces, out);
                if self.ids.is_empty() {
                    // Every listing answered: what is held back goes on, and the rest as it comes.
                    self.finish(out);
                }
            }
        }
    }

    /// The answer ended: what is held back goes on, rewritten if it is a whole JSON answer.
    fn finish(&mut self, out: &mut VecDeque<Frame<Bytes>>) {
        match std::mem::replace(&mut self.framing, Framing::Done) {
            Framing::Json { body, oversized: false } if !body.is_empty() => {
                let rewritten = std::str::from_utf8(&body).ok().and_then(|text| self.rewrite(text));
                out.push_back(Frame::data(rewritten.map_or_else(|| body.into(), Bytes::from)));
            }
            Framing::Sse(mut splitter) => {
                let mut pieces = Vec::new();
                splitter.finish(&mut pieces);
                self.pieces(pieces, out);
            }
            Framing::Json { .. } | Framing::Done => {}
        }
    }

    /// Passes `pieces` on, each event that answers a listing rewritten.
    fn pieces(&mut self, pieces: Vec<Piece>, out: &mut VecDeque<Frame<Bytes>>) {
        for piece in pieces {
            let bytes = match piece {
                Piece::Pass(bytes) => bytes,
                Piece::Event(event) if self.ids.is_empty() => event,
                Piece::Event(event) => match sse::data(&event).and_then(|data| self.rewrite(&data)) {
                    Some(data) => sse::with_data(&event, &data).into(),
                    None => event,
                },
            };
            out.push_back(Frame::data(bytes));
        }
    }

    /// `text` rewritten, if it answers a listing and loses a tool.
    fn rewrite(&mut self, text: &str) -> Option<String> {
        let hidden = &self.hidden;
        let rewritten =
            jsonrpc::filter_tool_list(text, &mut self.ids, |name| hidden.iter().any(|h| h == name));
        if rewritten.is_some() {
            tracing::debug!("tools/list answer filtered by the tool policy");
        }
        rewritten
    }
}

pin_project_lite::pin_project! {
    /// The body of a filtered answer: `ready` holds the frames to go on, in order; `error` the
    /// inner body's error, reported after what came before it.
    #[derive(Debug)]
    struct ToolListBody {
        #[pin]
        inner: Body,
        filter: Filter,
        ready: VecDeque<Frame<Bytes>>,
        error: Option<axum::Error>,
        ended: bool,
    }
}

impl HttpBody for ToolListBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        loop {
            if let Some(frame) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(frame)));
            }
            if let Some(error) = this.error.take() {
                return Poll::Ready(Some(Err(error)));
            }
            if *this.ended {
                return Poll::Ready(None);
            }
            match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(chunk) => this.filter.push(chunk, this.ready),
                    Err(trailers) => {
                        this.filter.finish(this.ready);
                        this.ready.push_back(trailers);
                    }
                },
                Some(Err(error)) => {
                    this.filter.finish(this.ready);
                    *this.error = Some(error);
                    *this.ended = true;
                }
                None => {
                    this.filter.finish(this.ready);
                    *this.ended = true;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.ready.is_empty() && self.error.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: &str = "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"data\":\"tools\"}}\r\n\r\n";
    const ANSWER: &str = "id: 1\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"purge\"},{\"name\":\"echo\"}]}}\r\n\r\n";
    const FILTERED: &str = "id: 1\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"echo\"}]}}\r\n\r\n";

    fn sse_filter() -> Filter {
        Filter {
            framing: Framing::Sse(EventSplitter::new(LIST_ANSWER_MAX)),
            ids: vec![serde_json::json!(3)],
            hidden: vec!["purge".into()],
        }
    }

    fn run(mut filter: Filter, stream: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut out = VecDeque::new();
        let mut at = 0;
        for &cut in cuts.iter().chain([&stream.len()]) {
            filter.push(Bytes::copy_from_slice(&stream[at..cut]), &mut out);
            at = cut;
        }
        filter.finish(&mut out);
        out.into_iter().flat_map(|f| f.into_data().expect("data").to_vec()).collect()
    }

    #[test]
    fn only_the_answer_to_the_listing_is_rewritten_wherever_the_stream_is_cut() {
        let prime = "id: 0\r\nretry: 3000\r\ndata:\r\n\r\n";
        let after =
            "data: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"purge\"}]}}\n\n: tail";
        let stream = format!("{prime}{NOTE}{ANSWER}{after}");
        let expected = format!("{prime}{NOTE}{FILTERED}{after}");
        for a in 0..=stream.len() {
            for b in (a..=stream.len()).step_by(7) {
                let out = run(sse_filter(), stream.as_bytes(), &[a, b]);
                assert_eq!(String::from_utf8_lossy(&out), expected, "cut at {a} and {b}");
            }
        }
    }

    #[test]
    fn a_notification_goes_on_before_the_answer_arrives() {
        let mut filter = sse_filter();
        let mut out = VecDeque::new();
        filter.push(Bytes::from(format!("{NOTE}id: 1\r\nda")), &mut out);
        let sent: Vec<u8> = out.drain(..).flat_map(|f| f.into_data().expect("data").to_vec()).collect();
        assert_eq!(sent, NOTE.as_bytes());
    }

    #[test]
    fn a_json_answer_is_rewritten_whole_and_other_answers_pass() {
        let json = Filter { framing: Framing::Json { body: Vec::new(), oversized: false }, ..sse_filter() };
        let answer = r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"purge"},{"name":"echo"}]}}"#;
        assert_eq!(
            run(json, answer.as_bytes(), &[10, 40]),
            br#"{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"echo"}]}}"#
        );
        let other = r#"{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"purge"}]}}"#;
        let json = Filter { framing: Framing::Json { body: Vec::new(), oversized: false }, ..sse_filter() };
        assert_eq!(run(json, other.as_bytes(), &[5]), other.as_bytes(), "not the listing's id");
        let json = Filter { framing: Framing::Json { body: Vec::new(), oversized: false }, ..sse_filter() };
        assert_eq!(run(json, b"{not json", &[]), b"{not json", "unparseable answers pass");
    }
}

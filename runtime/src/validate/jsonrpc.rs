//! The tools an MCP `POST` body calls: its JSON-RPC 2.0 message (or batch) read only as far as
//! `method`, `id` and, for `tools/call`, `params.name`
//! (<https://www.jsonrpc.org/specification>,
//! <https://modelcontextprotocol.io/specification/2025-11-25/server/tools#calling-tools>). The
//! tool arguments and every other member are skipped, never built.
//!
//! And the other way: the answer to a `tools/list` with some tools taken out of `result.tools`
//! (<https://modelcontextprotocol.io/specification/2025-11-25/server/tools#listing-tools>), every
//! other byte of the answer kept.

use std::borrow::Cow;
use std::ops::Range;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// The JSON-RPC method whose tool the policy checks.
const TOOLS_CALL: &str = "tools/call";
/// The JSON-RPC method whose answer the listing filters.
const TOOLS_LIST: &str = "tools/list";

/// The tools a body calls, in order (a name once per call), and the `tools/list` requests it makes.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ToolCalls<'a> {
    /// The `params.name` of each `tools/call`.
    pub(super) names: Vec<Cow<'a, str>>,
    /// The `id` of each `tools/list` request (a notification, without `id` or with a `null` one,
    /// gets no answer to filter).
    pub(super) list_ids: Vec<Value>,
    /// Whether the body is a batch (a JSON array of messages).
    pub(super) batch: bool,
}

/// Why a body's tools cannot be known; the request is refused (it is never guessed at).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Unreadable {
    /// Not a JSON-RPC message or batch of messages (objects).
    NotJsonRpc,
    /// A `tools/call` whose `params.name` is missing or not a string.
    NoToolName,
}

impl Unreadable {
    /// What the client should do, for `error_description`.
    pub(super) fn message(self) -> &'static str {
        match self {
            Self::NotJsonRpc => {
                "the request body is not a JSON-RPC 2.0 message or batch: send the MCP request as a JSON object"
            }
            Self::NoToolName => "a tools/call request has no params.name: name the tool to call",
        }
    }
}

/// One message: only what the policy needs (`method`, and `id` and `params` left unparsed).
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
}

/// The `params` of a `tools/call`: only the tool's name.
#[derive(Deserialize)]
struct CallParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

/// The tools `body` calls. A message without `method` (a response) or with another method calls
/// none; a duplicated member, a message that is not an object, or a body that is not JSON makes
/// the body unreadable rather than read one way here and another by the MCP server.
pub(super) fn tool_calls(body: &[u8]) -> Result<ToolCalls<'_>, Unreadable> {
    let batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let messages: Vec<Message<'_>> = if batch {
        serde_json::from_slice(body).map_err(|_| Unreadable::NotJsonRpc)?
    } else {
        vec![serde_json::from_slice(body).map_err(|_| Unreadable::NotJsonRpc)?]
    };
    let mut names = Vec::new();
    let mut list_ids = Vec::new();
    for m in messages {
        match m.method.as_deref() {
            Some(TOOLS_CALL) => {
                let params = m.params.ok_or(Unreadable::NoToolName)?;
                let params: CallParams<'_> =
                    serde_json::from_str(params.get()).map_err(|_| Unreadable::NoToolName)?;
                names.push(params.name);
            }
            Some(TOOLS_LIST) => {
                // The raw text is JSON already: it always parses.
                let id = m.id.and_then(|id| serde_json::from_str::<Value>(id.get()).ok());
                if let Some(id) = id.filter(|id| !id.is_null()) {
                    list_ids.push(id);
                }
            }
            _ => {}
        }
    }
    Ok(ToolCalls { names, list_ids, batch })
}

/// One JSON-RPC response: its `id` and `result` left unparsed.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
}

/// The `result` of a `tools/list`: its `tools` array left unparsed.
#[derive(Deserialize)]
struct ListResult<'a> {
    #[serde(borrow)]
    tools: &'a RawValue,
}

/// One tool of a `tools/list` result: only its name.
#[derive(Deserialize)]
struct ListedTool<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

/// `text` (a JSON-RPC response or batch of responses) with the tools for which `hide` says `true`
/// taken out of the `result.tools` of each response whose `id` is one of `ids`; each matched id
/// is removed from `ids`. `None` when nothing changes, or when `text` is not JSON-RPC (the answer
/// is then passed unchanged: the listing is a courtesy, the calls are checked anyway). Every byte
/// outside a filtered `tools` array is kept; a filtered array is written without whitespace.
pub(super) fn filter_tool_list(
    text: &str,
    ids: &mut Vec<Value>,
    hide: impl Fn(&str) -> bool,
) -> Option<String> {
    let batch = text.bytes().find(|b| !b.is_ascii_whitespace()) == Some(b'[');
    let answers: Vec<Answer<'_>> =
        if batch { serde_json::from_str(text).ok()? } else { vec![serde_json::from_str(text).ok()?] };
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for answer in answers {
        let Some(id) = answer.id.and_then(|id| serde_json::from_str::<Value>(id.get()).ok()) else {
            continue;
        };
        let Some(at) = ids.iter().position(|i| *i == id) else { continue };
        ids.swap_remove(at);
        let Some(result) = answer.result else { continue };
        let Ok(result) = serde_json::from_str::<ListResult<'_>>(result.get()) else { continue };
        let Ok(tools) = serde_json::from_str::<Vec<&RawValue>>(result.tools.get()) else { continue };
        let kept: Vec<&str> = tools
            .iter()
            .map(|t| t.get())
            .filter(|t| serde_json::from_str::<ListedTool<'_>>(t).map_or(true, |t| !hide(&t.name)))
            .collect();
        if kept.len() < tools.len() {
            edits.push((span(text, result.tools.get()), format!("[{}]", kept.join(","))));
        }
    }
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, replacement) in edits {
        out.push_str(&text[at..range.start]);
        out.push_str(&replacement);
        at = range.end;
    }
    out.push_str(&text[at..]);
    Some(out)
}

/// Where `part`, borrowed from `whole` (a raw value serde handed back), lies in `whole`.
fn span(whole: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(body: &str) -> Result<(Vec<String>, bool), Unreadable> {
        tool_calls(body.as_bytes()).map(|c| (c.names.into_iter().map(Cow::into_owned).collect(), c.batch))
    }

    fn list_ids(body: &str) -> Vec<Value> {
        tool_calls(body.as_bytes()).expect("readable").list_ids
    }

    #[test]
    fn tools_list_requests_are_remembered_by_id() {
        assert_eq!(list_ids(r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#), [serde_json::json!(7)]);
        assert_eq!(
            list_ids(
                r#"[{"id":"a\u0062","method":"tools/list","params":{"cursor":"x"}},{"id":1,"method":"tools/call","params":{"name":"n"}},{"method":"tools/list"},{"id":null,"method":"tools/list"},{"id":2,"method":"tools/list"}]"#
            ),
            [serde_json::json!("ab"), serde_json::json!(2)],
            "notifications get no answer; ids are compared as JSON values"
        );
        assert!(list_ids(r#"{"id":1,"method":"tools/call","params":{"name":"n"}}"#).is_empty());
    }

    fn filtered(text: &str, ids: &[Value]) -> (Option<String>, Vec<Value>) {
        let mut ids = ids.to_vec();
        let out = filter_tool_list(text, &mut ids, |name| name.starts_with("secret"));
        (out, ids)
    }

    #[test]
    fn a_tool_list_loses_only_the_hidden_tools() {
        let text = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","inputSchema":{"name":"secret"}}, {"name":"secret_a"},{"description":"x","name":"secr\u0065t_b"}],"nextCursor":"c"}}"#;
        assert_eq!(
            filtered(text, &[serde_json::json!(1), serde_json::json!(2)]),
            (
                Some(
                    r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","inputSchema":{"name":"secret"}}],"nextCursor":"c"}}"#
                        .into()
                ),
                vec![serde_json::json!(2)]
            )
        );
        // Another id, nothing hidden, or not a tool list: unchanged (the id still answered).
        assert_eq!(filtered(text, &[serde_json::json!("1")]).0, None);
        let plain = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"}]}}"#;
        assert_eq!(filtered(plain, &[serde_json::json!(1)]), (None, vec![]));
        let error = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}"#;
        assert_eq!(filtered(error, &[serde_json::json!(1)]), (None, vec![]));
        for unreadable in
            ["", "{", "data", r#"{"id":1,"result":{"tools":{}}}"#, r#"{"id":1,"id":1,"result":{}}"#]
        {
            assert_eq!(filtered(unreadable, &[serde_json::json!(1)]).0, None, "{unreadable}");
        }
    }

    #[test]
    fn a_batch_of_answers_is_filtered_where_it_answers_a_tool_list() {
        let text = "[{\"id\":2,\"result\":{}},\n {\"id\":1,\"result\":{\"tools\":[\n{\"name\":\"secret\"},\n{\"name\":\"b\"}\n]}}, {\"id\":3,\"result\":{\"tools\":[{\"name\":\"secret\"}]}}]";
        let (out, left) = filtered(text, &[serde_json::json!(3), serde_json::json!(1)]);
        assert_eq!(
            out.as_deref(),
            Some(
                "[{\"id\":2,\"result\":{}},\n {\"id\":1,\"result\":{\"tools\":[{\"name\":\"b\"}]}}, {\"id\":3,\"result\":{\"tools\":[]}}]"
            )
        );
        assert!(left.is_empty());
    }

    #[test]
    fn tool_names_come_from_tools_call_params_only() {
        let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"name":"x","n":[1,{}]},"name":"delete_file"}}"#;
        assert_eq!(names(call), Ok((vec!["delete_file".into()], false)));
        let escaped = r#"{"method":"tools\/call","params":{"name":"delete\u005ffile"}}"#;
        assert_eq!(
            names(escaped),
            Ok((vec!["delete_file".into()], false)),
            "escapes are read as JSON reads them"
        );
        for other in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":["a"]}"#,
            r#"{"method":"Tools/Call","params":{"name":"x"}}"#,
        ] {
            assert_eq!(names(other), Ok((vec![], false)), "{other}");
        }
    }

    #[test]
    fn batches_name_every_call() {
        let batch = r#" [{"method":"tools/call","params":{"name":"a"}},{"method":"tools/list"},{"method":"tools/call","params":{"name":"b"}}]"#;
        assert_eq!(names(batch), Ok((vec!["a".into(), "b".into()], true)));
        assert_eq!(names("[]"), Ok((vec![], true)));
    }

    #[test]
    fn what_cannot_be_read_is_refused_not_guessed() {
        for bad in [
            "",
            "not json",
            r#"{"method":"tools/call","params":{"name":"a"}"#,
            r#"{"method":"tools/list","method":"tools/call","params":{"name":"a"}}"#,
            r#"[{"method":"tools/call","params":{"name":"a"}}, 3]"#,
            r#""tools/call""#,
        ] {
            assert_eq!(names(bad), Err(Unreadable::NotJsonRpc), "{bad}");
        }
        for bad in [
            r#"{"method":"tools/call"}"#,
            r#"{"method":"tools/call","params":null}"#,
            r#"{"method":"tools/call","params":{"name":3}}"#,
            r#"{"method":"tools/call","params":{"name":"a","name":"b"}}"#,
        ] {
            assert_eq!(names(bad), Err(Unreadable::NoToolName), "{bad}");
        }
    }
}

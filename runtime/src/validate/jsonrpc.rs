//! The tools an MCP `POST` body calls: its JSON-RPC 2.0 message (or batch) read only as far as
//! `method` and, for `tools/call`, `params.name`
//! (<https://www.jsonrpc.org/specification>,
//! <https://modelcontextprotocol.io/specification/2025-11-25/server/tools#calling-tools>). The
//! tool arguments and every other member are skipped, never built.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The JSON-RPC method whose tool the policy checks.
const TOOLS_CALL: &str = "tools/call";

/// The tools a body calls, in order (a name once per call).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ToolCalls<'a> {
    /// The `params.name` of each `tools/call`.
    pub(super) names: Vec<Cow<'a, str>>,
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

/// One message: only what the policy needs (`method`, and `params` left unparsed).
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
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
    for m in messages {
        if m.method.as_deref() != Some(TOOLS_CALL) {
            continue;
        }
        let params = m.params.ok_or(Unreadable::NoToolName)?;
        let params: CallParams<'_> =
            serde_json::from_str(params.get()).map_err(|_| Unreadable::NoToolName)?;
        names.push(params.name);
    }
    Ok(ToolCalls { names, batch })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(body: &str) -> Result<(Vec<String>, bool), Unreadable> {
        tool_calls(body.as_bytes()).map(|c| (c.names.into_iter().map(Cow::into_owned).collect(), c.batch))
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

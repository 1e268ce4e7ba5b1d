//! Compiler diagnostics made independent of the machine, as trybuild writes them (its
//! `normalize.rs`, MIT OR Apache-2.0, whose latest normalization this follows), so that the
//! `.stderr` files written by trybuild stay valid:
//!
//! - the case's own file keeps its line numbers, and its path is relative to this package
//!   (`cases/routes/fail/bad_mode.rs:8:15`);
//! - other files lose their line numbers and their machine-specific prefix: `$WORKSPACE/…` for the
//!   workspace (whose members' files rustc names relative to the workspace root, where cargo and
//!   the harness run it), `$CARGO/{crate}-$VERSION/…` for the registry, `$RUST/…` for the standard
//!   library;
//! - rustc's summary lines (`aborting due to …`, `For more information …`) are dropped, trailing
//!   spaces trimmed, and code blocks unindented to their narrowest gutter.

use std::path::Path;

/// What a diagnostic is normalized against.
pub(crate) struct Context<'a> {
    /// The case's crate name (its file stem), shown as `$CRATE`.
    pub(crate) krate: &'a str,
    /// This package's directory relative to the workspace root, with a trailing `/`.
    pub(crate) package: &'a str,
    /// The directory the case paths are relative to (this package), with a trailing `/`.
    pub(crate) source_dir: &'a str,
    /// The workspace root, with a trailing `/`.
    pub(crate) workspace: &'a str,
    /// The case, relative to `source_dir` (rustc was given `{package}{input_file}`).
    pub(crate) input_file: &'a Path,
}

/// One rendered diagnostic, normalized; empty when there is nothing left of it.
pub(crate) fn diagnostic(rendered: &str, context: &Context<'_>) -> String {
    let rendered = rendered.replace("\r\n", "\n");
    let lines: Vec<&str> = rendered.lines().collect();
    let mut filter = Filter { lines: &lines, context, hide_numbers: 0, other_types: None };
    let mut normalized = String::new();
    for i in 0..lines.len() {
        if let Some(line) = filter.apply(i) {
            normalized += &line;
            if !normalized.ends_with("\n\n") {
                normalized.push('\n');
            }
        }
    }
    trim(&unindent(&normalized))
}

/// Without trailing white space, and ending in one newline unless empty.
pub(crate) fn trim(text: &str) -> String {
    let mut trimmed = text.trim_end().to_owned();
    if !trimmed.is_empty() {
        trimmed.push('\n');
    }
    trimmed
}

struct Filter<'a> {
    lines: &'a [&'a str],
    context: &'a Context<'a>,
    /// How many of the next lines have their line numbers blanked.
    hide_numbers: usize,
    /// Within a "the following types implement trait" list: how many types so far.
    other_types: Option<usize>,
}

impl Filter<'_> {
    fn apply(&mut self, index: usize) -> Option<String> {
        let mut line = self.lines[index].to_owned();
        if self.hide_numbers > 0 {
            hide_leading_numbers(&mut line);
            self.hide_numbers -= 1;
        }
        let trim_start = line.trim_start();
        let indent = line.len() - trim_start.len();
        if trim_start.starts_with("--> ") || trim_start.starts_with("::: ") {
            return Some(self.location(line, index, indent));
        }
        const DROPPED: &[&str] = &[
            "error: aborting due to ",
            "To learn more, run the command again with --verbose.",
            "error: could not compile `",
            "For more information about this error, try `rustc --explain",
            "Some errors have detailed explanations:",
            "For more information about an error, try `rustc --explain",
        ];
        if DROPPED.iter().any(|d| line.starts_with(d)) || is_warning_count(&line) {
            return None;
        }
        line.truncate(line.trim_end().len());
        if line.trim_start().starts_with("= note: required because it appears within the type") {
            line = line.replace('\\', "/");
        }
        let trim_start = line.trim_start();
        if trim_start.starts_with("and ") && line.ends_with(" others") {
            let indent = line.len() - trim_start.len();
            let (start, end) = (indent + "and ".len(), line.len() - " others".len());
            if start < end && line[start..end].bytes().all(|b| b.is_ascii_digit()) {
                line.replace_range(start..end, "$N");
            }
        }
        let note = line.trim_start().strip_prefix("= note: ").unwrap_or(line.trim_start());
        if note.starts_with("the full type name has been written to")
            || note.starts_with("the full name for the type has been written to")
        {
            return None;
        }
        if !self.other_types(&mut line, index, indent) {
            return None;
        }
        line = line.replace(self.context.krate, "$CRATE");
        line = replace_case_insensitive(&line, self.context.source_dir, "$DIR/");
        line = replace_case_insensitive(&line, self.context.workspace, "$WORKSPACE/");
        Some(line)
    }

    /// A `--> file:line:col` or `::: file:line:col` line.
    fn location(&mut self, mut line: String, index: usize, indent: usize) -> String {
        line = line.replace('\\', "/");
        let path_start = indent + 4;
        let lower = line.to_ascii_lowercase();
        let source_dir = self.context.source_dir.to_ascii_lowercase();
        let workspace = self.context.workspace.to_ascii_lowercase();
        let input = self.context.input_file.to_string_lossy().replace('\\', "/").to_ascii_lowercase();
        let package = self.context.package.to_ascii_lowercase();
        let path = &lower[path_start..];
        let other_file = if path.strip_prefix(&package).is_some_and(|p| p.starts_with(&input)) {
            // The case itself: relative to this package, line numbers kept.
            line.replace_range(path_start..path_start + package.len(), "");
            return line;
        } else if !path.starts_with(['/', '$']) && path.get(1..3).is_none_or(|s| s != ":/") {
            // A relative path: a workspace member's file.
            line.insert_str(path_start, "$WORKSPACE/");
            true
        } else if lower[path_start..].starts_with(&source_dir) {
            line.replace_range(path_start..path_start + source_dir.len(), "");
            !line[path_start..].to_ascii_lowercase().starts_with(&input)
        } else if let Some(i) = lower.find(&workspace) {
            line.replace_range(i..i + workspace.len() - 1, "$WORKSPACE");
            true
        } else {
            rust_library(&mut line, indent) || cargo_registry(&mut line, indent)
        };
        if other_file {
            // rustc reaches into files the case does not own; their line numbers are not pinned.
            hide_trailing_numbers(&mut line);
            self.hide_numbers = 1;
            while let Some(next) = self.lines.get(index + self.hide_numbers) {
                match next.trim_start().chars().next().unwrap_or_default() {
                    '0'..='9' | '|' | '.' => self.hide_numbers += 1,
                    _ => break,
                }
            }
        }
        line
    }

    /// Lists of implementations are cut after nine entries (`and $N others`); false to drop the line.
    fn other_types(&mut self, line: &mut String, index: usize, indent: usize) -> bool {
        let trim_start = line.trim_start();
        if trim_start.starts_with("= help: the following types implement trait ")
            || trim_start.starts_with("= help: the following other types implement trait ")
        {
            self.other_types = Some(0);
        } else if let Some(count) = &mut self.other_types {
            if indent >= 12 && trim_start != "and $N others" {
                *count += 1;
                if *count == 9 {
                    if let Some(next) = self.lines.get(index + 1) {
                        let next_indent = next.len() - next.trim_start().len();
                        if indent == next_indent {
                            line.replace_range(indent - 2.., "and $N others");
                        }
                    }
                } else if *count > 9 {
                    return false;
                }
            } else {
                self.other_types = None;
            }
        }
        true
    }
}

/// `warning: 2 warnings emitted`: a count, not a diagnostic.
fn is_warning_count(line: &str) -> bool {
    line.strip_prefix("warning: ").is_some_and(|rest| {
        rest.ends_with(" emitted")
            && rest.split(' ').next().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn is_lowercase_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `/rustc/{commit}/library/…` or `…/rustlib/src/rust/library/…` → `$RUST/…`.
fn rust_library(line: &mut String, indent: usize) -> bool {
    let start = indent + 4;
    if let Some(pos) = line.find("/rustlib/src/rust/library/") {
        line.replace_range(start..pos + 25, "$RUST");
        return true;
    }
    if line[start..].starts_with("/rustc/")
        && line.get(start + 7..start + 47).is_some_and(is_lowercase_hex)
        && line[start + 47..].starts_with("/library/")
    {
        line.replace_range(start..start + 55, "$RUST");
        return true;
    }
    false
}

/// `…/registry/src/{registry}-{16 hex}/{crate}-{version}/…` → `$CARGO/{crate}-$VERSION/…`.
fn cargo_registry(line: &mut String, indent: usize) -> bool {
    const PREFIX: &str = "/registry/src/";
    let Some(pos) = line.find(PREFIX) else { return false };
    let rest = &line[pos + PREFIX.len()..];
    let Some(slash) = rest.find('/') else { return false };
    let Some((_, hash)) = rest[..slash].rsplit_once('-') else { return false };
    if hash.len() != 16 || !is_lowercase_hex(hash) {
        return false;
    }
    line.replace_range(indent + 4..pos + PREFIX.len() + slash, "$CARGO");
    let rest = &line[indent + 11..];
    if let Some(end_of_version) = rest.find('/')
        && let Some(end_of_name) = rest[..end_of_version].find('.').and_then(|dot| rest[..dot].rfind('-'))
    {
        line.replace_range(indent + end_of_name + 12..indent + end_of_version + 11, "$VERSION");
    }
    true
}

/// `10 | T: Send,` → `   | T: Send,`.
fn hide_leading_numbers(line: &mut String) {
    let n = line.bytes().take_while(|b| *b == b' ' || b.is_ascii_digit()).count();
    line.replace_range(..n, &" ".repeat(n));
}

/// `main.rs:22:29` → `main.rs`.
fn hide_trailing_numbers(line: &mut String) {
    for _ in 0..2 {
        let digits = line.bytes().rev().take_while(u8::is_ascii_digit).count();
        if digits == 0 || !line[..line.len() - digits].ends_with(':') {
            return;
        }
        line.truncate(line.len() - digits - 1);
    }
}

/// Every occurrence of `pattern` (any case, either slash) replaced, and the rest of that path
/// written with forward slashes.
fn replace_case_insensitive(line: &str, pattern: &str, replacement: &str) -> String {
    let line_lower = line.to_ascii_lowercase().replace('\\', "/");
    let pattern_lower = pattern.to_ascii_lowercase().replace('\\', "/");
    if pattern_lower.is_empty() || !line_lower.contains(&pattern_lower) {
        return line.to_owned();
    }
    let mut replaced = String::with_capacity(line.len());
    let mut pos = 0;
    let mut split = line_lower.split(pattern_lower.as_str());
    let mut insert_replacement = false;
    while let Some(keep) = split.next() {
        if insert_replacement {
            replaced.push_str(replacement);
            pos += pattern.len();
        }
        let mut keep = &line[pos..pos + keep.len()];
        if insert_replacement {
            let end_of_path = keep.find([' ', ':']).unwrap_or(keep.len());
            replaced.push_str(&keep[..end_of_path].replace('\\', "/"));
            pos += end_of_path;
            keep = &keep[end_of_path..];
        }
        replaced.push_str(keep);
        pos += keep.len();
        insert_replacement = true;
        if replaced.ends_with(|c: char| c.is_ascii_alphanumeric())
            && let Some(c) = line[pos..].chars().next()
        {
            replaced.push(c);
            pos += c.len_utf8();
            split = line_lower[pos..].split(pattern_lower.as_str());
            insert_replacement = false;
        }
    }
    replaced
}

#[derive(PartialEq)]
enum LineKind {
    /// `error…`, `warning…`.
    Heading,
    /// A line of a code block, and how many of its leading spaces may go.
    Code(usize),
    /// `note:`, `help:`, `...`.
    Note,
    /// Anything else, and its leading spaces.
    Other(usize),
}

/// Code blocks unindented to their narrowest gutter (which line numbers of other files, now hidden,
/// had widened).
fn unindent(diagnostic: &str) -> String {
    let mut normalized = String::new();
    let mut lines = diagnostic.lines();
    while let Some(line) = lines.next() {
        normalized.push_str(line);
        normalized.push('\n');
        if line_kind(line, true, &mut false) != LineKind::Heading {
            continue;
        }
        let mut ahead = lines.clone();
        let Some(next) = ahead.next() else { continue };
        let LineKind::Code(indent) = line_kind(next, false, &mut false) else { continue };
        if !next[indent + 1..].starts_with("--> ") {
            continue;
        }
        let mut in_block = 1;
        let mut least_indent = indent;
        let mut previous_is_note = false;
        for line in ahead {
            match line_kind(line, false, &mut previous_is_note) {
                LineKind::Heading => break,
                LineKind::Code(indent) => {
                    in_block += 1;
                    least_indent = least_indent.min(indent);
                }
                LineKind::Note => in_block += 1,
                LineKind::Other(spaces) if spaces > 10 => in_block += 1,
                LineKind::Other(_) => break,
            }
        }
        let mut previous_is_note = false;
        for line in lines.by_ref().take(in_block) {
            match line_kind(line, false, &mut previous_is_note) {
                LineKind::Code(_) | LineKind::Other(_) => {
                    let space = line.find(' ').unwrap_or(0);
                    normalized.push_str(&line[..space]);
                    normalized.push_str(&line[space + least_indent..]);
                }
                _ => normalized.push_str(line),
            }
            normalized.push('\n');
        }
    }
    normalized
}

fn line_kind(line: &str, first_in_block: bool, previous_is_note: &mut bool) -> LineKind {
    let previous_was_note = std::mem::replace(previous_is_note, false);
    for heading in ["error", "warning"] {
        if line.strip_prefix(heading).is_some_and(|rest| rest.starts_with([':', '['])) {
            return LineKind::Heading;
        }
    }
    if first_in_block && line.starts_with("note: ") {
        return LineKind::Heading;
    }
    if line.starts_with("note:")
        || line == "..."
        || line.starts_with("help:")
        || previous_was_note && line.starts_with("      ")
    {
        *previous_is_note = true;
        return LineKind::Note;
    }
    if let Some(rest) = line.strip_prefix("... ") {
        return LineKind::Code(rest.bytes().take_while(|b| *b == b' ').count());
    }
    let mut spaces = line.bytes().take_while(|b| *b == b' ').count();
    let digits = line[spaces..].bytes().take_while(u8::is_ascii_digit).count();
    spaces += line[spaces + digits..].bytes().take_while(|b| *b == b' ').count();
    let rest = &line[digits + spaces..];
    let gutter = rest == "|" || rest.starts_with("| ");
    let suggestion =
        digits > 0 && ["~", "+", "-"].iter().any(|m| rest == *m || rest.starts_with(&format!("{m} ")));
    let location =
        digits == 0 && (rest.starts_with("--> ") || rest.starts_with("::: ") || rest.starts_with("= "));
    if spaces > 0 && (gutter || suggestion || location) {
        return LineKind::Code(spaces - 1);
    }
    LineKind::Other(if digits == 0 { spaces } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context<'static> {
        Context {
            krate: "bad_mode",
            package: "trybuild/",
            source_dir: "/w/trybuild/",
            workspace: "/w/",
            input_file: Path::new("cases/routes/fail/bad_mode.rs"),
        }
    }

    #[test]
    fn the_case_keeps_its_lines_and_other_files_lose_theirs() {
        let rendered = "\
error[E0277]: oops
   --> trybuild/cases/routes/fail/bad_mode.rs:8:15
    |
8   |         mode: brige,
    |               ^^^^^
note: required by a bound in `env`
   --> runtime/src/__private.rs:120:30
    |
120 |     lookup: impl Fn(&str) -> Option<String>,
    |                              ^^^^^^^^^^^^^^ required by this bound in `env`
   ::: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/axum-0.8.9/src/routing/mod.rs:10:1
    |
10  | pub struct Router;
    | ^^^^^^^^^^^^^^^^^^

error: aborting due to 1 previous error

For more information about this error, try `rustc --explain E0277`.
";
        let expected = "\
error[E0277]: oops
 --> cases/routes/fail/bad_mode.rs:8:15
  |
8 |         mode: brige,
  |               ^^^^^
note: required by a bound in `env`
 --> $WORKSPACE/runtime/src/__private.rs
  |
  |     lookup: impl Fn(&str) -> Option<String>,
  |                              ^^^^^^^^^^^^^^ required by this bound in `env`
 ::: $CARGO/axum-$VERSION/src/routing/mod.rs
  |
  | pub struct Router;
  | ^^^^^^^^^^^^^^^^^^
";
        assert_eq!(diagnostic(rendered, &context()), expected);
    }

    #[test]
    fn summaries_are_dropped_and_the_standard_library_is_rust() {
        let rendered = "\
warning: unused variable: `x`
 --> /rustc/59807616e1df55cb5a3ab8a6bf4c6f5ac1d1bd52/library/core/src/ops.rs:3:9

warning: 1 warning emitted
";
        assert_eq!(
            diagnostic(rendered, &context()),
            "warning: unused variable: `x`\n --> $RUST/core/src/ops.rs\n"
        );
    }
}

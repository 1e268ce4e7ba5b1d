//! A line diff of the expected and the actual diagnostics, for a mismatch.

/// `expected` → `actual`, line by line: `-` only expected, `+` only actual, ` ` both.
pub(crate) fn lines(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // common[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] =
                if a[i] == b[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!("  {}\n", a[i]);
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || common[i + 1][j] >= common[i][j + 1]) {
            out += &format!("- {}\n", a[i]);
            i += 1;
        } else {
            out += &format!("+ {}\n", b[j]);
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn shows_what_changed_between_common_lines() {
        let diff = super::lines("error: a\n --> x.rs:1:1\nold\n", "error: a\n --> x.rs:1:1\nnew\nmore\n");
        assert_eq!(diff, "  error: a\n   --> x.rs:1:1\n- old\n+ new\n+ more\n");
    }
}

//! Statement splitting as the original's splitter (Python `sqlparse.split`) does it for the
//! cases SQL jobs meet: `;` ends a statement unless it is inside a quoted string or identifier,
//! a comment, a dollar-quoted body, parentheses, or a `CREATE … BEGIN … END` block. Each piece
//! keeps its terminator; pieces that are only whitespace are dropped.

/// Splits `text` (outer whitespace removed first) into statements.
pub fn split(text: &str) -> Vec<String> {
    let text = text.trim();
    let chars: Vec<char> = text.chars().collect();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut state = Level::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\'' | '"' | '`' => i = skip_quoted(&chars, i, c),
            '-' if next == Some('-') => i = skip_until(&chars, i, "\n"),
            '/' if next == Some('*') => i = skip_until(&chars, i + 2, "*/"),
            '$' if (i == 0 || !is_word(chars[i - 1])) && dollar_tag(&chars, i).is_some() => {
                let tag = dollar_tag(&chars, i).unwrap_or_default();
                i = skip_until(&chars, i + tag.chars().count(), &tag);
            }
            '(' => {
                state.level += 1;
                i += 1;
            }
            ')' => {
                state.level -= 1;
                i += 1;
            }
            ';' if state.level <= 0 => {
                pieces.push(chars[start..=i].iter().collect::<String>());
                start = i + 1;
                state = Level::default();
                i += 1;
            }
            c if is_word(c) && (i == 0 || !is_word(chars[i - 1])) => {
                let end = (i..chars.len()).find(|&j| !is_word(chars[j])).unwrap_or(chars.len());
                let word: String = chars[i..end].iter().collect::<String>().to_ascii_uppercase();
                i = state.keyword(&word, &chars, end);
            }
            _ => i += 1,
        }
    }
    if start < chars.len() {
        pieces.push(chars[start..].iter().collect());
    }
    pieces.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
}

/// The splitter's nesting state within one statement.
#[derive(Default)]
struct Level {
    level: i32,
    is_create: bool,
    begin_depth: i32,
}

impl Level {
    /// Applies a keyword; returns the index after what it consumed.
    fn keyword(&mut self, word: &str, chars: &[char], end: usize) -> usize {
        match word {
            "CREATE" => self.is_create = true,
            "DECLARE" if self.is_create && self.begin_depth == 0 => self.level += 1,
            "BEGIN" => {
                self.begin_depth += 1;
                if self.is_create {
                    self.level += 1;
                }
            }
            "END" => {
                // `END IF`, `END WHILE`, `END FOR` close one level; `END LOOP` none (as sqlparse).
                let mut j = end;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let after = (j..chars.len()).find(|&k| !is_word(chars[k])).unwrap_or(chars.len());
                let following: String = chars[j..after].iter().collect::<String>().to_ascii_uppercase();
                if j > end && ["IF", "WHILE", "FOR", "LOOP"].contains(&following.as_str()) {
                    if following != "LOOP" {
                        self.level -= 1;
                    }
                    return after;
                }
                self.begin_depth = (self.begin_depth - 1).max(0);
                self.level -= 1;
            }
            "IF" | "FOR" | "WHILE" | "CASE" if self.is_create && self.begin_depth > 0 => self.level += 1,
            _ => {}
        }
        end
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// `$tag$` starting at `i`, if there is one.
fn dollar_tag(chars: &[char], i: usize) -> Option<String> {
    let mut j = i + 1;
    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    (j < chars.len() && chars[j] == '$' && !chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()))
        .then(|| chars[i..=j].iter().collect())
}

/// Index after the closing quote (a doubled quote or a backslash escape stays inside).
fn skip_quoted(chars: &[char], i: usize, quote: char) -> usize {
    let mut j = i + 1;
    while j < chars.len() {
        if chars[j] == '\\' && quote != '`' {
            j += 2;
            continue;
        }
        if chars[j] == quote {
            if chars.get(j + 1) == Some(&quote) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    chars.len()
}

/// Index after the next `end` at or after `from` (end of text if none).
fn skip_until(chars: &[char], from: usize, end: &str) -> usize {
    let end: Vec<char> = end.chars().collect();
    let mut j = from;
    while j + end.len() <= chars.len() {
        if chars[j..j + end.len()] == end[..] {
            return j + end.len();
        }
        j += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn statements_split_on_terminators_outside_quotes_comments_and_blocks() {
        let cases: &[(&str, &[&str])] = &[
            ("select 1; select 2;", &["select 1;", "select 2;"]),
            ("  select 1  ", &["select 1"]),
            ("select ';' as a; select \"x;y\" from t", &["select ';' as a;", "select \"x;y\" from t"]),
            ("select 'it''s; ok'; select 2", &["select 'it''s; ok';", "select 2"]),
            ("select 1; -- a comment; here\nselect 2;", &["select 1;", "-- a comment; here\nselect 2;"]),
            ("select /* x; y */ 1;;", &["select /* x; y */ 1;", ";"]),
            ("select `a;b` from t; select 2", &["select `a;b` from t;", "select 2"]),
            (
                "create function f() returns int as $$ begin return 1; end; $$ language plpgsql; select f();",
                &["create function f() returns int as $$ begin return 1; end; $$ language plpgsql;", "select f();"],
            ),
            (
                "do $body$ begin perform 1; end $body$; select 2",
                &["do $body$ begin perform 1; end $body$;", "select 2"],
            ),
            (
                "CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; SELECT 2; END; CALL p();",
                &["CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; SELECT 2; END;", "CALL p();"],
            ),
            ("BEGIN; insert into t values (1); COMMIT;", &["BEGIN;", "insert into t values (1);", "COMMIT;"]),
            ("select case when a then 1 end from t; select 2", &["select case when a then 1 end from t;", "select 2"]),
            ("insert into t values ('a;b', (1; 2)); select 1", &["insert into t values ('a;b', (1; 2));", "select 1"]),
            ("select {{ x }} from t; select '{{ y }}'", &["select {{ x }} from t;", "select '{{ y }}'"]),
            ("", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(split(text), *want, "{text:?}");
        }
    }
}

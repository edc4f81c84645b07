//! Splitting command lines the way a POSIX shell splits words (quotes and backslashes, no
//! expansion), with one improvement: a Jinja block (`{{ … }}`, `{% … %}`, `{# … #}`) is kept whole
//! inside its word, spaces and quotes included, so `{{ x }}` works in command lines. Parameters
//! are rendered after splitting, so a rendered value can never add words.

/// Why a command line cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// A quote was opened and never closed.
    #[error("unterminated {0} quote")]
    UnterminatedQuote(char),
    /// A Jinja block was opened and never closed.
    #[error("unterminated Jinja block {0}")]
    UnterminatedBlock(&'static str),
    /// The line ends with a lone backslash.
    #[error("trailing backslash")]
    TrailingBackslash,
}

/// The Jinja block starting at `chars[i]`, if one does, and its length in characters.
fn jinja_block(chars: &[char], i: usize) -> Result<Option<(String, usize)>, SplitError> {
    let close = match (chars.get(i), chars.get(i + 1)) {
        (Some('{'), Some('{')) => "}}",
        (Some('{'), Some('%')) => "%}",
        (Some('{'), Some('#')) => "#}",
        _ => return Ok(None),
    };
    let rest: String = chars[i..].iter().collect();
    let end = rest[2..].find(close).ok_or(SplitError::UnterminatedBlock(close))? + 2 + close.len();
    Ok(Some((rest[..end].to_string(), rest[..end].chars().count())))
}

/// Splits `line` into words.
pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some((block, length)) = jinja_block(&chars, i)? {
            word.push_str(&block);
            i += length;
            in_word = true;
            continue;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                let end = chars[i + 1..].iter().position(|&q| q == '\'').ok_or(SplitError::UnterminatedQuote('\''))?;
                word.extend(&chars[i + 1..i + 1 + end]);
                i += end + 1;
                in_word = true;
            }
            '"' => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(SplitError::UnterminatedQuote('"')),
                        Some('"') => break,
                        Some('\\') if matches!(chars.get(i + 1), Some('\\' | '"' | '$' | '`' | '\n')) => {
                            if chars[i + 1] != '\n' {
                                word.push(chars[i + 1]);
                            }
                            i += 2;
                        }
                        Some('{') if matches!(chars.get(i + 1), Some('{' | '%' | '#')) => {
                            let (block, length) = jinja_block(&chars, i)?.expect("a block starts here");
                            word.push_str(&block);
                            i += length;
                        }
                        Some(&other) => {
                            word.push(other);
                            i += 1;
                        }
                    }
                }
                in_word = true;
            }
            '\\' => {
                match chars.get(i + 1) {
                    None => return Err(SplitError::TrailingBackslash),
                    Some('\n') => {}
                    Some(&next) => {
                        word.push(next);
                        in_word = true;
                    }
                }
                i += 1;
            }
            other => {
                word.push(other);
                in_word = true;
            }
        }
        i += 1;
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expected: &[&str]) {
        assert_eq!(split(line).unwrap(), expected, "{line}");
    }

    #[test]
    fn posix_words() {
        check("aws s3 ls {{realm.s3_payloads}}/", &["aws", "s3", "ls", "{{realm.s3_payloads}}/"]);
        check(r#"/bin/echo "Hello from here" 'a b' c\ d"#, &["/bin/echo", "Hello from here", "a b", "c d"]);
        check(r#"say "it's \"quoted\"" ''"#, &["say", "it's \"quoted\"", ""]);
        check("  spaced\tout  \n", &["spaced", "out"]);
        check(r#"a\\b "x\y""#, &[r"a\b", r"x\y"]);
        check("", &[]);
    }

    #[test]
    fn jinja_blocks_stay_whole() {
        check("demo/etl.py --log-level {{ vars.level }}", &["demo/etl.py", "--log-level", "{{ vars.level }}"]);
        check(
            "run --date {{ ustart.strftime('%Y-%m-%d') }}x",
            &["run", "--date", "{{ ustart.strftime('%Y-%m-%d') }}x"],
        );
        check(r#"echo "{{ a }} and {{ 'b c' }}""#, &["echo", "{{ a }} and {{ 'b c' }}"]);
        check("{% if x %}yes{% endif %} next", &["{% if x %}yes{% endif %}", "next"]);
    }

    #[test]
    fn errors() {
        assert_eq!(split("echo 'open"), Err(SplitError::UnterminatedQuote('\'')));
        assert_eq!(split("echo \"open"), Err(SplitError::UnterminatedQuote('"')));
        assert_eq!(split("echo {{ x"), Err(SplitError::UnterminatedBlock("}}")));
        assert_eq!(split("echo \\"), Err(SplitError::TrailingBackslash));
    }
}

//! Tokens of a signature or type string, each with its byte position.

use std::fmt;

use super::{err, SignatureError};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Punct(char),
    Number(u64),
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Punct(c) => write!(f, "'{c}'"),
            Tok::Number(n) => write!(f, "'{n}'"),
            Tok::End => f.write_str("the end of the text"),
        }
    }
}

pub(super) fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, SignatureError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(text[start..i].to_string()), start));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let n = text[start..i]
                .parse()
                .map_err(|_| err(text, start, "number too large"))?;
            out.push((Tok::Number(n), start));
        } else if b"()*,[]:".contains(&c) {
            out.push((Tok::Punct(c as char), i));
            i += 1;
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(err(
                text,
                i,
                &format!("unexpected character {ch:?} in a signature"),
            ));
        }
    }
    out.push((Tok::End, text.len()));
    Ok(out)
}

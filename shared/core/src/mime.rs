//! An email as the original builds it (Python's `EmailMessage`), made with `lettre`: `Subject`,
//! `Date`, `Message-ID`, `User-Agent`, `From`, `To`, `Cc`, `Reply-To` (never `Bcc`), the body as
//! one inline text part (plain, or HTML when it starts with `<html>`), and a multipart/mixed
//! message only when there are attachments. Addresses are checked; headers are folded and
//! encoded by `lettre`.

use lettre::message::header::{ContentDisposition, ContentTransferEncoding, ContentType, UserAgent};
use lettre::message::{Attachment as Part, Mailbox, Message, MultiPart, SinglePart};

use crate::error::{Error, Result};
use crate::ports::Email;

/// The message, ready to send (its envelope names every recipient, Bcc included).
pub fn message(email: &Email) -> Result<Message> {
    let mailbox = |field: &str, text: &str| {
        text.trim()
            .parse::<Mailbox>()
            .map_err(|e| Error::Refused(format!("email {field}: {text:?} is not an address: {e}")))
    };
    let mut builder = Message::builder()
        .from(mailbox("from", &email.from)?)
        .subject(email.subject.clone())
        .date_now()
        .message_id(Some(message_id()))
        .header(UserAgent::from(format!("lava/{} (lava)", env!("CARGO_PKG_VERSION"))));
    for to in &email.to {
        builder = builder.to(mailbox("to", to)?);
    }
    for cc in &email.cc {
        builder = builder.cc(mailbox("cc", cc)?);
    }
    for bcc in &email.bcc {
        builder = builder.bcc(mailbox("bcc", bcc)?);
    }
    for reply_to in &email.reply_to {
        builder = builder.reply_to(mailbox("reply_to", reply_to)?);
    }
    let content_type = if email.html { ContentType::TEXT_HTML } else { ContentType::TEXT_PLAIN };
    // The text as Python's `set_content` leaves it (ending in a line break), with CRLF line
    // ends, in base64: what a reader decodes is byte for byte the original's (SMTP's end of
    // data would add a blank line to a 7-bit body).
    let mut text = email.body.replace("\r\n", "\n");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let body = SinglePart::builder()
        .header(content_type)
        .header(ContentDisposition::inline())
        .header(ContentTransferEncoding::Base64)
        .body(text.replace('\n', "\r\n"));
    let built = if email.attachments.is_empty() {
        builder.singlepart(body)
    } else {
        let mut parts = MultiPart::mixed().singlepart(body);
        for a in &email.attachments {
            let kind = ContentType::parse(&a.content_type)
                .map_err(|e| Error::Refused(format!("attachment {}: content type {}: {e}", a.name, a.content_type)))?;
            parts = parts.singlepart(Part::new(a.name.clone()).body(a.data.clone(), kind));
        }
        builder.multipart(parts)
    };
    built.map_err(|e| Error::Refused(format!("email: {e}")))
}

/// A message id as Python's `make_msgid` makes one: `<time.pid.random@host>`.
fn message_id() -> String {
    let centis = jiff::Timestamp::now().as_millisecond() / 10;
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "lava".into());
    format!("<{centis}.{}.{random}@{host}>", std::process::id())
}

/// A MIME type from a file name's extension.
pub fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Attachment;

    fn email() -> Email {
        Email {
            from: "Lava <a@x.com>".into(),
            to: vec!["b@x.com".into(), "c@x.com".into()],
            bcc: vec!["hidden@x.com".into()],
            subject: "Résumé".into(),
            body: "hello".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_plain_email_is_one_inline_text_part_with_the_originals_headers() {
        let built = message(&email()).unwrap();
        let text = String::from_utf8(built.formatted()).unwrap();
        for header in ["Date: ", "Message-ID: <", "User-Agent: lava/", "From: Lava <a@x.com>", "To: b@x.com, c@x.com"] {
            assert!(text.contains(header), "{header} in\n{text}");
        }
        assert!(text.contains("Subject: =?utf-8?b?") || text.contains("Subject: =?UTF-8?"), "{text}");
        assert!(text.contains("Content-Type: text/plain; charset=utf-8"), "{text}");
        assert!(text.contains("Content-Disposition: inline"), "{text}");
        assert!(!text.contains("multipart") && !text.contains("hidden@x.com"), "{text}");
        let recipients: Vec<String> = built.envelope().to().iter().map(ToString::to_string).collect();
        assert_eq!(recipients, ["b@x.com", "c@x.com", "hidden@x.com"]);
    }

    #[test]
    fn attachments_make_a_mixed_message_and_bad_addresses_are_refused() {
        let mut with = email();
        with.attachments = vec![Attachment {
            name: "r.csv".into(),
            content_type: content_type("r.csv").into(),
            data: b"a,b\n1,2\n".to_vec(),
        }];
        let text = String::from_utf8(message(&with).unwrap().formatted()).unwrap();
        assert!(text.contains("multipart/mixed") && text.contains("filename=\"r.csv\""), "{text}");
        let mut bad = email();
        bad.to = vec!["not an address".into()];
        let error = message(&bad).unwrap_err().to_string();
        assert!(error.contains("email to: \"not an address\" is not an address"), "{error}");
    }
}

//! A MIME message (RFC 2045/5322) for an email with attachments, sent raw through SES.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::ports::Email;

/// An RFC 2047 encoded-word when `text` is not plain ASCII.
fn header_text(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        text.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", STANDARD.encode(text))
    }
}

/// Base64 in 76-character lines.
fn wrapped(data: &[u8]) -> String {
    let encoded = STANDARD.encode(data);
    encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// The whole message: headers, the body part and one part per attachment.
pub fn message(email: &Email, boundary: &str) -> Vec<u8> {
    let mut out = String::new();
    out.push_str(&format!("From: {}\r\n", email.from));
    out.push_str(&format!("To: {}\r\n", email.to.join(", ")));
    if !email.cc.is_empty() {
        out.push_str(&format!("Cc: {}\r\n", email.cc.join(", ")));
    }
    if !email.reply_to.is_empty() {
        out.push_str(&format!("Reply-To: {}\r\n", email.reply_to.join(", ")));
    }
    out.push_str(&format!("Subject: {}\r\n", header_text(&email.subject)));
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str(&format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"));
    let subtype = if email.html { "html" } else { "plain" };
    out.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/{subtype}; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ));
    out.push_str(&wrapped(email.body.as_bytes()));
    out.push_str("\r\n");
    for attachment in &email.attachments {
        let name = header_text(&attachment.name).replace('"', "");
        out.push_str(&format!(
            "--{boundary}\r\nContent-Type: {}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            attachment.content_type
        ));
        out.push_str(&wrapped(&attachment.data));
        out.push_str("\r\n");
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out.into_bytes()
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

    #[test]
    fn attachments_are_base64_parts() {
        let email = Email {
            from: "a@x.com".into(),
            to: vec!["b@x.com".into(), "c@x.com".into()],
            subject: "Résumé".into(),
            body: "hello".into(),
            attachments: vec![Attachment {
                name: "r.csv".into(),
                content_type: content_type("r.csv").into(),
                data: b"a,b\n1,2\n".to_vec(),
            }],
            ..Default::default()
        };
        let text = String::from_utf8(message(&email, "XYZ")).unwrap();
        assert!(text.contains("To: b@x.com, c@x.com\r\n"));
        assert!(text.contains("Subject: =?UTF-8?B?UsOpc3Vtw6k=?=\r\n"));
        assert!(text.contains("Content-Type: text/csv; name=\"r.csv\""));
        assert!(text.contains(&STANDARD.encode("a,b\n1,2\n")));
        assert!(text.ends_with("--XYZ--\r\n"));
    }
}

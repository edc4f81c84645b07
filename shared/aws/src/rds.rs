//! RDS IAM database authentication: the token RDS and Aurora (PostgreSQL and MySQL) accept as
//! the password of a user granted `rds_iam`, as `generate_db_auth_token` makes it: a
//! `GET https://<host>:<port>/?Action=connect&DBUser=<user>` presigned with SigV4 for the
//! service `rds-db`, valid for 15 minutes, without its `https://`.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};

/// How long a token is accepted, as the original's (botocore's) tokens.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// Percent-encodes a query value as SigV4 canonical requests do (unreserved characters kept).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The token for `user` at `host:port` in `region`, signed with `credentials` at `at`.
pub fn db_auth_token(
    host: &str,
    port: u16,
    user: &str,
    region: &str,
    credentials: &Credentials,
    at: SystemTime,
) -> Result<String> {
    let bad = |e: &dyn std::fmt::Display| Error::unexpected("rds-db token", e.to_string());
    let url = format!("https://{host}:{port}/?Action=connect&DBUser={}", encode(user));
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let identity = credentials.clone().into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("rds-db")
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| bad(&e))?
        .into();
    let request =
        SignableRequest::new("GET", url.as_str(), std::iter::empty(), SignableBody::Bytes(&[])).map_err(|e| bad(&e))?;
    let (instructions, _) = sign(request, &params).map_err(|e| bad(&e))?.into_parts();
    let mut token = url.trim_start_matches("https://").to_string();
    for (name, value) in instructions.params() {
        token.push_str(&format!("&{name}={}", encode(value)));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_a_presigned_connect_request_without_its_scheme() {
        let credentials =
            Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "test");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_040_000);
        let token = db_auth_token("db.example.com", 5432, "lava user", "ap-southeast-2", &credentials, at).unwrap();
        assert!(token.starts_with("db.example.com:5432/?Action=connect&DBUser=lava%20user&"), "{token}");
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20261130%2Fap-southeast-2%2Frds-db%2Faws4_request",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
        ] {
            assert!(token.contains(part), "{part} missing from {token}");
        }
        assert!(!token.contains("X-Amz-Security-Token"), "no session token was given");
        let signature = token.rsplit_once("X-Amz-Signature=").unwrap().1;
        assert_eq!(signature.len(), 64, "{token}");
    }
}

//! SMB file shares, through the `smb` crate (SMB 2 and 3, NTLMv2, signing, and encryption
//! where the connection or the share asks for it): copy one file from a share to a local file, or a local file onto a share.
//! Files stream in chunks both ways; neither side is held whole in memory.
//!
//! A connection with `is_direct_tcp` speaks SMB straight over TCP (port 445). Without it (port
//! 139, the original's default) the server expects a NetBIOS session request first, naming it
//! (`remote_name`) and this client (`my_name`): the request is made here, and the SMB stream then
//! runs through a loopback relay to that session, since the crate dials its own sockets.

use futures_util::StreamExt;
use smb::connection::{AuthMethodsConfig, EncryptionMode};
use smb::{
    Client, ClientConfig, ConnectionConfig, CreateDisposition, CreateOptions, FileAccessMask, FileAttributes,
    FileCreateArgs, ReadAt, Resource, UncPath, WriteAt,
};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::connections::SmbServer;
use crate::error::{Error, Result};
use crate::model::S3Location;
use crate::ports::{BlobStore, Encryption};

/// Which way a file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the share (`smb_get`, `lava smb get`).
    Get,
    /// Onto the share (`smb_put`, `lava smb put`).
    Put,
}

/// One file between a share and a local file or S3 object.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Which way.
    pub direction: Direction,
    /// The share.
    pub share: String,
    /// The path on the share, as given (a leading `/` is the share's root, as relative).
    pub path: String,
    /// The other side: `s3://bucket/key`, or an absolute local path.
    pub file: String,
    /// Get to S3: the KMS key to write the object with (else `encryption`).
    pub kms_key_id: Option<String>,
    /// Put: create the directories above `path`.
    pub create_dirs: bool,
}

/// Runs `transfer` with `server`: S3 objects go through a file in `scratch`; a new S3 object is
/// written with `kms_key_id`, else `encryption`. Returns what a run records:
/// `{exit_status, source, destination}`, as the original's.
pub async fn transfer(
    server: &SmbServer,
    transfer: &Transfer,
    blobs: &dyn BlobStore,
    encryption: &Encryption,
    scratch: &Path,
) -> Result<serde_json::Value> {
    // Named as given, as the original names it; the share is opened at the path relative to it.
    let remote = format!("{}:{}", transfer.share, transfer.path);
    let on_share = transfer.path.trim_start_matches('/');
    let s3 = match transfer.file.strip_prefix("s3://") {
        Some(_) => {
            Some(S3Location::parse(&transfer.file).map_err(|e| Error::Refused(format!("{}: {e}", transfer.file)))?)
        }
        None => None,
    };
    let staged = scratch.join(format!("smb-{}", uuid::Uuid::new_v4()));
    let local = if s3.is_some() { staged.clone() } else { Path::new(&transfer.file).to_path_buf() };
    let result = async {
        match transfer.direction {
            Direction::Get => {
                get(server, &transfer.share, on_share, &local).await?;
                if let Some(at) = &s3 {
                    let body = tokio::fs::read(&local).await.map_err(|e| Error::io(local.display().to_string(), e))?;
                    let encryption =
                        transfer.kms_key_id.clone().map(Encryption::Kms).unwrap_or_else(|| encryption.clone());
                    blobs
                        .put_object(&at.bucket, &at.key, body, &encryption)
                        .await
                        .map_err(|e| e.within(transfer.file.clone()))?;
                }
            }
            Direction::Put => {
                if let Some(at) = &s3 {
                    let mut chunks =
                        blobs.open_object(&at.bucket, &at.key).await.map_err(|e| e.within(transfer.file.clone()))?;
                    let mut out =
                        tokio::fs::File::create(&local).await.map_err(|e| Error::io(local.display().to_string(), e))?;
                    while let Some(chunk) = chunks.next().await {
                        let chunk = chunk.map_err(|e| e.within(transfer.file.clone()))?;
                        out.write_all(&chunk).await.map_err(|e| Error::io(local.display().to_string(), e))?;
                    }
                    out.flush().await.map_err(|e| Error::io(local.display().to_string(), e))?;
                }
                put(server, &local, &transfer.share, on_share, transfer.create_dirs).await?;
            }
        }
        Ok::<_, Error>(())
    }
    .await;
    let _ = std::fs::remove_file(&staged);
    result?;
    let (source, destination) = match transfer.direction {
        Direction::Get => (remote, transfer.file.clone()),
        Direction::Put => (transfer.file.clone(), remote),
    };
    Ok(serde_json::json!({"exit_status": 0, "source": source, "destination": destination}))
}

/// `share:path` split, the path made relative to the share (`/a/b.csv` and `a/b.csv` name the
/// same file).
pub fn split_location(location: &str) -> Result<(String, String)> {
    let bad = || Error::Refused(format!("{location}: Bad path - must be in the form share:path"));
    let (share, path) = location.split_once(':').ok_or_else(bad)?;
    let path = path.trim_start_matches('/');
    if share.is_empty() || path.is_empty() {
        return Err(bad());
    }
    Ok((share.to_string(), path.to_string()))
}

/// Copies `share:path` to the local file `local` (created or replaced).
pub async fn get(server: &SmbServer, share: &str, path: &str, local: &Path) -> Result<()> {
    let at = format!("{share}:{path}");
    let session = Session::open(server, share).await?;
    let read = FileAccessMask::new().with_generic_read(true);
    let resource =
        session.open_path(path, &FileCreateArgs::make_open_existing(read)).await.map_err(|e| smb_error(&at, e))?;
    let Resource::File(file) = resource else {
        session.close().await;
        return Err(Error::Refused(format!("{at}: is a directory")));
    };
    let copied = async {
        let mut out = tokio::fs::File::create(local).await.map_err(|e| Error::io(local.display().to_string(), e))?;
        let mut buffer = vec![0u8; CHUNK];
        let mut offset = 0u64;
        loop {
            let n = file.read_at(&mut buffer, offset).await.map_err(|e| smb_error(&at, e))?;
            if n == 0 {
                break;
            }
            out.write_all(&buffer[..n]).await.map_err(|e| Error::io(local.display().to_string(), e))?;
            offset += n as u64;
        }
        out.flush().await.map_err(|e| Error::io(local.display().to_string(), e))
    }
    .await;
    let _ = file.close().await;
    session.close().await;
    copied
}

/// Copies the local file `local` to `share:path` (created or replaced), first creating the
/// directories above it when `create_dirs`.
pub async fn put(server: &SmbServer, local: &Path, share: &str, path: &str, create_dirs: bool) -> Result<()> {
    let at = format!("{share}:{path}");
    let mut input = tokio::fs::File::open(local).await.map_err(|e| Error::io(local.display().to_string(), e))?;
    let session = Session::open(server, share).await?;
    let written = async {
        if create_dirs {
            session.make_parents(share, path).await?;
        }
        let args =
            FileCreateArgs::make_overwrite(FileAttributes::new(), CreateOptions::new().with_non_directory_file(true));
        let file = session.open_path(path, &args).await.map_err(|e| smb_error(&at, e))?.unwrap_file();
        let copied = async {
            let mut buffer = vec![0u8; CHUNK];
            let mut offset = 0u64;
            loop {
                let n = input.read(&mut buffer).await.map_err(|e| Error::io(local.display().to_string(), e))?;
                if n == 0 {
                    return Ok(());
                }
                let mut sent = 0;
                while sent < n {
                    sent +=
                        file.write_at(&buffer[sent..n], offset + sent as u64).await.map_err(|e| smb_error(&at, e))?;
                }
                offset += n as u64;
            }
        }
        .await;
        let closed = file.close().await.map_err(|e| smb_error(&at, e));
        copied.and(closed)
    }
    .await;
    session.close().await;
    written
}

/// How much one SMB read or write carries (the servers' usual limit without large MTU credits).
const CHUNK: usize = 1 << 16;

/// An authenticated session with one share (the tree connected), and the relay task behind it
/// for a NetBIOS session (aborted when dropped).
struct Session {
    client: Client,
    share: UncPath,
    _relay: Option<Relay>,
}

impl Session {
    /// Connects, logs in (NTLMv2) and connects `share`. With `encrypt`, every request after the
    /// login is encrypted or none is sent (`EncryptionMode::Required`); without it, the server
    /// decides (a share that requires encryption gets it).
    async fn open(server: &SmbServer, share: &str) -> Result<Session> {
        let named = format!("Connection {} to {}:{}", server.conn_id, server.host, server.port);
        let (host, port, relay) = if server.direct_tcp {
            (server.host.clone(), server.port, None)
        } else {
            let relay = Relay::start(server).await?;
            (relay.host.clone(), relay.port, Some(relay))
        };
        let connection = ConnectionConfig {
            port: Some(port),
            timeout: Some(Duration::from_secs(30)),
            encryption_mode: if server.encrypt { EncryptionMode::Required } else { EncryptionMode::Allowed },
            auth_methods: AuthMethodsConfig { ntlm: true, ..Default::default() },
            ..Default::default()
        };
        let client = Client::new(ClientConfig { dfs: false, connection, ..Default::default() });
        let unc = UncPath::new(&host)
            .and_then(|u| u.with_share(share))
            .map_err(|e| Error::Refused(format!("{share}: {}", describe(&e))))?;
        let user = match server.domain.as_str() {
            "" => server.user.clone(),
            domain => format!("{domain}\\{}", server.user),
        };
        if let Err(e) = client.share_connect(&unc, &user, server.password.expose().to_string()).await {
            let _ = client.close().await;
            let text = describe(&e);
            return Err(if server.encrypt && text.contains("ncryption") {
                Error::refused(
                    format!("Connection {}", server.conn_id),
                    format!("encrypt is set, but the server agreed no SMB 3 encryption, so nothing was sent ({text})"),
                )
            } else {
                Error::Unexpected(format!("{named}: {text}"))
            });
        }
        Ok(Session { client, share: unc, _relay: relay })
    }

    /// Opens `path` (relative to the share) with `args`.
    async fn open_path(&self, path: &str, args: &FileCreateArgs) -> std::result::Result<Resource, smb::Error> {
        self.client.create_file(&self.share.clone().with_path(&path.replace('/', "\\")), args).await
    }

    /// Creates each missing directory above `path`; a file in the way is refused.
    async fn make_parents(&self, share: &str, path: &str) -> Result<()> {
        let parents: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let mut dir = String::new();
        for part in parents.iter().take(parents.len().saturating_sub(1)) {
            if !dir.is_empty() {
                dir.push('/');
            }
            dir.push_str(part);
            let at = format!("{share}:{dir}");
            let args = FileCreateArgs {
                disposition: CreateDisposition::OpenIf,
                attributes: FileAttributes::new().with_directory(true),
                options: CreateOptions::new().with_directory_file(true),
                desired_access: FileAccessMask::new().with_generic_read(true),
            };
            match self.open_path(&dir, &args).await {
                Ok(resource) => {
                    let _ = match &resource {
                        Resource::Directory(d) => d.close().await,
                        Resource::File(f) => f.close().await,
                        Resource::Pipe(p) => p.close().await,
                    };
                }
                Err(e) if describe(&e).contains("NOT_A_DIRECTORY") => {
                    return Err(Error::Refused(format!("{at}: is a file, not a directory")));
                }
                Err(e) => return Err(smb_error(&at, e)),
            }
        }
        Ok(())
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// An SMB failure at `at`.
fn smb_error(at: &str, e: smb::Error) -> Error {
    Error::Unexpected(format!("{at}: {}", describe(&e)))
}

/// The crate's error text, an NT status named as Windows and the original's smbprotocol name it
/// (`STATUS_OBJECT_NAME_NOT_FOUND`) with its code.
fn describe(e: &smb::Error) -> String {
    match e {
        smb::Error::ReceivedErrorMessage(code, _) | smb::Error::UnexpectedMessageStatus(code) => status_name(*code),
        other => other.to_string(),
    }
}

/// `STATUS_ACCESS_DENIED (0xc0000022)` for 0xc0000022; a code the crate does not know by its
/// number alone.
fn status_name(code: u32) -> String {
    match smb::Status::try_from(code) {
        Ok(status) => {
            let text = status.to_string();
            let words = text.rsplit_once(" (").map_or(text.as_str(), |(w, _)| w);
            let name: Vec<String> = words.split_whitespace().map(str::to_uppercase).collect();
            format!("STATUS_{} ({code:#010x})", name.join("_"))
        }
        Err(_) => format!("NT status {code:#010x}"),
    }
}

/// A NetBIOS session with the server, relayed to one loopback connection.
struct Relay {
    host: String,
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(server: &SmbServer) -> Result<Relay> {
        let at = format!("Connection {} to {}:{}", server.conn_id, server.host, server.port);
        let mut upstream =
            tokio::time::timeout(Duration::from_secs(30), TcpStream::connect((server.host.as_str(), server.port)))
                .await
                .map_err(|_| Error::Unexpected(format!("{at}: timed out connecting")))?
                .map_err(|e| Error::io(at.clone(), e))?;
        upstream
            .write_all(&session_request(&server.remote_name, &server.my_name))
            .await
            .map_err(|e| Error::io(at.clone(), e))?;
        let mut header = [0u8; 4];
        upstream.read_exact(&mut header).await.map_err(|e| Error::io(at.clone(), e))?;
        let length = u16::from_be_bytes([header[2], header[3]]) as usize;
        let mut body = vec![0u8; length];
        upstream.read_exact(&mut body).await.map_err(|e| Error::io(at.clone(), e))?;
        match header[0] {
            0x82 => {}
            0x83 => {
                let reason = match body.first() {
                    Some(0x80) => "the server does not listen on the called name",
                    Some(0x81) => "the server does not listen for the calling name",
                    Some(0x82) => "the called name is not present",
                    Some(0x83) => "the called name is present but short of resources",
                    _ => "unspecified error",
                };
                return Err(Error::Refused(format!(
                    "{at}: NetBIOS session refused for {} ({reason}); check remote_name or set is_direct_tcp",
                    server.remote_name
                )));
            }
            other => return Err(Error::Unexpected(format!("{at}: unexpected NetBIOS answer 0x{other:02x}"))),
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| Error::io("smb relay", e))?;
        let port = listener.local_addr().map_err(|e| Error::io("smb relay", e))?.port();
        let task = tokio::spawn(async move {
            if let Ok((mut local, _)) = listener.accept().await {
                let _ = tokio::io::copy_bidirectional(&mut local, &mut upstream).await;
            }
        });
        Ok(Relay { host: "127.0.0.1".into(), port, task })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A NetBIOS session request (RFC 1002 4.3.2) from `calling` to `called`.
fn session_request(called: &str, calling: &str) -> Vec<u8> {
    let mut names = encode_name(called, 0x20);
    names.extend(encode_name(calling, 0x00));
    let mut packet = vec![0x81, 0x00];
    packet.extend((names.len() as u16).to_be_bytes());
    packet.extend(names);
    packet
}

/// A NetBIOS name in RFC 1001's first-level encoding: upper case, padded with spaces to 15
/// bytes, the suffix byte, each half-byte as a letter from `A`.
fn encode_name(name: &str, suffix: u8) -> Vec<u8> {
    let mut raw: Vec<u8> = name.to_uppercase().bytes().take(15).collect();
    raw.resize(15, b' ');
    raw.push(suffix);
    let mut encoded = vec![32u8];
    for b in raw {
        encoded.push(b'A' + (b >> 4));
        encoded.push(b'A' + (b & 0x0f));
    }
    encoded.push(0);
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_split_into_share_and_path() {
        assert_eq!(split_location("Public:/a/b.csv").unwrap(), ("Public".into(), "a/b.csv".into()));
        assert_eq!(split_location("Public:a/b.csv").unwrap(), ("Public".into(), "a/b.csv".into()));
        for bad in ["Public", ":a", "Public:/", ""] {
            assert_eq!(
                split_location(bad).unwrap_err().to_string(),
                format!("{bad}: Bad path - must be in the form share:path")
            );
        }
    }

    #[test]
    fn netbios_names_use_the_first_level_encoding() {
        // RFC 1001's example: "FRED" as a workstation name.
        let encoded = encode_name("fred", 0x00);
        assert_eq!(encoded.len(), 34);
        assert_eq!(&encoded[1..33], b"EGFCEFEECACACACACACACACACACACAAA");
        let request = session_request("server", "lava-dev");
        assert_eq!(&request[..4], &[0x81, 0, 0, 68]);
        assert_eq!(request[4 + 1 + 30..4 + 1 + 32], *b"CA", "the called name's suffix is 0x20");
    }
}

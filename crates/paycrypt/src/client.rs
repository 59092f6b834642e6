//! A small blocking client for the paycrypt (AWS Payment Cryptography) control plane: AWS JSON
//! 1.0 requests (`X-Amz-Target: PaymentCryptographyControlPlane.<Op>`), signed with SigV4 by
//! [`paycrypt_server::auth::sign_request`] (the same canonicalisation the server verifies), sent
//! over a hand-rolled HTTP/1.1 exchange on `std::net::TcpStream` — through rustls (already
//! compiled for `serve --tls-cert`) for `https://` endpoints.
//!
//! One request per connection (`Connection: close`); responses are read with `Content-Length`,
//! chunked transfer coding or until the peer closes.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use paycrypt_server::auth::{format_amz_date, sign_request, ClientRequest, Credentials, SERVICE};
use paycrypt_server::config::{parse_credentials_file, ENV_ACCESS_KEY_ID, ENV_SECRET_ACCESS_KEY};
use serde_json::Value;

/// Largest response body accepted (16 MiB).
const MAX_RESPONSE: usize = 16 * 1024 * 1024;
/// Socket read/write timeout.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Why a client command failed.
#[derive(Debug)]
pub enum ClientError {
    /// Bad command-line input, unreadable files, missing credentials (exit code 2).
    Usage(String),
    /// The server refused the request: its `__type` and `message` (exit code 1).
    Server {
        /// The AWS error code (`__type` without any namespace prefix).
        code: String,
        /// The server's message.
        message: String,
    },
    /// The request could not be sent or the answer not read (exit code 1).
    Transport(String),
}

impl ClientError {
    /// The process exit code: 2 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Server { .. } | Self::Transport(_) => 1,
        }
    }

    pub(crate) fn usage(m: impl Into<String>) -> Self {
        Self::Usage(m.into())
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(m) => f.write_str(m),
            Self::Server { code, message } if message.is_empty() => f.write_str(code),
            Self::Server { code, message } => write!(f, "{code}: {message}"),
            Self::Transport(m) => f.write_str(m),
        }
    }
}

/// A parsed `http[s]://host[:port]` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `true` for `https`.
    pub tls: bool,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// The `Host` header value.
    pub authority: String,
}

impl Endpoint {
    /// Parse `http://host[:port][/]` or `https://…`.
    ///
    /// # Errors
    /// [`ClientError::Usage`] for another scheme, a path, a bad port or an empty host.
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = || {
            ClientError::usage(format!(
                "--endpoint-url {url:?} must be http[s]://host[:port]"
            ))
        };
        let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(bad());
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(bad());
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(p) => (h.to_owned(), p.parse().map_err(|_| bad())?),
                None if after.is_empty() => (h.to_owned(), default_port),
                None => return Err(bad()),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad())?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            tls,
            host,
            port,
            authority: authority.to_owned(),
        })
    }
}

/// Resolve the API credentials: `PAYCRYPT_ACCESS_KEY_ID` / `PAYCRYPT_SECRET_ACCESS_KEY`, else
/// the `[default]` profile of `credentials_file`.
///
/// # Errors
/// [`ClientError::Usage`] when only one variable is set or the file is missing or malformed.
pub fn resolve_credentials(credentials_file: &Path) -> Result<Credentials, ClientError> {
    let get = |n: &str| std::env::var(n).ok().filter(|s| !s.is_empty());
    match (get(ENV_ACCESS_KEY_ID), get(ENV_SECRET_ACCESS_KEY)) {
        (Some(id), Some(secret)) => return Ok(Credentials::new(id, secret)),
        (None, None) => {}
        _ => {
            return Err(ClientError::usage(format!(
                "set both {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY}, or neither"
            )))
        }
    }
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(credentials_file).map_err(|e| {
        ClientError::usage(format!(
            "no credentials: {ENV_ACCESS_KEY_ID}/{ENV_SECRET_ACCESS_KEY} are not set and {} cannot be read ({})",
            credentials_file.display(),
            e.kind()
        ))
    })?);
    parse_credentials_file(&text).ok_or_else(|| {
        ClientError::usage(format!(
            "{} has no [default] profile with aws_access_key_id and aws_secret_access_key",
            credentials_file.display()
        ))
    })
}

/// A control-plane client.
#[derive(Debug)]
pub struct Client {
    endpoint: Endpoint,
    region: String,
    credentials: Credentials,
    ca_file: Option<PathBuf>,
}

impl Client {
    /// A client for `endpoint` signing for `region` with `credentials`; `ca_file` (PEM) holds
    /// the trust anchors for `https` (default: `SSL_CERT_FILE`, else the system bundle).
    pub fn new(
        endpoint: Endpoint,
        region: String,
        credentials: Credentials,
        ca_file: Option<PathBuf>,
    ) -> Self {
        Self {
            endpoint,
            region,
            credentials,
            ca_file,
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The signing credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Call control-plane operation `op` with JSON `input`; returns the JSON output.
    ///
    /// # Errors
    /// [`ClientError::Server`] for an error answer, [`ClientError::Transport`] when the server
    /// cannot be reached or answers something that is not AWS JSON.
    pub fn call(&self, op: &str, input: &Value) -> Result<Value, ClientError> {
        let body = serde_json::to_vec(input)
            .map_err(|e| ClientError::Transport(format!("cannot encode the request: {e}")))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let amz_date = format_amz_date(i64::try_from(now).unwrap_or(0));
        let target = format!("PaymentCryptographyControlPlane.{op}");
        let content_type = "application/x-amz-json-1.0";
        let headers = [
            ("content-type", content_type),
            ("host", self.endpoint.authority.as_str()),
            ("x-amz-date", amz_date.as_str()),
            ("x-amz-target", target.as_str()),
        ];
        let auth = sign_request(
            &ClientRequest {
                method: "POST",
                raw_path: "/",
                raw_query: "",
                headers: &headers,
                body: &body,
            },
            &self.credentials,
            &self.region,
            SERVICE,
            &amz_date,
        )
        .map_err(|e| ClientError::usage(format!("cannot sign the request: {e}")))?;
        let mut req = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nX-Amz-Date: {amz_date}\r\nX-Amz-Target: {target}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: paycrypt-cli/{}\r\n\r\n",
            self.endpoint.authority,
            body.len(),
            env!("CARGO_PKG_VERSION")
        )
        .into_bytes();
        req.extend_from_slice(&body);
        let (status, resp) = self.exchange(&req)?;
        let value: Value = if resp.is_empty() {
            Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_slice(&resp).map_err(|_| {
                ClientError::Transport(format!(
                    "HTTP {status} from {} with a body that is not JSON",
                    self.endpoint.authority
                ))
            })?
        };
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let code = value
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = value
            .get("message")
            .or_else(|| value.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        Err(ClientError::Server { code, message })
    }

    fn exchange(&self, request: &[u8]) -> Result<(u16, Vec<u8>), ClientError> {
        let ep = &self.endpoint;
        let t = |what: &str, e: std::io::Error| {
            ClientError::Transport(format!("{what} {}: {e}", ep.authority))
        };
        let addrs: Vec<_> = (ep.host.as_str(), ep.port)
            .to_socket_addrs()
            .map_err(|e| t("cannot resolve", e))?
            .collect();
        let mut last = None;
        let mut stream = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, Duration::from_secs(10)) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = stream.ok_or_else(|| {
            t(
                "cannot connect to",
                last.unwrap_or_else(|| std::io::Error::other("no address")),
            )
        })?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
            .map_err(|e| t("cannot configure the socket to", e))?;
        if ep.tls {
            let config = self.tls_config()?;
            let name = rustls::pki_types::ServerName::try_from(ep.host.clone()).map_err(|_| {
                ClientError::usage(format!("{:?} is not a valid TLS server name", ep.host))
            })?;
            let conn = rustls::ClientConnection::new(config, name)
                .map_err(|e| ClientError::Transport(format!("TLS setup failed: {e}")))?;
            let mut tls = rustls::StreamOwned::new(conn, stream);
            tls.write_all(request)
                .and_then(|()| tls.flush())
                .map_err(|e| t("cannot send the request to", e))?;
            read_response(BufReader::new(tls)).map_err(|e| t("bad answer from", e))
        } else {
            let mut s = stream;
            s.write_all(request)
                .and_then(|()| s.flush())
                .map_err(|e| t("cannot send the request to", e))?;
            read_response(BufReader::new(s)).map_err(|e| t("bad answer from", e))
        }
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, ClientError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::CertificateDer;
        let candidates: Vec<PathBuf> = match &self.ca_file {
            Some(p) => vec![p.clone()],
            None => std::env::var_os("SSL_CERT_FILE")
                .map(PathBuf::from)
                .into_iter()
                .chain(
                    [
                        "/etc/ssl/certs/ca-certificates.crt",
                        "/etc/pki/tls/certs/ca-bundle.crt",
                        "/etc/ssl/cert.pem",
                    ]
                    .map(PathBuf::from),
                )
                .collect(),
        };
        let path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
            ClientError::usage("no CA bundle for https: give --ca-file FILE.pem (or SSL_CERT_FILE)")
        })?;
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|_| ClientError::usage(format!("cannot read {}", path.display())))?;
        for c in certs {
            let c = c.map_err(|_| {
                ClientError::usage(format!("{} is not a PEM certificate file", path.display()))
            })?;
            // Bundles may carry certificates rustls cannot use as anchors; skip those.
            let _ = roots.add(c);
        }
        if roots.is_empty() {
            return Err(ClientError::usage(format!(
                "{} holds no usable CA certificate",
                path.display()
            )));
        }
        Ok(Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        ))
    }
}

fn invalid(m: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned())
}

fn read_line<R: BufRead>(r: &mut R) -> std::io::Result<String> {
    let mut line = Vec::new();
    r.by_ref().take(8192).read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        return Err(invalid("truncated HTTP response"));
    }
    String::from_utf8(line)
        .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
        .map_err(|_| invalid("HTTP header is not UTF-8"))
}

/// Read one HTTP/1.1 response: status code and (de-chunked) body.
fn read_response<R: BufRead>(mut r: R) -> std::io::Result<(u16, Vec<u8>)> {
    let status_line = read_line(&mut r)?;
    let mut parts = status_line.split(' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(invalid("malformed HTTP status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(invalid("not an HTTP/1.x response"));
    }
    let status: u16 = code.parse().map_err(|_| invalid("malformed HTTP status"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        let line = read_line(&mut r)?;
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim();
            if k == "content-length" {
                length = Some(v.parse().map_err(|_| invalid("bad Content-Length"))?);
            } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let size_line = read_line(&mut r)?;
            let size_hex = size_line.split(';').next().unwrap_or("").trim();
            let size =
                usize::from_str_radix(size_hex, 16).map_err(|_| invalid("bad chunk size"))?;
            if size == 0 {
                break;
            }
            if body.len() + size > MAX_RESPONSE {
                return Err(invalid("response too large"));
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            read_line(&mut r)?;
        }
    } else if let Some(n) = length {
        if n > MAX_RESPONSE {
            return Err(invalid("response too large"));
        }
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.take(MAX_RESPONSE as u64 + 1).read_to_end(&mut body)?;
        if body.len() > MAX_RESPONSE {
            return Err(invalid("response too large"));
        }
    }
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((e.tls, e.host.as_str(), e.port), (false, "127.0.0.1", 8080));
        let e = Endpoint::parse("https://hsm.example/").unwrap();
        assert_eq!(
            (e.tls, e.port, e.authority.as_str()),
            (true, 443, "hsm.example")
        );
        let e = Endpoint::parse("http://[::1]:9000").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9000));
        for bad in [
            "ftp://x",
            "http://",
            "http://x:port",
            "http://x/path",
            "x:80",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses() {
        let (s, b) = read_response(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"[..]).unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"{}"[..]));
        let (s, b) = read_response(
            &b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"[..],
        )
        .unwrap();
        assert_eq!((s, b.as_slice()), (400, &b"abcde"[..]));
        let (_, b) = read_response(&b"HTTP/1.0 200 OK\r\n\r\nrest"[..]).unwrap();
        assert_eq!(b, b"rest");
        for bad in [
            &b"garbage"[..],
            b"HTTP/1.1 xx\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab",
        ] {
            assert!(read_response(bad).is_err());
        }
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), u in "\\PC{0,60}") {
            let _ = read_response(s.as_slice());
            let _ = Endpoint::parse(&u);
        }
    }
}

//! The audit log: one JSON line per API request with the time, request id, caller access key
//! id, operation, key ARN(s), outcome (`success` or the AWS error code), HTTP status and latency.
//! It never contains keys, PINs, PIN blocks, PANs or any request/response payload: only the
//! fields of [`AuditRecord`].
//!
//! Lines are handed to a dedicated writer thread over a channel, so request handlers never block
//! on the file.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use serde::Serialize;

/// Where audit lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditDestination {
    /// Append to this file (created with mode 0600).
    File(PathBuf),
    /// Standard error.
    Stderr,
    /// Not written.
    Off,
}

impl AuditDestination {
    /// Parse `--audit-log <path>|stderr|off`.
    pub fn parse(s: &str) -> Self {
        match s {
            "stderr" => Self::Stderr,
            "off" => Self::Off,
            p => Self::File(PathBuf::from(p)),
        }
    }
}

/// One audit line.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// RFC 3339 UTC time of the request start.
    pub time: String,
    /// The `x-amzn-RequestId`.
    pub request_id: String,
    /// The authenticated caller (absent when authentication failed before identifying it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// AWS operation name.
    pub operation: String,
    /// Key ARNs the request resolved.
    pub key_arns: Vec<String>,
    /// `success` or the AWS error code.
    pub outcome: String,
    /// HTTP status.
    pub status: u16,
    /// Latency in milliseconds.
    pub latency_ms: f64,
}

/// The audit log handle.
#[derive(Debug)]
pub struct AuditLog {
    tx: Mutex<Option<mpsc::Sender<String>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// `false` for [`AuditDestination::Off`].
    on: bool,
}

impl AuditLog {
    /// Open the destination and start the writer thread.
    ///
    /// # Errors
    /// The I/O error if the file cannot be opened.
    pub fn open(dest: &AuditDestination) -> std::io::Result<Self> {
        let mut sink: Box<dyn Write + Send> = match dest {
            AuditDestination::Off => {
                return Ok(Self {
                    tx: Mutex::new(None),
                    thread: Mutex::new(None),
                    on: false,
                })
            }
            AuditDestination::Stderr => Box::new(std::io::stderr()),
            AuditDestination::File(p) => {
                if let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                let mut o = std::fs::OpenOptions::new();
                o.create(true).append(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    o.mode(0o600);
                }
                Box::new(o.open(p)?)
            }
        };
        let (tx, rx) = mpsc::channel::<String>();
        let thread = std::thread::Builder::new()
            .name("paycrypt-audit".into())
            .spawn(move || {
                for line in rx {
                    if sink
                        .write_all(line.as_bytes())
                        .and_then(|()| sink.flush())
                        .is_err()
                    {
                        tracing::error!("audit log write failed");
                    }
                }
            })?;
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            on: true,
        })
    }

    /// Whether records are written at all (`false` for `--audit-log off`): callers skip
    /// building records when it is `false`.
    pub fn enabled(&self) -> bool {
        self.on
    }

    /// Queue one record.
    pub fn write(&self, record: &AuditRecord) {
        let Ok(mut line) = serde_json::to_string(record) else {
            return;
        };
        line.push('\n');
        if let Ok(g) = self.tx.lock() {
            if let Some(tx) = g.as_ref() {
                let _ = tx.send(line);
            }
        }
    }

    /// Flush and stop the writer thread (at shutdown).
    pub fn close(&self) {
        if let Ok(mut g) = self.tx.lock() {
            g.take();
        }
        if let Ok(mut t) = self.thread.lock() {
            if let Some(t) = t.take() {
                let _ = t.join();
            }
        }
    }
}

/// Format Unix time (seconds, fractional) as RFC 3339 UTC with milliseconds.
pub fn rfc3339(epoch: f64) -> String {
    let ms_total = (epoch * 1000.0).floor() as i64;
    let secs = ms_total.div_euclid(1000);
    let ms = ms_total.rem_euclid(1000);
    let (y, m, d) = crate::auth::civil_from_days(secs.div_euclid(86_400));
    let r = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        r / 3600,
        (r % 3600) / 60,
        r % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        assert_eq!(rfc3339(1_440_938_160.5), "2015-08-30T12:36:00.500Z");
    }

    #[test]
    fn writes_lines_to_file() {
        let dir = std::env::temp_dir().join(format!("paycrypt-audit-test-{}", std::process::id()));
        let p = dir.join("audit.log");
        let log = AuditLog::open(&AuditDestination::File(p.clone())).unwrap();
        log.write(&AuditRecord {
            time: rfc3339(0.0),
            request_id: "r".into(),
            access_key_id: Some("AK".into()),
            operation: "GetKey".into(),
            key_arns: vec![],
            outcome: "success".into(),
            status: 200,
            latency_ms: 1.0,
        });
        log.close();
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.ends_with("}\n"));
        assert!(t.contains("\"operation\":\"GetKey\""));
        let _ = std::fs::remove_dir_all(dir);
    }
}

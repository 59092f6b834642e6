//! Derived unique key per transaction: TDES (ANSI X9.24-1) and AES (ANSI X9.24-3).
//!
//! * [`tdes`]: ANSI X9.24-1:2009 Annex A (= X9.24-3:2017 Annex C) TDES DUKPT:
//!   10-byte KSN, IPEK from a double-length BDK, the non-reversible key
//!   generation process, and the PIN / MAC / data key variants.
//! * [`aes`]: ANSI X9.24-3:2017 AES DUKPT: 12-byte KSN, initial key from an
//!   AES BDK, derivation keys for a counter, and working keys for every key
//!   usage and working-key type.
//!
//! Hosts usually cache the initial key (IPEK / IK) per BDK and initial KSN;
//! both modules therefore offer every derivation "from the BDK" and "from the
//! initial key".

pub mod aes;
pub mod tdes;

/// Which message direction a DUKPT MAC or data key protects (AWS `DukptKeyVariant`).
///
/// * TDES DUKPT: `Request` selects the request variant, `Response` the response
///   variant. X9.24-1 has no bidirectional variant; `Bidirectional` selects the
///   request variant (the key the terminal uses for what it sends and the host
///   uses to check or decrypt it — the AWS default for decryption).
/// * AES DUKPT: `Request` selects key usage "MAC generation" (`2000`) / "data
///   encryption, encrypt" (`3000`), `Response` "MAC verification" (`2001`) /
///   "data encryption, decrypt" (`3001`) — the openemv/dukpt request/response
///   convention — and `Bidirectional` the "both" usages (`2002` / `3002`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DukptKeyVariant {
    /// One key for both directions.
    Bidirectional,
    /// Messages from the terminal to the host.
    Request,
    /// Messages from the host to the terminal.
    Response,
}

/// Check an ECB/CBC request for DUKPT data encryption (AWS `DukptEncryptionMode`).
fn check_data_mode(mode: crate::cipher::Mode) -> crate::Result<()> {
    match mode {
        crate::cipher::Mode::Ecb | crate::cipher::Mode::Cbc => Ok(()),
        _ => Err(crate::Error::Unsupported {
            what: "DUKPT data encryption supports ECB and CBC only",
        }),
    }
}

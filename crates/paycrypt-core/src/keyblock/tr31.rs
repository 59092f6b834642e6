//! TR-31 / ANSI X9.143 key blocks, versions A, B, C and D.
//!
//! A key block is `header ‖ hex(encrypted payload) ‖ hex(MAC)`:
//!
//! * the header is printable ASCII: version ID, 4-digit total length, key usage,
//!   algorithm, mode of use, key version number, exportability, number of
//!   optional blocks, reserved `00`, then the optional blocks;
//! * the payload is `key length in bits (2 bytes, big endian) ‖ key ‖ padding`,
//!   a whole number of cipher blocks;
//! * the binding method depends on the version (X9.143:2022 §7, TR-31:2018 §5):
//!   - **A, C** (TDES key variant binding): KBEK = KBPK ⊕ `45…`, KBAK = KBPK ⊕ `4D…`;
//!     the payload is TDES-CBC encrypted with the first 8 header bytes as IV, and the
//!     MAC is the leftmost 4 bytes of TDES CBC-MAC (ISO 9797-1 alg. 1) over
//!     `header ‖ encrypted payload`;
//!   - **B** (TDES key derivation binding): KBEK/KBAK derived with TDES CMAC in
//!     SP 800-108 counter mode; the MAC is the 8-byte CMAC over `header ‖ clear payload`
//!     and is also the CBC IV;
//!   - **D** (AES key derivation binding): the same with AES CMAC and a 16-byte MAC.
//!
//! [`unwrap`] always verifies the MAC (in constant time) before it looks at the
//! decrypted key length or returns anything. [`wrap`] applies X9.143 key-length
//! obfuscation (TDES keys padded as if 24 bytes long, AES keys as if 32) with random
//! padding; [`wrap_with_padding`] takes the padding explicitly.

use core::fmt::Write as _;

use zeroize::Zeroizing;

use super::KeyBlockError;
use crate::cipher::{ct_eq, Algorithm, BlockCipher, Mode};
use crate::error::{Error, KeyError, Result};
use crate::mac::Cmac;
use crate::secret::SecretBytes;

/// Largest key block X9.143 can express in its 4-digit length field.
const MAX_BLOCK_LEN: usize = 9999;

macro_rules! code_enum {
    (
        $(#[$m:meta])* $name:ident, $err:ident,
        { $( $(#[$vm:meta])* $var:ident = $code:literal, )* }
    ) => {
        $(#[$m])*
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vm])* $var, )*
        }

        impl $name {
            /// Every value, in X9.143 table order.
            pub const ALL: &'static [Self] = &[ $( Self::$var, )* ];

            /// The code as it appears in the key block header.
            pub fn code(self) -> &'static str {
                match self {
                    $( Self::$var => $code, )*
                }
            }

            /// Parse the header code.
            ///
            /// # Errors
            #[doc = concat!("[`KeyBlockError::", stringify!($err), "`] for a code not in the list.")]
            pub fn from_code(code: &str) -> core::result::Result<Self, KeyBlockError> {
                match code {
                    $( $code => Ok(Self::$var), )*
                    _ => Err(KeyBlockError::$err),
                }
            }
        }
    };
}

code_enum! {
    /// Key usage (X9.143:2022 table 2; TR-31:2018 table 6), the 2-character code.
    KeyUsage, UnknownKeyUsage, {
        /// B0: Base Derivation Key (BDK).
        B0 = "B0",
        /// B1: Initial DUKPT key (IPEK / IK).
        B1 = "B1",
        /// B2: Base key variant key (deprecated).
        B2 = "B2",
        /// B3: Key derivation key (non-X9.24).
        B3 = "B3",
        /// C0: Card verification key (CVK).
        C0 = "C0",
        /// D0: Symmetric key for data encryption.
        D0 = "D0",
        /// D1: Asymmetric key for data encryption.
        D1 = "D1",
        /// D2: Data encryption key for decimalization table.
        D2 = "D2",
        /// D3: Data encryption key for sensitive data.
        D3 = "D3",
        /// E0: EMV/chip issuer master key: application cryptograms.
        E0 = "E0",
        /// E1: EMV/chip issuer master key: secure messaging for confidentiality.
        E1 = "E1",
        /// E2: EMV/chip issuer master key: secure messaging for integrity.
        E2 = "E2",
        /// E3: EMV/chip issuer master key: data authentication code.
        E3 = "E3",
        /// E4: EMV/chip issuer master key: dynamic numbers.
        E4 = "E4",
        /// E5: EMV/chip issuer master key: card personalization.
        E5 = "E5",
        /// E6: EMV/chip issuer master key: other.
        E6 = "E6",
        /// E7: EMV/chip asymmetric key pair for PIN encryption.
        E7 = "E7",
        /// I0: Initialization vector.
        I0 = "I0",
        /// K0: Key encryption or wrapping key.
        K0 = "K0",
        /// K1: TR-31 key block protection key.
        K1 = "K1",
        /// K2: TR-34 asymmetric key pair.
        K2 = "K2",
        /// K3: Asymmetric key pair for key wrapping or key agreement.
        K3 = "K3",
        /// K4: ISO 20038 key block protection key.
        K4 = "K4",
        /// M0: ISO 16609 MAC algorithm 1 (TDES).
        M0 = "M0",
        /// M1: ISO 9797-1 MAC algorithm 1.
        M1 = "M1",
        /// M2: ISO 9797-1 MAC algorithm 2.
        M2 = "M2",
        /// M3: ISO 9797-1 MAC algorithm 3 (retail MAC).
        M3 = "M3",
        /// M4: ISO 9797-1 MAC algorithm 4.
        M4 = "M4",
        /// M5: ISO 9797-1:1999 MAC algorithm 5 (legacy).
        M5 = "M5",
        /// M6: ISO 9797-1:2011 MAC algorithm 5 (CMAC).
        M6 = "M6",
        /// M7: HMAC key.
        M7 = "M7",
        /// M8: ISO 9797-1:2011 MAC algorithm 6.
        M8 = "M8",
        /// P0: PIN encryption key.
        P0 = "P0",
        /// P1: PIN generation key.
        P1 = "P1",
        /// S0: Asymmetric key pair for digital signature.
        S0 = "S0",
        /// S1: Asymmetric key pair, CA key.
        S1 = "S1",
        /// S2: Asymmetric key pair, non-X9.24 use.
        S2 = "S2",
        /// V0: PIN verification key, other algorithm.
        V0 = "V0",
        /// V1: PIN verification key, IBM 3624.
        V1 = "V1",
        /// V2: PIN verification key, Visa PVV.
        V2 = "V2",
        /// V3: PIN verification key, X9.132 algorithm 1.
        V3 = "V3",
        /// V4: PIN verification key, X9.132 algorithm 2.
        V4 = "V4",
        /// V5: PIN verification key, X9.132 algorithm 3.
        V5 = "V5",
    }
}

code_enum! {
    /// Algorithm of the wrapped key (X9.143:2022 table 3).
    KeyAlgorithm, UnknownAlgorithm, {
        /// `A`: AES.
        Aes = "A",
        /// `D`: single DES (backwards compatibility only).
        Des = "D",
        /// `E`: elliptic curve.
        Ec = "E",
        /// `H`: HMAC (hash named in an `HM` optional block).
        Hmac = "H",
        /// `R`: RSA.
        Rsa = "R",
        /// `S`: DSA.
        Dsa = "S",
        /// `T`: triple DES.
        Tdes = "T",
    }
}

code_enum! {
    /// Mode of use (X9.143:2022 table 4).
    ModeOfUse, UnknownModeOfUse, {
        /// `B`: encrypt/wrap and decrypt/unwrap.
        EncryptDecrypt = "B",
        /// `C`: MAC generate and verify (or generate and verify for PIN/CVV keys).
        GenerateVerify = "C",
        /// `D`: decrypt/unwrap only.
        DecryptOnly = "D",
        /// `E`: encrypt/wrap only.
        EncryptOnly = "E",
        /// `G`: generate only.
        GenerateOnly = "G",
        /// `N`: no special restrictions beyond the key usage.
        NoRestrictions = "N",
        /// `S`: signature only.
        SignOnly = "S",
        /// `T`: sign and decrypt.
        SignDecrypt = "T",
        /// `V`: verify only.
        VerifyOnly = "V",
        /// `X`: derive other keys.
        Derive = "X",
        /// `Y`: create key variants.
        Variant = "Y",
    }
}

code_enum! {
    /// Exportability (X9.143:2022 table 6).
    Exportability, UnknownExportability, {
        /// `E`: exportable under a trusted key (key block) only.
        Trusted = "E",
        /// `N`: not exportable.
        NonExportable = "N",
        /// `S`: sensitive; exportable in any form, including non-X9.24 ones.
        Sensitive = "S",
    }
}

/// Key block version (the first header character), which selects the binding method.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `A`: TDES key variant binding (TR-31:2005, deprecated).
    A,
    /// `B`: TDES key derivation binding (TR-31:2010).
    B,
    /// `C`: TDES key variant binding, as A with clarified header values (TR-31:2010).
    C,
    /// `D`: AES key derivation binding (TR-31:2018, X9.143).
    D,
}

impl Version {
    /// The version ID character.
    pub fn id(self) -> char {
        match self {
            Self::A => 'A',
            Self::B => 'B',
            Self::C => 'C',
            Self::D => 'D',
        }
    }

    /// Parse a version ID character.
    ///
    /// # Errors
    /// [`KeyBlockError::UnsupportedVersion`] for anything but A–D.
    pub fn from_id(c: u8) -> core::result::Result<Self, KeyBlockError> {
        match c {
            b'A' => Ok(Self::A),
            b'B' => Ok(Self::B),
            b'C' => Ok(Self::C),
            b'D' => Ok(Self::D),
            _ => Err(KeyBlockError::UnsupportedVersion),
        }
    }

    /// Cipher block size of the binding method: 8 (TDES) or 16 (AES).
    pub fn block_size(self) -> usize {
        match self {
            Self::A | Self::B | Self::C => 8,
            Self::D => 16,
        }
    }

    /// Length of the MAC in bytes: 4 (A, C), 8 (B) or 16 (D).
    pub fn mac_len(self) -> usize {
        match self {
            Self::A | Self::C => 4,
            Self::B => 8,
            Self::D => 16,
        }
    }

    fn wants_aes_kbpk(self) -> bool {
        matches!(self, Self::D)
    }
}

/// Key version number: two alphanumeric characters (X9.143:2022 table 5).
///
/// `00` means versioning is not used; `c` followed by a digit marks a key component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyVersion([u8; 2]);

impl KeyVersion {
    /// `00`: key versioning not used.
    pub const UNUSED: Self = Self(*b"00");

    /// Parse two alphanumeric ASCII characters.
    ///
    /// # Errors
    /// [`KeyBlockError::InvalidKeyVersion`].
    pub fn new(s: &str) -> core::result::Result<Self, KeyBlockError> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => Ok(Self([*a, *b])),
            _ => Err(KeyBlockError::InvalidKeyVersion),
        }
    }

    /// The two characters.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII alphanumeric by construction.
        core::str::from_utf8(&self.0).unwrap_or("00")
    }

    /// The component number when the version marks a key component (`c1`, `c2`, …).
    pub fn component_number(&self) -> Option<u8> {
        match self.0 {
            [b'c', d] if d.is_ascii_digit() => Some(d - b'0'),
            _ => None,
        }
    }
}

impl Default for KeyVersion {
    fn default() -> Self {
        Self::UNUSED
    }
}

/// Optional block identifier: two alphanumeric ASCII characters (X9.143:2022 table 7).
///
/// The associated constants name the IDs whose values this module validates or
/// that the standard defines; any other alphanumeric ID is carried unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OptionalBlockId([u8; 2]);

impl core::fmt::Debug for OptionalBlockId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "OptionalBlockId({})", self.as_str())
    }
}

impl OptionalBlockId {
    /// `AL`: asymmetric key life.
    pub const AL: Self = Self(*b"AL");
    /// `BI`: base derivation key identifier for DUKPT.
    pub const BI: Self = Self(*b"BI");
    /// `CT`: public key certificate.
    pub const CT: Self = Self(*b"CT");
    /// `DA`: derivations allowed.
    pub const DA: Self = Self(*b"DA");
    /// `FL`: flags.
    pub const FL: Self = Self(*b"FL");
    /// `HM`: HMAC hash algorithm (2 hex digits: `10` SHA-1, `20` SHA-224, `21` SHA-256, `22` SHA-384, `23` SHA-512, …).
    pub const HM: Self = Self(*b"HM");
    /// `IK`: initial key identifier for AES DUKPT (16 hex digits).
    pub const IK: Self = Self(*b"IK");
    /// `KC`: KCV of the wrapped key (`00` X9.24 / `01` CMAC, then the KCV in hex).
    pub const KC: Self = Self(*b"KC");
    /// `KP`: KCV of the KBPK (same format as `KC`).
    pub const KP: Self = Self(*b"KP");
    /// `KS`: initial key serial number for TDES DUKPT (20 hex digits).
    pub const KS: Self = Self(*b"KS");
    /// `KV`: key block values version (deprecated).
    pub const KV: Self = Self(*b"KV");
    /// `LB`: label.
    pub const LB: Self = Self(*b"LB");
    /// `PB`: padding block.
    pub const PB: Self = Self(*b"PB");
    /// `PK`: KCV of the export KBPK.
    pub const PK: Self = Self(*b"PK");
    /// `TC`: time of creation.
    pub const TC: Self = Self(*b"TC");
    /// `TS`: time stamp (ISO 8601 UTC, e.g. `20201231235959Z`).
    pub const TS: Self = Self(*b"TS");
    /// `WP`: wrapping pedigree.
    pub const WP: Self = Self(*b"WP");

    /// Parse two alphanumeric ASCII characters.
    ///
    /// # Errors
    /// [`KeyBlockError::InvalidOptionalBlock`].
    pub fn new(s: &str) -> core::result::Result<Self, KeyBlockError> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => Ok(Self([*a, *b])),
            _ => Err(KeyBlockError::InvalidOptionalBlock),
        }
    }

    /// The two characters.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("??")
    }
}

/// One optional block: an ID and a printable-ASCII value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptionalBlock {
    id: OptionalBlockId,
    value: String,
}

impl OptionalBlock {
    /// Build an optional block, validating the value: printable ASCII for every ID,
    /// and the X9.143 format for `KS` (20 hex), `IK` (16 hex), `KC`/`KP`
    /// (`00`/`01` + 2–10 hex), `HM` (2 hex) and `TS` (digits, optional fraction, `Z`).
    ///
    /// # Errors
    /// [`KeyBlockError::InvalidOptionalBlock`].
    pub fn new(id: OptionalBlockId, value: &str) -> core::result::Result<Self, KeyBlockError> {
        validate_block_value(id, value.as_bytes())?;
        Ok(Self {
            id,
            value: value.to_owned(),
        })
    }

    /// `KS` block with a TDES DUKPT initial KSN (20 hex digits).
    ///
    /// # Errors
    /// [`KeyBlockError::InvalidOptionalBlock`].
    pub fn ks(ksn_hex: &str) -> core::result::Result<Self, KeyBlockError> {
        Self::new(OptionalBlockId::KS, ksn_hex)
    }

    /// `IK` block with an AES DUKPT initial key ID (16 hex digits).
    ///
    /// # Errors
    /// [`KeyBlockError::InvalidOptionalBlock`].
    pub fn ik(ikid_hex: &str) -> core::result::Result<Self, KeyBlockError> {
        Self::new(OptionalBlockId::IK, ikid_hex)
    }

    /// The identifier.
    pub fn id(&self) -> OptionalBlockId {
        self.id
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }

    fn encode_into(&self, out: &mut String) -> core::result::Result<(), KeyBlockError> {
        out.push_str(self.id.as_str());
        let n = self.value.len() + 4;
        if n <= 255 {
            let _ = write!(out, "{n:02X}");
        } else {
            // Extended length: `00`, length of length (`02` bytes), 4-hex total length.
            let ext = self.value.len() + 10;
            if ext > 0xFFFF {
                return Err(KeyBlockError::TooLong);
            }
            let _ = write!(out, "0002{ext:04X}");
        }
        out.push_str(&self.value);
        Ok(())
    }
}

fn is_hex(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_hexdigit)
}

fn validate_block_value(id: OptionalBlockId, v: &[u8]) -> core::result::Result<(), KeyBlockError> {
    let bad = Err(KeyBlockError::InvalidOptionalBlock);
    if !v.iter().all(|c| (0x20..=0x7E).contains(c)) {
        return bad;
    }
    let ok = match id {
        OptionalBlockId::KS => v.len() == 20 && is_hex(v),
        OptionalBlockId::IK => v.len() == 16 && is_hex(v),
        OptionalBlockId::HM => v.len() == 2 && is_hex(v),
        OptionalBlockId::KC | OptionalBlockId::KP => {
            (6..=12).contains(&v.len())
                && v.len() % 2 == 0
                && matches!(v.get(..2), Some(b"00") | Some(b"01"))
                && is_hex(v)
        }
        OptionalBlockId::TS => match v.split_last() {
            Some((b'Z', body)) => {
                let (int, frac) = match body.iter().position(|&c| c == b'.') {
                    Some(p) => (&body[..p], &body[p + 1..]),
                    None => (body, &b""[..]),
                };
                int.len() >= 12
                    && int.iter().all(u8::is_ascii_digit)
                    && frac.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        },
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        bad
    }
}

/// A TR-31 / X9.143 key block header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tr31Header {
    /// Version ID (binding method).
    pub version: Version,
    /// Key usage.
    pub key_usage: KeyUsage,
    /// Algorithm of the wrapped key.
    pub algorithm: KeyAlgorithm,
    /// Mode of use.
    pub mode_of_use: ModeOfUse,
    /// Key version number.
    pub key_version: KeyVersion,
    /// Exportability.
    pub exportability: Exportability,
    /// Optional blocks, in header order. On [`wrap`], any `PB` block here is dropped
    /// and a new one is added when the blocks need padding to the cipher block size;
    /// on parse, the `PB` block received is kept.
    pub optional_blocks: Vec<OptionalBlock>,
}

impl Tr31Header {
    /// A header without optional blocks and with key version `00`.
    pub fn new(
        version: Version,
        key_usage: KeyUsage,
        algorithm: KeyAlgorithm,
        mode_of_use: ModeOfUse,
        exportability: Exportability,
    ) -> Self {
        Self {
            version,
            key_usage,
            algorithm,
            mode_of_use,
            key_version: KeyVersion::UNUSED,
            exportability,
            optional_blocks: Vec::new(),
        }
    }

    /// The first optional block with this ID.
    pub fn optional_block(&self, id: OptionalBlockId) -> Option<&OptionalBlock> {
        self.optional_blocks.iter().find(|b| b.id == id)
    }

    /// Encode the header for a key block of `total_len` characters; `PB` recomputed.
    fn encode(&self, payload_len: usize) -> core::result::Result<String, KeyBlockError> {
        let bs = self.version.block_size();
        let blocks: Vec<&OptionalBlock> = self
            .optional_blocks
            .iter()
            .filter(|b| b.id != OptionalBlockId::PB)
            .collect();
        let mut opt = String::new();
        for b in &blocks {
            validate_block_value(b.id, b.value.as_bytes())?;
            b.encode_into(&mut opt)?;
        }
        let mut count = blocks.len();
        if opt.len() % bs != 0 {
            // Same rule as psec: PB takes the blocks to the next boundary after its own 4 characters.
            let pad = bs - (opt.len() + 4) % bs;
            let _ = write!(opt, "PB{:02X}", pad + 4);
            opt.extend(core::iter::repeat_n('0', pad));
            count += 1;
        }
        if count > 99 {
            return Err(KeyBlockError::InvalidOptionalBlockCount);
        }
        let header_len = 16 + opt.len();
        let total = header_len + 2 * payload_len + 2 * self.version.mac_len();
        if total > MAX_BLOCK_LEN {
            return Err(KeyBlockError::TooLong);
        }
        let mut h = String::with_capacity(total);
        h.push(self.version.id());
        let _ = write!(h, "{total:04}");
        h.push_str(self.key_usage.code());
        h.push_str(self.algorithm.code());
        h.push_str(self.mode_of_use.code());
        h.push_str(self.key_version.as_str());
        h.push_str(self.exportability.code());
        let _ = write!(h, "{count:02}");
        h.push_str("00");
        h.push_str(&opt);
        Ok(h)
    }
}

/// A key block protection key with its algorithm.
///
/// A 16- or 24-byte key could be TDES or AES, so the algorithm is explicit; it
/// must fit the version (TDES for A/B/C, AES for D). `Debug` shows only the algorithm.
#[derive(Clone, Copy)]
pub struct Kbpk<'a> {
    algorithm: Algorithm,
    key: &'a [u8],
}

impl core::fmt::Debug for Kbpk<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Kbpk({:?})", self.algorithm)
    }
}

impl<'a> Kbpk<'a> {
    /// A TDES KBPK (16 or 24 bytes) for versions A, B and C.
    ///
    /// # Errors
    /// [`KeyError::Length`] or [`KeyError::DegenerateTdes`].
    pub fn tdes(key: &'a [u8]) -> Result<Self> {
        let algorithm = Algorithm::tdes_for_len(key.len())?;
        crate::cipher::check_tdes_key(key)?;
        Ok(Self { algorithm, key })
    }

    /// An AES KBPK (16, 24 or 32 bytes) for version D.
    ///
    /// # Errors
    /// [`KeyError::Length`].
    pub fn aes(key: &'a [u8]) -> Result<Self> {
        Ok(Self {
            algorithm: Algorithm::aes_for_len(key.len())?,
            key,
        })
    }

    /// The KBPK's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// Parse and validate the header of a complete key block, without any key.
///
/// Checks: printable ASCII, version A–D, the 4-digit length equals the number of
/// characters, key usage / algorithm / mode of use / exportability codes from the
/// X9.143 lists, key version, block count, reserved `00`, the optional blocks
/// (including the extended length form) and that the header is a whole number of
/// cipher blocks. The MAC is **not** checked: use [`unwrap`] before trusting anything.
///
/// # Errors
/// [`Error::KeyBlock`] with the reason.
pub fn parse_header(block: &str) -> Result<Tr31Header> {
    parse(block).map(|(h, _)| h).map_err(Error::from)
}

fn parse(block: &str) -> core::result::Result<(Tr31Header, usize), KeyBlockError> {
    let b = block.as_bytes();
    if let Some(position) = b.iter().position(|c| !(0x20..=0x7E).contains(c)) {
        return Err(KeyBlockError::InvalidCharacter { position });
    }
    // Only ASCII from here on, so byte indices are char indices.
    let fixed = b.get(..16).ok_or(KeyBlockError::InvalidBlockLength)?;
    let version = Version::from_id(fixed[0])?;
    let len_field = &fixed[1..5];
    if !len_field.iter().all(u8::is_ascii_digit) {
        return Err(KeyBlockError::InvalidBlockLength);
    }
    let declared = len_field
        .iter()
        .fold(0usize, |acc, d| acc * 10 + usize::from(d - b'0'));
    if declared != b.len() {
        return Err(KeyBlockError::InvalidBlockLength);
    }
    let key_usage = KeyUsage::from_code(&block[5..7])?;
    let algorithm = KeyAlgorithm::from_code(&block[7..8])?;
    let mode_of_use = ModeOfUse::from_code(&block[8..9])?;
    let key_version = KeyVersion::new(&block[9..11])?;
    let exportability = Exportability::from_code(&block[11..12])?;
    let count_field = &fixed[12..14];
    if !count_field.iter().all(u8::is_ascii_digit) {
        return Err(KeyBlockError::InvalidOptionalBlockCount);
    }
    let count = usize::from(count_field[0] - b'0') * 10 + usize::from(count_field[1] - b'0');
    if &fixed[14..16] != b"00" {
        return Err(KeyBlockError::InvalidReservedField);
    }
    let mut pos = 16;
    let mut optional_blocks = Vec::with_capacity(count);
    for _ in 0..count {
        let (blk, next) = parse_optional_block(b, pos)?;
        optional_blocks.push(blk);
        pos = next;
    }
    if pos % version.block_size() != 0 {
        return Err(KeyBlockError::HeaderNotAligned);
    }
    Ok((
        Tr31Header {
            version,
            key_usage,
            algorithm,
            mode_of_use,
            key_version,
            exportability,
            optional_blocks,
        },
        pos,
    ))
}

fn hex_value(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    s.iter().try_fold(0usize, |acc, &c| {
        let d = (c as char).to_digit(16)?;
        Some(acc * 16 + d as usize)
    })
}

fn parse_optional_block(
    b: &[u8],
    start: usize,
) -> core::result::Result<(OptionalBlock, usize), KeyBlockError> {
    let bad = KeyBlockError::InvalidOptionalBlock;
    let id_bytes = b.get(start..start + 2).ok_or(bad)?;
    let id = match id_bytes {
        [x, y] if x.is_ascii_alphanumeric() && y.is_ascii_alphanumeric() => {
            OptionalBlockId([*x, *y])
        }
        _ => return Err(bad),
    };
    let short = hex_value(b.get(start + 2..start + 4).ok_or(bad)?).ok_or(bad)?;
    let (data_start, total) = if short == 0 {
        // Extended length: 2-hex length of length (in bytes), then the length itself.
        let ll = hex_value(b.get(start + 4..start + 6).ok_or(bad)?).ok_or(bad)?;
        if ll == 0 || ll > 4 {
            return Err(bad);
        }
        let len_end = start + 6 + 2 * ll;
        let total = hex_value(b.get(start + 6..len_end).ok_or(bad)?).ok_or(bad)?;
        (len_end, total)
    } else {
        (start + 4, short)
    };
    let end = start.checked_add(total).ok_or(bad)?;
    if end < data_start {
        return Err(bad);
    }
    let value = b.get(data_start..end).ok_or(bad)?;
    validate_block_value(id, value)?;
    let value = core::str::from_utf8(value).map_err(|_| bad)?.to_owned();
    Ok((OptionalBlock { id, value }, end))
}

/// The key-length range an algorithm allows, or `None` for "any non-empty length".
fn key_len_ok(algorithm: KeyAlgorithm, len: usize) -> bool {
    match algorithm {
        KeyAlgorithm::Tdes => len == 16 || len == 24,
        KeyAlgorithm::Aes => matches!(len, 16 | 24 | 32),
        KeyAlgorithm::Des => len == 8,
        _ => len > 0,
    }
}

/// X9.143 key-length obfuscation: the length the key is padded as if it had.
fn obfuscated_len(algorithm: KeyAlgorithm, len: usize) -> usize {
    match algorithm {
        KeyAlgorithm::Tdes => len.max(24),
        KeyAlgorithm::Aes => len.max(32),
        _ => len,
    }
}

struct BindingKeys {
    kbek: BlockCipher,
    kbak: BlockCipher,
}

fn binding_keys(kbpk: &Kbpk<'_>, version: Version) -> Result<BindingKeys> {
    let aes = !kbpk.algorithm.is_des_family();
    if aes != version.wants_aes_kbpk() {
        return Err(KeyBlockError::WrongKbpkAlgorithm.into());
    }
    match version {
        Version::A | Version::C => {
            let mut e = Zeroizing::new(kbpk.key.to_vec());
            let mut m = Zeroizing::new(kbpk.key.to_vec());
            e.iter_mut().for_each(|b| *b ^= 0x45);
            m.iter_mut().for_each(|b| *b ^= 0x4D);
            Ok(BindingKeys {
                kbek: BlockCipher::tdes(&e)?,
                kbak: BlockCipher::tdes(&m)?,
            })
        }
        Version::B | Version::D => {
            let n = kbpk.key.len();
            let parent = BlockCipher::new(kbpk.algorithm, kbpk.key)?;
            // X9.143:2022 §7.3 / TR-31:2018 A.4: derivation data
            // counter ‖ key usage (0000 enc, 0001 MAC) ‖ 00 ‖ algorithm ‖ length in bits.
            let (alg, bits): (u16, u16) = match kbpk.algorithm {
                Algorithm::Tdes2 => (0x0000, 128),
                Algorithm::Tdes3 => (0x0001, 192),
                Algorithm::Aes128 => (0x0002, 128),
                Algorithm::Aes192 => (0x0003, 192),
                Algorithm::Aes256 => (0x0004, 256),
                Algorithm::Des => {
                    return Err(KeyError::WrongAlgorithm {
                        expected: "TDES or AES",
                    }
                    .into())
                }
            };
            // The KBPK's CMAC subkeys once for all derived blocks (2 to 4 CMACs).
            let mac = Cmac::new(&parent)?;
            let bs = parent.block_size();
            let derive = |usage: u8| -> Result<Zeroizing<[u8; 48]>> {
                let mut out = Zeroizing::new([0u8; 48]);
                let [a0, a1] = alg.to_be_bytes();
                let [l0, l1] = bits.to_be_bytes();
                for (i, block) in out.chunks_exact_mut(bs).take(n.div_ceil(bs)).enumerate() {
                    let counter = u8::try_from(i + 1).unwrap_or(u8::MAX);
                    let data = [counter, 0, usage, 0, a0, a1, l0, l1];
                    mac.mac_into(&data, block)?;
                }
                Ok(out)
            };
            let e = derive(0)?;
            let m = derive(1)?;
            Ok(BindingKeys {
                kbek: BlockCipher::new(kbpk.algorithm, &e[..n])?,
                kbak: BlockCipher::new(kbpk.algorithm, &m[..n])?,
            })
        }
    }
}

/// Upper-case hex of `bytes` appended to `out`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(2 * bytes.len());
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xF)]));
    }
}

fn cbc_mac(cipher: &BlockCipher, data: &[u8]) -> Result<Vec<u8>> {
    let bs = cipher.block_size();
    let out = cipher.encrypt(Mode::Cbc, &vec![0u8; bs], data)?;
    Ok(out
        .get(out.len().saturating_sub(bs)..)
        .unwrap_or(&[])
        .to_vec())
}

/// Wrap `key` under `kbpk` with X9.143 key-length obfuscation and random padding.
///
/// TDES keys are padded as if 24 bytes long and AES keys as if 32 (X9.143:2022 §5,
/// §6.1); other algorithms get only the padding to the cipher block. The key length
/// must fit the header's algorithm (TDES 16/24, AES 16/24/32, DES 8).
///
/// # Errors
/// [`KeyBlockError::WrongKbpkAlgorithm`], [`KeyBlockError::InvalidKeyLength`],
/// [`KeyBlockError::InvalidOptionalBlock`], [`KeyBlockError::TooLong`], or a key error.
pub fn wrap(kbpk: Kbpk<'_>, header: &Tr31Header, key: &[u8]) -> Result<String> {
    let bs = header.version.block_size();
    let padded = obfuscated_len(header.algorithm, key.len());
    let payload_len = (2 + padded).div_ceil(bs) * bs;
    let pad_len = payload_len.saturating_sub(2 + key.len());
    let padding = crate::random::secret_bytes(pad_len)?;
    wrap_with_padding(kbpk, header, key, padding.expose())
}

/// Wrap `key` with the given padding bytes (for deterministic tests and for
/// reproducing a peer's block). `2 + key.len() + padding.len()` must be a
/// multiple of the version's cipher block size.
///
/// # Errors
/// As [`wrap`], plus [`KeyBlockError::InvalidPadding`].
pub fn wrap_with_padding(
    kbpk: Kbpk<'_>,
    header: &Tr31Header,
    key: &[u8],
    padding: &[u8],
) -> Result<String> {
    let version = header.version;
    let bs = version.block_size();
    if !key_len_ok(header.algorithm, key.len()) || key.len() > 0x1FFF {
        return Err(KeyBlockError::InvalidKeyLength.into());
    }
    let payload_len = 2 + key.len() + padding.len();
    if payload_len % bs != 0 {
        return Err(KeyBlockError::InvalidPadding.into());
    }
    let keys = binding_keys(&kbpk, version)?;
    let head = header.encode(payload_len)?;
    let mut payload = Zeroizing::new(Vec::with_capacity(payload_len));
    payload.extend_from_slice(&((key.len() * 8) as u16).to_be_bytes());
    payload.extend_from_slice(key);
    payload.extend_from_slice(padding);

    let (enc, mac) = match version {
        Version::A | Version::C => {
            let enc =
                keys.kbek
                    .encrypt(Mode::Cbc, head.as_bytes().get(..8).unwrap_or(&[]), &payload)?;
            let mut mac_input = Vec::with_capacity(head.len() + enc.len());
            mac_input.extend_from_slice(head.as_bytes());
            mac_input.extend_from_slice(&enc);
            let mut mac = cbc_mac(&keys.kbak, &mac_input)?;
            mac.truncate(version.mac_len());
            (enc, mac)
        }
        Version::B | Version::D => {
            let mut mac = [0u8; 16];
            let mac = &mut mac[..bs];
            Cmac::new(&keys.kbak)?.mac_parts_into(&[head.as_bytes(), &payload], mac)?;
            let enc = keys.kbek.encrypt(Mode::Cbc, mac, &payload)?;
            (enc, mac.to_vec())
        }
    };
    let mut out = head;
    push_hex(&mut out, &enc);
    push_hex(&mut out, &mac);
    Ok(out)
}

/// What [`unwrap_with_padding`] returns: the header, the key and the padding that
/// followed it in the payload (both zeroized on drop).
#[derive(Debug)]
pub struct Unwrapped {
    /// The authenticated header.
    pub header: Tr31Header,
    /// The wrapped key.
    pub key: SecretBytes,
    /// The payload padding (random bytes from the sender; useful to reproduce the block).
    pub padding: SecretBytes,
}

/// Verify and decrypt a key block: returns the authenticated header and the key.
///
/// The MAC is verified in constant time before the decrypted key length is
/// examined or anything is returned. Blocks without key-length obfuscation
/// (as payShield emits them) are accepted.
///
/// # Errors
/// [`Error::KeyBlock`]: header errors as [`parse_header`],
/// [`KeyBlockError::InvalidPayload`] / [`KeyBlockError::InvalidCharacter`] for a
/// malformed payload or MAC, [`KeyBlockError::WrongKbpkAlgorithm`],
/// [`KeyBlockError::MacMismatch`], [`KeyBlockError::InvalidKeyLength`].
pub fn unwrap(kbpk: Kbpk<'_>, block: &str) -> Result<(Tr31Header, SecretBytes)> {
    unwrap_with_padding(kbpk, block).map(|u| (u.header, u.key))
}

/// As [`unwrap`], also returning the payload padding.
///
/// # Errors
/// As [`unwrap`].
pub fn unwrap_with_padding(kbpk: Kbpk<'_>, block: &str) -> Result<Unwrapped> {
    let (header, header_len) = parse(block)?;
    let version = header.version;
    let bs = version.block_size();
    let b = block.as_bytes();
    let body = b.get(header_len..).unwrap_or(&[]);
    let mac_chars = 2 * version.mac_len();
    if body.len() < mac_chars + 2 * bs || (body.len() - mac_chars) % (2 * bs) != 0 {
        return Err(KeyBlockError::InvalidPayload.into());
    }
    if let Some(p) = body.iter().position(|c| !c.is_ascii_hexdigit()) {
        return Err(KeyBlockError::InvalidCharacter {
            position: header_len + p,
        }
        .into());
    }
    let split = body.len() - mac_chars;
    // Every character was checked to be a hex digit above; the length is even.
    let to_bytes = |s: &[u8]| -> Result<Vec<u8>> {
        let nibble = |c: u8| match c {
            b'0'..=b'9' => c - b'0',
            _ => (c | 0x20) - b'a' + 10,
        };
        if s.len() % 2 != 0 {
            return Err(KeyBlockError::InvalidPayload.into());
        }
        Ok(s.chunks_exact(2)
            .map(|p| (nibble(p[0]) << 4) | nibble(p[1]))
            .collect())
    };
    let enc = to_bytes(&body[..split])?;
    let mac = to_bytes(&body[split..])?;
    let keys = binding_keys(&kbpk, version)?;
    let head = &b[..header_len];

    let payload = match version {
        Version::A | Version::C => {
            let mut mac_input = Vec::with_capacity(head.len() + enc.len());
            mac_input.extend_from_slice(head);
            mac_input.extend_from_slice(&enc);
            let expected = cbc_mac(&keys.kbak, &mac_input)?;
            if !ct_eq(expected.get(..mac.len()).unwrap_or(&[]), &mac) {
                return Err(KeyBlockError::MacMismatch.into());
            }
            Zeroizing::new(keys.kbek.decrypt(Mode::Cbc, &head[..8], &enc)?)
        }
        Version::B | Version::D => {
            let payload = Zeroizing::new(keys.kbek.decrypt(Mode::Cbc, &mac, &enc)?);
            let mut expected = [0u8; 16];
            let expected = &mut expected[..bs];
            Cmac::new(&keys.kbak)?.mac_parts_into(&[head, &payload], expected)?;
            if !ct_eq(expected, &mac) {
                return Err(KeyBlockError::MacMismatch.into());
            }
            payload
        }
    };
    // Authenticated from here on.
    let bits = match payload.get(..2) {
        Some(&[h, l]) => usize::from(u16::from_be_bytes([h, l])),
        _ => return Err(KeyBlockError::InvalidPayload.into()),
    };
    if bits % 8 != 0 {
        return Err(KeyBlockError::InvalidKeyLength.into());
    }
    let key_len = bits / 8;
    let key = payload
        .get(2..2 + key_len)
        .ok_or(KeyBlockError::InvalidKeyLength)?;
    if !key_len_ok(header.algorithm, key_len) {
        return Err(KeyBlockError::InvalidKeyLength.into());
    }
    Ok(Unwrapped {
        header,
        key: SecretBytes::from_slice(key),
        padding: SecretBytes::from_slice(payload.get(2 + key_len..).unwrap_or(&[])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::decode;

    #[test]
    fn tr31_2018_a721_round_trip() {
        let kbpk = decode("k", "89E88CF7931444F334BD7547FC3F380C").unwrap();
        let kb = "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701";
        let u = unwrap_with_padding(Kbpk::tdes(&kbpk).unwrap(), kb).unwrap();
        assert_eq!(
            u.key.expose(),
            decode("k", "F039121BEC83D26B169BDCD5B22AAF8F").unwrap()
        );
        let again = wrap_with_padding(
            Kbpk::tdes(&kbpk).unwrap(),
            &u.header,
            u.key.expose(),
            u.padding.expose(),
        )
        .unwrap();
        assert_eq!(again, kb);
    }
}

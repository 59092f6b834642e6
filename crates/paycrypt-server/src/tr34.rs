//! TR-34 key blocks (ASC X9 TR-34-2012, two-pass, as AWS Payment Cryptography exchanges them:
//! `KeyBlockFormat` `X9_TR34_2012`, AWS-API.md §3.7).
//!
//! The block is a CMS `ContentInfo` of type SignedData (signed by the key distribution host, KDH,
//! RSA PKCS#1 v1.5 with SHA-256) whose content is the key block envelope: the EnvelopedData
//! fields (version 0, one KeyTransRecipientInfo for the key receiving device, KRD — RSAES-OAEP
//! SHA-256/MGF1-SHA-256 of an ephemeral key — and the encrypted content, DES-EDE3-CBC or
//! AES-128-CBC). The signed attributes carry the content type (envelopedData), the two-pass random
//! nonce (PKCS#9 randomNonce, 1.2.840.113549.1.9.25.3), the 16-character TR-31-style key header
//! (as a `data` attribute) and the SHA-256 message digest of the envelope. The decrypted content
//! is `SEQUENCE { INTEGER 1, KDH IssuerAndSerialNumber, OCTET STRING key, SEQUENCE { data,
//! SET { OCTET STRING header } } }` followed by padding. The envelope fields are sent without an
//! enclosing SEQUENCE, as AWS does; a SEQUENCE-wrapped envelope is accepted on import too.
//!
//! The DER handled here is limited to single-byte tags and definite lengths (DER); anything else
//! is refused with a `ValidationException`, never a panic.

use paycrypt_core::asym::{self, RsaPadding, RsaSignatureAlgorithm};
use paycrypt_core::cipher::{BlockCipher, Mode};
use paycrypt_core::secret::SecretBytes;
use x509_cert::der::Encode;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::error::ApiError;

const OID_SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
const OID_ENVELOPED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x03];
const OID_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_SHA256_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];
const OID_RSAES_OAEP: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x07];
const OID_MGF1: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08];
const OID_P_SPECIFIED: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x09];
const OID_CONTENT_TYPE: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x03];
const OID_MESSAGE_DIGEST: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x04];
const OID_RANDOM_NONCE: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x19, 0x03];
const OID_DES_EDE3_CBC: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x03, 0x07];
const OID_AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const NULL: u8 = 0x05;
const CONTEXT_0: u8 = 0xA0;
const IMPLICIT_0: u8 = 0x80;

fn bad(what: &str) -> ApiError {
    ApiError::validation(format!("Malformed TR-34 key block: {what}"))
}

/// Read one TLV: `(tag, content, rest)`.
fn read(input: &[u8]) -> Result<(u8, &[u8], &[u8]), ApiError> {
    let (&tag, after_tag) = input.split_first().ok_or_else(|| bad("truncated"))?;
    if tag & 0x1F == 0x1F {
        return Err(bad("multi-byte tags are not supported"));
    }
    let (&first, mut rest) = after_tag.split_first().ok_or_else(|| bad("truncated"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return Err(bad("unsupported length encoding"));
        }
        let (bytes, r) = (rest.get(..n), rest.get(n..));
        let bytes = bytes.ok_or_else(|| bad("truncated"))?;
        rest = r.unwrap_or(&[]);
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let content = rest.get(..len).ok_or_else(|| bad("truncated"))?;
    Ok((tag, content, rest.get(len..).unwrap_or(&[])))
}

/// Read one TLV that must have tag `tag`: `(content, rest)`.
fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), ApiError> {
    let (t, content, rest) = read(input)?;
    if t != tag {
        return Err(bad(what));
    }
    Ok((content, rest))
}

/// The whole TLV at the start of `input` (tag, length and content) and the rest.
fn whole(input: &[u8]) -> Result<(&[u8], &[u8]), ApiError> {
    let (_, _, rest) = read(input)?;
    let n = input.len() - rest.len();
    Ok((input.get(..n).unwrap_or(&[]), rest))
}

fn enc(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(bytes.get(skip..).unwrap_or(&[]));
    }
    out.extend_from_slice(content);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn algorithm(oid: &[u8], with_null: bool) -> Vec<u8> {
    if with_null {
        enc(SEQUENCE, &cat(&[&enc(OID, oid), &enc(NULL, &[])]))
    } else {
        enc(SEQUENCE, &enc(OID, oid))
    }
}

fn attribute(oid: &[u8], value: &[u8]) -> Vec<u8> {
    enc(SEQUENCE, &cat(&[&enc(OID, oid), &enc(SET, value)]))
}

/// The DER `IssuerAndSerialNumber` (CMS §10.2.4) of a certificate.
///
/// # Errors
/// `ValidationException` if the certificate does not re-encode.
pub fn issuer_and_serial(cert: &Certificate) -> Result<Vec<u8>, ApiError> {
    let issuer = cert
        .tbs_certificate
        .issuer
        .to_der()
        .map_err(|_| bad("certificate issuer"))?;
    let serial = cert
        .tbs_certificate
        .serial_number
        .to_der()
        .map_err(|_| bad("certificate serial number"))?;
    Ok(enc(SEQUENCE, &cat(&[&issuer, &serial])))
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// The content cipher of the envelope.
fn content_cipher(oid: &[u8], key: &[u8]) -> Result<BlockCipher, ApiError> {
    if oid == OID_DES_EDE3_CBC && key.len() == 24 {
        return BlockCipher::tdes(key).map_err(|_| bad("ephemeral key"));
    }
    if oid == OID_AES128_CBC && key.len() == 16 {
        return BlockCipher::aes(key).map_err(|_| bad("ephemeral key"));
    }
    Err(bad(
        "the content encryption must be DES-EDE3-CBC or AES-128-CBC with a key of that algorithm",
    ))
}

/// A key received in a TR-34 block: its 16-character header and the key.
#[derive(Debug)]
pub struct Received {
    /// The TR-31-style header (16 characters; the length field is not meaningful in TR-34).
    pub header: String,
    /// The key.
    pub key: SecretBytes,
}

/// What [`unwrap`] needs.
#[derive(Debug)]
pub struct UnwrapInput<'a> {
    /// The TR-34 block (binary).
    pub block: &'a [u8],
    /// The two-pass random nonce the block must carry.
    pub nonce: &'a [u8],
    /// The KDH's certificate (already verified against its CA).
    pub kdh: &'a Certificate,
    /// The KRD certificate (our wrapping key).
    pub krd: &'a Certificate,
    /// The KRD private key (PKCS#8).
    pub krd_private_pkcs8: &'a [u8],
}

/// Verify and open a TR-34 two-pass key block.
///
/// # Errors
/// `ValidationException` for any structural error, a signature that does not verify with the
/// KDH key, a nonce, digest, recipient or KDH identity mismatch, or a failed decryption.
pub fn unwrap(input: &UnwrapInput<'_>) -> Result<Received, ApiError> {
    let (outer, rest) = expect(input.block, SEQUENCE, "ContentInfo")?;
    if !rest.is_empty() {
        return Err(bad("trailing data"));
    }
    let (oid, rest) = expect(outer, OID, "ContentInfo content type")?;
    if oid != OID_SIGNED_DATA {
        return Err(bad("the content type must be SignedData"));
    }
    let (explicit, _) = expect(rest, CONTEXT_0, "ContentInfo content")?;
    let (sd, _) = expect(explicit, SEQUENCE, "SignedData")?;
    let (version, rest) = expect(sd, INTEGER, "SignedData version")?;
    if version != [1] {
        return Err(bad("SignedData version must be 1"));
    }
    let (digests, rest) = expect(rest, SET, "SignedData digestAlgorithms")?;
    let (digest_alg, _) = expect(digests, SEQUENCE, "digest algorithm")?;
    let (d_oid, d_rest) = expect(digest_alg, OID, "digest algorithm")?;
    no_params(d_rest, "digest algorithm parameters")?;
    if d_oid != OID_SHA256 {
        return Err(bad("the digest algorithm must be SHA-256"));
    }
    let (encap, mut rest) = expect(rest, SEQUENCE, "encapsulated content")?;
    let (e_oid, e_rest) = expect(encap, OID, "encapsulated content type")?;
    if e_oid != OID_ENVELOPED_DATA {
        return Err(bad("the signed content must be EnvelopedData"));
    }
    let (e_explicit, _) = expect(e_rest, CONTEXT_0, "encapsulated content")?;
    let (envelope, _) = expect(e_explicit, OCTET_STRING, "encapsulated content")?;
    // Optional certificates [0] and CRLs [1] are skipped: the KDH certificate comes separately.
    loop {
        let (t, _, r) = read(rest)?;
        if t == CONTEXT_0 || t == 0xA1 {
            rest = r;
        } else {
            break;
        }
    }
    let (signers, _) = expect(rest, SET, "SignerInfos")?;
    let (signer, more) = expect(signers, SEQUENCE, "SignerInfo")?;
    if !more.is_empty() {
        return Err(bad("exactly one SignerInfo is expected"));
    }
    let (sv, rest) = expect(signer, INTEGER, "SignerInfo version")?;
    if sv != [1] {
        return Err(bad("SignerInfo version must be 1 (IssuerAndSerialNumber)"));
    }
    let (sid, rest) = whole(rest)?;
    let kdh_id = issuer_and_serial(input.kdh)?;
    if sid != kdh_id.as_slice() {
        return Err(bad("the signer is not the KDH of SigningKeyCertificate"));
    }
    let (s_digest, rest) = expect(rest, SEQUENCE, "SignerInfo digest algorithm")?;
    let (sd_oid, sd_rest) = expect(s_digest, OID, "SignerInfo digest algorithm")?;
    no_params(sd_rest, "SignerInfo digest algorithm parameters")?;
    if sd_oid != OID_SHA256 {
        return Err(bad("the signer's digest algorithm must be SHA-256"));
    }
    let (attrs, rest) = expect(rest, CONTEXT_0, "signed attributes")?;
    let (sig_alg, rest) = expect(rest, SEQUENCE, "signature algorithm")?;
    let (sa_oid, sa_rest) = expect(sig_alg, OID, "signature algorithm")?;
    no_params(sa_rest, "signature algorithm parameters")?;
    if sa_oid != OID_RSA_ENCRYPTION && sa_oid != OID_SHA256_RSA {
        return Err(bad("the signature algorithm must be RSA PKCS#1 v1.5"));
    }
    let (signature, _) = expect(rest, OCTET_STRING, "signature")?;
    let kdh_spki = crate::ca::cert_spki(input.kdh)?;
    asym::rsa_verify(
        &kdh_spki,
        RsaSignatureAlgorithm::Pkcs1Sha256,
        &enc(SET, attrs),
        signature,
    )
    .map_err(|_| {
        ApiError::validation(
            "The TR-34 key block signature does not verify with the SigningKeyCertificate key",
        )
    })?;

    // Signed attributes.
    let (mut content_type_ok, mut nonce, mut header, mut digest) = (false, None, None, None);
    let mut a = attrs;
    while !a.is_empty() {
        let (attr, r) = expect(a, SEQUENCE, "attribute")?;
        a = r;
        let (oid, r) = expect(attr, OID, "attribute type")?;
        let (values, _) = expect(r, SET, "attribute values")?;
        match oid {
            o if o == OID_CONTENT_TYPE => {
                let (v, _) = expect(values, OID, "content type")?;
                content_type_ok = v == OID_ENVELOPED_DATA;
            }
            o if o == OID_RANDOM_NONCE => nonce = Some(expect(values, OCTET_STRING, "nonce")?.0),
            o if o == OID_DATA => header = Some(expect(values, OCTET_STRING, "header")?.0),
            o if o == OID_MESSAGE_DIGEST => {
                digest = Some(expect(values, OCTET_STRING, "message digest")?.0);
            }
            _ => {}
        }
    }
    if !content_type_ok {
        return Err(bad("the content-type attribute must be envelopedData"));
    }
    let nonce = nonce.ok_or_else(|| bad("the random nonce attribute is missing"))?;
    if !paycrypt_core::cipher::ct_eq(nonce, input.nonce) {
        return Err(ApiError::validation(
            "The TR-34 key block's random nonce does not match RandomNonce",
        ));
    }
    let header = header.ok_or_else(|| bad("the key block header attribute is missing"))?;
    let digest = digest.ok_or_else(|| bad("the message digest attribute is missing"))?;
    if digest != sha256(envelope).as_slice() {
        return Err(bad("the message digest does not match the envelope"));
    }

    // The envelope (EnvelopedData fields).
    let mut env = envelope;
    if let Ok((SEQUENCE, inner, [])) = read(env) {
        env = inner;
    }
    let (ev, rest) = expect(env, INTEGER, "EnvelopedData version")?;
    if ev != [0] {
        return Err(bad("EnvelopedData version must be 0"));
    }
    let (recipients, rest) = expect(rest, SET, "RecipientInfos")?;
    let (ri, more) = expect(recipients, SEQUENCE, "KeyTransRecipientInfo")?;
    if !more.is_empty() {
        return Err(bad("exactly one recipient is expected"));
    }
    let (rv, r) = expect(ri, INTEGER, "recipient version")?;
    if rv != [0] {
        return Err(bad("KeyTransRecipientInfo version must be 0"));
    }
    let (rid, r) = whole(r)?;
    if rid != issuer_and_serial(input.krd)?.as_slice() {
        return Err(ApiError::validation(
            "The TR-34 key block is not addressed to the wrapping key certificate of this ImportToken",
        ));
    }
    let (kea, r) = expect(r, SEQUENCE, "key encryption algorithm")?;
    let (kea_oid, kea_params) = expect(kea, OID, "key encryption algorithm")?;
    if kea_oid != OID_RSAES_OAEP || !contains(kea_params, OID_SHA256) {
        return Err(bad(
            "the key encryption algorithm must be RSAES-OAEP with SHA-256",
        ));
    }
    let (encrypted_key, _) = expect(r, OCTET_STRING, "encrypted key")?;
    let (eci, _) = expect(rest, SEQUENCE, "EncryptedContentInfo")?;
    let (ct_oid, r) = expect(eci, OID, "content type")?;
    if ct_oid != OID_DATA {
        return Err(bad("the encrypted content type must be data"));
    }
    let (cea, r) = expect(r, SEQUENCE, "content encryption algorithm")?;
    let (cea_oid, cea_rest) = expect(cea, OID, "content encryption algorithm")?;
    let (iv, _) = expect(cea_rest, OCTET_STRING, "IV")?;
    let (ciphertext, _) = expect(r, IMPLICIT_0, "encrypted content")?;
    let ephemeral = asym::rsa_decrypt(
        input.krd_private_pkcs8,
        RsaPadding::OaepSha256,
        encrypted_key,
        None,
    )
    .map_err(|_| {
        ApiError::validation(
            "The TR-34 ephemeral key does not decrypt under the wrapping key of this ImportToken",
        )
    })?;
    let cipher = content_cipher(cea_oid, ephemeral.expose())?;
    if iv.len() != cipher.block_size() || ciphertext.len() % cipher.block_size() != 0 {
        return Err(bad("IV or encrypted content length"));
    }
    let plain = Zeroizing::new(
        cipher
            .decrypt(Mode::Cbc, iv, ciphertext)
            .map_err(|_| bad("encrypted content"))?,
    );
    let (kb, _padding) =
        expect(&plain, SEQUENCE, "key block").map_err(|_| bad("the key block does not decrypt"))?;
    let (kv, r) = expect(kb, INTEGER, "key block version")?;
    if kv != [1] {
        return Err(bad("key block version must be 1"));
    }
    let (kb_kdh, r) = whole(r)?;
    if kb_kdh != kdh_id.as_slice() {
        return Err(bad("the key block names another KDH"));
    }
    let (key, r) = expect(r, OCTET_STRING, "key")?;
    let (attr, _) = expect(r, SEQUENCE, "key block header")?;
    let (h_oid, h_rest) = expect(attr, OID, "key block header")?;
    let (h_set, _) = expect(h_rest, SET, "key block header")?;
    let (h, _) = expect(h_set, OCTET_STRING, "key block header")?;
    if h_oid != OID_DATA || h != header {
        return Err(bad("the key block header differs from the signed header"));
    }
    let header = core::str::from_utf8(header)
        .map_err(|_| bad("the header is not ASCII"))?
        .to_owned();
    Ok(Received {
        header,
        key: SecretBytes::from_slice(key),
    })
}

/// An AlgorithmIdentifier's parameters must be absent or NULL.
fn no_params(rest: &[u8], what: &str) -> Result<(), ApiError> {
    if rest.is_empty() || rest == [NULL, 0] {
        Ok(())
    } else {
        Err(bad(what))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What [`wrap`] needs.
#[derive(Debug)]
pub struct WrapInput<'a> {
    /// The key to send.
    pub key: &'a [u8],
    /// The 16-character header.
    pub header: &'a str,
    /// The two-pass random nonce from the KRD.
    pub nonce: &'a [u8],
    /// Our signing (KDH) certificate.
    pub kdh: &'a Certificate,
    /// Our signing private key (PKCS#8).
    pub kdh_private_pkcs8: &'a [u8],
    /// The KRD certificate (RSA).
    pub krd: &'a Certificate,
    /// Use AES-128-CBC for the content (else DES-EDE3-CBC).
    pub aes: bool,
}

/// Build a TR-34 two-pass key block (the structure [`unwrap`] reads).
///
/// # Errors
/// `ValidationException` for a KRD key that cannot encrypt; `InternalServerException` for
/// random or signing failures.
pub fn wrap(input: &WrapInput<'_>) -> Result<Vec<u8>, ApiError> {
    let internal = |what: &'static str| {
        tracing::error!(what, "TR-34 wrap failed");
        ApiError::internal()
    };
    let kdh_id = issuer_and_serial(input.kdh)?;
    let krd_id = issuer_and_serial(input.krd)?;
    let (cipher_oid, key_len, bs) = if input.aes {
        (OID_AES128_CBC, 16, 16)
    } else {
        (OID_DES_EDE3_CBC, 24, 8)
    };
    let ephemeral = loop {
        let k = paycrypt_core::random::secret_bytes(key_len).map_err(|_| internal("random"))?;
        if key_len == 16 || BlockCipher::tdes(k.expose()).is_ok() {
            break k;
        }
    };
    let mut iv = vec![0u8; bs];
    paycrypt_core::random::fill(&mut iv).map_err(|_| internal("random"))?;
    let header_attr = enc(
        SEQUENCE,
        &cat(&[
            &enc(OID, OID_DATA),
            &enc(SET, &enc(OCTET_STRING, input.header.as_bytes())),
        ]),
    );
    let mut plain = Zeroizing::new(enc(
        SEQUENCE,
        &cat(&[
            &enc(INTEGER, &[1]),
            &kdh_id,
            &enc(OCTET_STRING, input.key),
            &header_attr,
        ]),
    ));
    // PKCS#7-style padding to the block size.
    let pad = bs - plain.len() % bs;
    plain.extend(core::iter::repeat_n(pad as u8, pad));
    let cipher = content_cipher(cipher_oid, ephemeral.expose())?;
    let ciphertext = cipher
        .encrypt(Mode::Cbc, &iv, &plain)
        .map_err(|_| internal("content encryption"))?;
    let krd_spki = crate::ca::cert_spki(input.krd)?;
    let encrypted_key =
        asym::rsa_encrypt(&krd_spki, RsaPadding::OaepSha256, ephemeral.expose(), None).map_err(
            |_| ApiError::validation("The KRD certificate's key cannot be used for RSA-OAEP"),
        )?;
    let oaep_params = enc(
        SEQUENCE,
        &cat(&[
            &algorithm(OID_SHA256, true),
            &enc(
                SEQUENCE,
                &cat(&[&enc(OID, OID_MGF1), &algorithm(OID_SHA256, false)]),
            ),
            &enc(
                SEQUENCE,
                &cat(&[&enc(OID, OID_P_SPECIFIED), &enc(OCTET_STRING, &[])]),
            ),
        ]),
    );
    let recipient = enc(
        SEQUENCE,
        &cat(&[
            &enc(INTEGER, &[0]),
            &krd_id,
            &enc(SEQUENCE, &cat(&[&enc(OID, OID_RSAES_OAEP), &oaep_params])),
            &enc(OCTET_STRING, &encrypted_key),
        ]),
    );
    let envelope = cat(&[
        &enc(INTEGER, &[0]),
        &enc(SET, &recipient),
        &enc(
            SEQUENCE,
            &cat(&[
                &enc(OID, OID_DATA),
                &enc(
                    SEQUENCE,
                    &cat(&[&enc(OID, cipher_oid), &enc(OCTET_STRING, &iv)]),
                ),
                &enc(IMPLICIT_0, &ciphertext),
            ]),
        ),
    ]);
    let attrs = cat(&[
        &attribute(OID_CONTENT_TYPE, &enc(OID, OID_ENVELOPED_DATA)),
        &attribute(OID_RANDOM_NONCE, &enc(OCTET_STRING, input.nonce)),
        &attribute(OID_DATA, &enc(OCTET_STRING, input.header.as_bytes())),
        &attribute(OID_MESSAGE_DIGEST, &enc(OCTET_STRING, &sha256(&envelope))),
    ]);
    let signature = asym::rsa_sign(
        input.kdh_private_pkcs8,
        RsaSignatureAlgorithm::Pkcs1Sha256,
        &enc(SET, &attrs),
    )
    .map_err(|_| internal("signing"))?;
    let signer = enc(
        SEQUENCE,
        &cat(&[
            &enc(INTEGER, &[1]),
            &kdh_id,
            &algorithm(OID_SHA256, false),
            &enc(CONTEXT_0, &attrs),
            &algorithm(OID_RSA_ENCRYPTION, true),
            &enc(OCTET_STRING, &signature),
        ]),
    );
    let signed_data = enc(
        SEQUENCE,
        &cat(&[
            &enc(INTEGER, &[1]),
            &enc(SET, &algorithm(OID_SHA256, false)),
            &enc(
                SEQUENCE,
                &cat(&[
                    &enc(OID, OID_ENVELOPED_DATA),
                    &enc(CONTEXT_0, &enc(OCTET_STRING, &envelope)),
                ]),
            ),
            &enc(SET, &signer),
        ]),
    );
    Ok(enc(
        SEQUENCE,
        &cat(&[&enc(OID, OID_SIGNED_DATA), &enc(CONTEXT_0, &signed_data)]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{self, Parameters, TokenKind};
    use paycrypt_keystore::model::KeyAlgorithm;
    use paycrypt_keystore::Store;
    use proptest::prelude::*;
    use std::sync::{Arc, OnceLock};

    struct Fixture {
        kdh: Arc<Parameters>,
        krd: Arc<Parameters>,
        kdh_cert: Certificate,
        krd_cert: Certificate,
        block: Vec<u8>,
    }

    fn fixture() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let s = Store::open_in_memory("us-east-1", "111122223333").unwrap();
            let kdh = ca::new_parameters(
                &s,
                TokenKind::Export,
                "TR34_KEY_BLOCK",
                KeyAlgorithm::Rsa2048,
            )
            .unwrap();
            let krd = ca::new_parameters(
                &s,
                TokenKind::Import,
                "TR34_KEY_BLOCK",
                KeyAlgorithm::Rsa2048,
            )
            .unwrap();
            let kdh_cert = ca::from_api("k", &kdh.certificate).unwrap();
            let krd_cert = ca::from_api("k", &krd.certificate).unwrap();
            let block = wrap(&WrapInput {
                key: &[0x11u8; 16],
                header: "D0016K0TB00E0000",
                nonce: b"12345678",
                kdh: &kdh_cert,
                kdh_private_pkcs8: kdh.private_pkcs8.expose(),
                krd: &krd_cert,
                aes: false,
            })
            .unwrap();
            Fixture {
                kdh,
                krd,
                kdh_cert,
                krd_cert,
                block,
            }
        })
    }

    fn input<'a>(f: &'a Fixture, block: &'a [u8]) -> UnwrapInput<'a> {
        UnwrapInput {
            block,
            nonce: b"12345678",
            kdh: &f.kdh_cert,
            krd: &f.krd_cert,
            krd_private_pkcs8: f.krd.private_pkcs8.expose(),
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let f = fixture();
        let key = [0x22u8; 16];
        for aes in [false, true] {
            let block = wrap(&WrapInput {
                key: &key,
                header: "D0016D0AB00E0000",
                nonce: b"nonce-42",
                kdh: &f.kdh_cert,
                kdh_private_pkcs8: f.kdh.private_pkcs8.expose(),
                krd: &f.krd_cert,
                aes,
            })
            .unwrap();
            let ok = UnwrapInput {
                nonce: b"nonce-42",
                ..input(f, &block)
            };
            let r = unwrap(&ok).unwrap();
            assert_eq!(r.key.expose(), &key);
            assert_eq!(r.header, "D0016D0AB00E0000");
            let wrong_nonce = input(f, &block);
            assert!(unwrap(&wrong_nonce)
                .unwrap_err()
                .message()
                .contains("nonce"));
            // Signed by someone else / addressed to someone else.
            let wrong_kdh = UnwrapInput {
                kdh: &f.krd_cert,
                ..ok
            };
            assert!(unwrap(&wrong_kdh).is_err());
            let wrong_krd = UnwrapInput {
                krd: &f.kdh_cert,
                krd_private_pkcs8: f.kdh.private_pkcs8.expose(),
                ..ok
            };
            assert!(unwrap(&wrong_krd).is_err());
        }
        let r = unwrap(&input(f, &f.block)).unwrap();
        assert_eq!(r.key.expose(), &[0x11u8; 16]);
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let f = fixture();
        for i in 0..f.block.len() {
            let mut t = f.block.clone();
            t[i] ^= 0x01;
            assert!(unwrap(&input(f, &t)).is_err(), "tamper at {i}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let f = fixture();
            prop_assert!(unwrap(&input(f, &bytes)).is_err());
        }

        #[test]
        fn mutated_blocks_never_panic(pos in 0usize..2000, val in any::<u8>(), cut in 0usize..2000) {
            let f = fixture();
            let mut t = f.block.clone();
            let n = t.len();
            t[pos % n] = val;
            t.truncate(cut.max(1).min(n));
            let _ = unwrap(&input(f, &t));
        }
    }
}

//! EMV: ICC master key derivation, session keys, ARQC/ARPC, issuer script secure messaging.

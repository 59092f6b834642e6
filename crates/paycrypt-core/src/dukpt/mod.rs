//! Derived unique key per transaction: TDES (ANSI X9.24-1) and AES (ANSI X9.24-3).

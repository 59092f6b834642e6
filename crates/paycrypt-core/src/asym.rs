//! RSA key wrapping (OAEP, PKCS#1 v1.5) and ECDH with the SP 800-56C / X9.63 KDFs.

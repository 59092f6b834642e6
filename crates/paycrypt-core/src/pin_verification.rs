//! PIN verification values: Visa PVV, IBM 3624 natural PIN and offset, random PINs.

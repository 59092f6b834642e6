#!/usr/bin/env python3
"""Build the benchmark table from criterion estimates and the peer results.

Usage: report.py <peers.jsonl> <criterion dir> [<criterion dir> ...]

paycrypt figure: criterion's *median* time per iteration
(`<criterion dir>/<id>/new/estimates.json`, `median.point_estimate`, ns);
with several criterion dirs (repeated runs) the lowest median is used;
the median is the statistic least disturbed by other load on a shared machine.
ops/s per core = 1e9 / median.

"Limit" = the block-cipher work the operation cannot avoid, priced with the
measured primitives (see LIMITS): a key schedule is priced as
"key schedule + one block" (the prim_*_ks_block benchmarks) and covers one of
the operation's blocks under that key. ratio = measured / limit (1.0 = the
operation costs exactly its block-cipher calls). Units in the table:
D/T/A = one DES / TDES-2key / AES-128 block with a keyed cipher,
KD/KT/KA = key schedule + one block.
"""

import json
import os
import sys

# Primitive benchmark ids (the units of LIMITS).
D, T, A = "prim_des_block", "prim_tdes2_block", "prim_aes128_block"
KD, KT, KA = "prim_des_ks_block", "prim_tdes2_ks_block", "prim_aes128_ks_block"

# Block-cipher calls each operation needs, counted from the code (see
# docs/BENCHMARKS.md for the derivation of each line). None = no block cipher.
LIMITS = {
    D: {D: 1},
    T: {T: 1},
    A: {A: 1},
    KD: {KD: 1},
    KT: {KT: 1},
    KA: {KA: 1},
    "kcv_tdes": {T: 1},
    "mac_iso9797_alg1_tdes_16": {T: 2},
    "mac_iso9797_alg1_tdes_64": {T: 8},
    "mac_iso9797_alg3_16": {KD: 2, D: 2},
    "mac_iso9797_alg3_64": {KD: 2, D: 8},
    "mac_cmac_aes128_64": {A: 5},
    "mac_cmac_tdes_64": {T: 9},
    "mac_hmac_sha256_64": None,
    "dukpt_tdes_ipek": {KT: 2},
    "dukpt_tdes_transaction_key_8bits": {KD: 16},
    "dukpt_tdes_pin_key_from_ipek": {KD: 16},
    "dukpt_aes128_working_key_from_ik": {KA: 9},
    "cvv_generate": {D: 1, T: 1},
    "cvv_verify": {D: 1, T: 1},
    "dcvv_generate": {T: 2, KD: 1, KT: 1},
    "cvc3_generate": {T: 3, KT: 1, KD: 1, D: 1},
    "emv_icc_mk_option_a": {T: 2},
    "emv_common_session_key": {KT: 1, T: 1},
    "emv_arqc_verify_chain": {T: 3, KT: 1, KD: 2, D: 5},
    "emv_arpc_method1": {KT: 1},
    "pin_iso0_encode": None,
    "pin_iso0_decode": None,
    "pin_translate_tdes_iso0_to_tdes_iso0": {T: 2},
    "pin_translate_dukpt_tdes_iso0_to_zpk_iso0": {KT: 3, KD: 16, T: 1},
    "pin_translate_dukpt_tdes_iso0_to_zpk_iso0_cached_ipek": {KT: 1, KD: 16, T: 1},
    "pin_translate_dukpt_aes_iso4_to_zpk_iso0": {KA: 11, A: 1, T: 1},
    "pvv_generate": {T: 1},
    "pvv_verify": {T: 1},
    "ibm3624_offset_verify": {T: 1},
    "tr31_b_wrap": {KT: 3, T: 13},
    "tr31_b_unwrap": {KT: 3, T: 13},
    "tr31_d_wrap": {KA: 3, A: 8},
    "tr31_d_unwrap": {KA: 3, A: 8},
    "rsa2048_oaep_sha256_decrypt": None,
    "rsa2048_oaep_sha256_decrypt_parsed_key": None,
    "ecdh_p256_derive": None,
}


def load_ns(crit_dir, bid):
    p = os.path.join(crit_dir, bid, "new", "estimates.json")
    try:
        with open(p) as f:
            return json.load(f)["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None


def fmt_ops(x):
    if x is None:
        return "–"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def fmt_ns(x):
    if x is None:
        return "–"
    return f"{x / 1000:.2f} µs" if x >= 1000 else f"{x:.0f} ns"


SHORT = {D: "D", T: "T", A: "A", KD: "KD", KT: "KT", KA: "KA"}


def formula(lim):
    if lim is None:
        return "no block cipher"
    return " + ".join(f"{n} {SHORT[k]}" if n != 1 else SHORT[k] for k, n in lim.items())


def main():
    peers_file, crit_dirs = sys.argv[1], sys.argv[2:]
    peers = {}
    if os.path.exists(peers_file):
        with open(peers_file) as f:
            for line in f:
                r = json.loads(line)
                if "id" in r:
                    peers[r["id"]] = r
    ns = {}
    for bid in LIMITS:
        found = [t for t in (load_ns(d, bid) for d in crit_dirs) if t is not None]
        ns[bid] = min(found) if found else None
    print(
        "| operation | block-cipher work | time (median) | paycrypt ops/s/core | limit "
        "| measured/limit | peer | peer ops/s | paycrypt/peer |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|---:|")
    for bid, lim in LIMITS.items():
        t = ns[bid]
        if t is None:
            continue
        ops = 1e9 / t
        limit_ns = None
        if lim is not None and all(ns.get(k) for k in lim):
            limit_ns = sum(ns[k] * n for k, n in lim.items())
        ratio = f"{t / limit_ns:.2f}×" if limit_ns else "n/a"
        p = peers.get(bid)
        peer = p["peer"] + (f" ({p['note']})" if p and p.get("note") else "") if p else "–"
        pops = p["ops_per_s"] if p else None
        pr = f"{ops / pops:.0f}×" if pops else "–"
        print(
            f"| {bid} | {formula(lim)} | {fmt_ns(t)} | {fmt_ops(ops)} | {fmt_ns(limit_ns)} | {ratio} "
            f"| {peer} | {fmt_ops(pops)} | {pr} |"
        )


if __name__ == "__main__":
    main()

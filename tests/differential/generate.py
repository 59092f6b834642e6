#!/usr/bin/env python3
"""Generate differential test cases from independent implementations.

Each `gen_*.py` module beside this file exposes `generate(rng) -> dict[str, list]`
mapping a case-file name to its cases. Every generator is seeded, so the output
is reproducible; scripts/test.sh regenerates and compares with the committed
files under tests/differential/cases/.
"""
import argparse
import importlib
import json
import pathlib
import random
import sys
import warnings

warnings.filterwarnings("ignore")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(HERE / "cases"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for mod_path in sorted(HERE.glob("gen_*.py")):
        mod = importlib.import_module(mod_path.stem)
        rng = random.Random(mod_path.stem)  # seed = module name: stable per generator
        for name, doc in mod.generate(rng).items():
            text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
            (out / f"{name}.json").write_text(text)


if __name__ == "__main__":
    main()

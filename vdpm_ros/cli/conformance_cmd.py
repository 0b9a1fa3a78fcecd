"""``vdpm conformance FIXTURE_DIR --out OUT.npz``: reproduce a reference fixture."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "conformance",
        help="run a reference fixture (config.json, weights.safetensors, inputs.npz) and write its outputs",
        description="Builds the model from FIXTURE_DIR/config.json, loads weights.safetensors strictly, runs "
        "inputs.npz and writes OUT.npz with the array names of the fixture's outputs.npz. If the fixture has an "
        "outputs.npz, every array is compared and the exit code is 1 on a mismatch.",
    )
    p.add_argument("fixture_dir", type=Path)
    p.add_argument("--out", type=Path, required=True, help="output .npz")
    p.add_argument(
        "--engine",
        default="pytorch",
        choices=("pytorch", "onnxruntime"),
        help="onnxruntime: export the fixture model to ONNX and run it with ONNX Runtime",
    )
    p.add_argument("--atol", type=float, default=1e-4)
    p.add_argument("--rtol", type=float, default=1e-4)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..harness.conformance import INTERNAL_ARRAYS, compare_to_reference, run_conformance

    ours = run_conformance(args.fixture_dir, engine=args.engine)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **ours)
    print(f"wrote {len(ours)} arrays to {args.out}")
    reference_path = args.fixture_dir / "outputs.npz"
    if not reference_path.is_file():
        return 0
    with np.load(reference_path) as ref:
        reference = {k: ref[k] for k in ref.files}
    if args.engine != "pytorch":
        skipped = [k for k in INTERNAL_ARRAYS if k in reference and k not in ours]
        for k in skipped:
            reference.pop(k)
        if skipped:
            print(f"  (internal arrays not exposed by the {args.engine} engine: {', '.join(skipped)})")
    for name in sorted(reference):
        if name in ours and ours[name].shape == reference[name].shape:
            print(f"  {name:28s} {str(reference[name].shape):24s} max abs err {np.abs(ours[name] - reference[name]).max():.3g}")
    problems = compare_to_reference(ours, reference, args.atol, args.rtol)
    for line in problems:
        print(f"MISMATCH {line}")
    print(f"{len(reference) - len(problems)}/{len(reference)} reference arrays reproduced (atol {args.atol}, rtol {args.rtol})")
    return 1 if problems else 0

"""The steps that measure the model on the device: env, w1, precision, onnxruntime, compile."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import shutil
import time
from pathlib import Path

from .config import BF16_DENSE_PEAK_TFLOPS, OPTIONAL_PACKAGES, Sizes
from .measure import StepWriter, autocast, count_flops, flash_attention, median, random_model, sync, time_ms


def step_env(sizes: Sizes, out: StepWriter, outdir: Path) -> None:
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    env = {
        "python": platform.python_version(), "torch": torch.__version__, "cuda_available": torch.cuda.is_available(),
        "cpu_cores": cores, "platform": platform.platform(),
        "packages": {name: importlib.util.find_spec(name) is not None for name in OPTIONAL_PACKAGES},
    }  # fmt: skip
    shm = shutil.disk_usage("/dev/shm") if Path("/dev/shm").exists() else None
    env["dev_shm_gib"] = round(shm.total / 2**30, 2) if shm else None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1), multiprocessors=props.multi_processor_count,
                   capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())  # fmt: skip
    if env["packages"]["onnxruntime"]:
        import onnxruntime as ort

        env["onnxruntime"] = {"version": ort.__version__, "providers": ort.get_available_providers()}
    out.put(**env)
    # The bf16 matrix ceiling on this device (dense, random data), to put W1's rate against.
    n = sizes.matmul_n
    a = torch.randn(n, n, device=sizes.device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=sizes.device, dtype=torch.bfloat16)
    ms = median(time_ms(lambda: a @ b, sizes.device, repeats=10, warmup=3))
    out.put(matmul_bf16={"n": n, "median_ms": ms, "tflops": 2 * n**3 / (ms * 1e-3) / 1e12})


def _latest_frame_path(model, images, S: int):
    """The node's per-window model calls: encode, cameras, decode({0, S-2, S-1}, frame S-1)."""
    state = model.encode(images)
    cams = model.cameras(state)
    maps = model.decode(state, target_times=sorted({0, S - 2, S - 1}), frames=[S - 1])
    return cams, maps


def _official_style(model, images, S: int):
    """The official ``inference()``: one decoder pass per target time, for all S of them, DPT on every frame."""
    state = model.encode(images)
    cams = model.cameras(state)
    maps = [model.decode(state, target_times=[j]) for j in range(S)]
    return cams, maps


def step_w1(sizes: Sizes, out: StepWriter, outdir: Path) -> None:
    import torch

    dev, S = sizes.device, sizes.frames
    torch.backends.cuda.matmul.allow_tf32 = True  # the fp32 heads may use TF32 (the default for convolutions)
    t0 = time.perf_counter()
    model = random_model(sizes.preset, dev)
    params = sum(p.numel() for p in model.parameters())
    out.put(preset=sizes.preset, parameters=params, frames=S, network_hw=list(sizes.image_hw), device=dev,
            target_times=sorted({0, S - 2, S - 1}), decoded_frames=[S - 1], build_s=time.perf_counter() - t0,
            timed="the model calls on network-input images already on the device (encode, cameras, decode with "
                  "the point head); preprocessing and postprocessing are not included")  # fmt: skip
    images = torch.rand(S, 3, *sizes.image_hw, generator=torch.Generator().manual_seed(0)).to(dev)
    if dev.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    def run(path, backend_ctx, grad_ctx=torch.inference_mode):
        def call():
            with grad_ctx(), autocast(dev, "bf16"), backend_ctx():
                return path(model, images, S)

        return call

    backend = "flash"
    try:
        run(_latest_frame_path, lambda: flash_attention(dev))()
    except RuntimeError as exc:  # flash cannot run these shapes/dtypes here: let SDPA choose
        backend = f"default (flash refused: {str(exc).splitlines()[0][:120]})"
    ctx = (lambda: flash_attention(dev)) if backend == "flash" else contextlib.nullcontext
    if not dev.startswith("cuda"):
        backend = "default (CPU)"
    out.put(sdpa_backend=backend, autocast="bf16",
            tf32={"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32})  # fmt: skip
    results = {}
    for name, path in (("streaming", _latest_frame_path), ("reference", _official_style)):
        times = time_ms(run(path, ctx), dev, sizes.repeats, sizes.warmup)
        results[name] = {"median_ms": median(times), "min_ms": min(times), "runs_ms": times}
        out.put(**{name: results[name]})
    for name, path in (("streaming", _latest_frame_path), ("reference", _official_style)):
        # no_grad, not inference_mode: the counter's module tracker needs autograd metadata (see benchmark.py).
        flops = count_flops(run(path, ctx, torch.no_grad))
        rate = flops / (results[name]["median_ms"] * 1e-3) / 1e12
        results[name].update(gflop=flops / 1e9, tflops=rate, fraction_of_bf16_dense_peak=rate / BF16_DENSE_PEAK_TFLOPS)
        out.put(**{name: results[name]})
    # Where the streaming path's time goes (same autocast/backend), for the report.
    stages = {}
    with torch.inference_mode(), autocast(dev, "bf16"), ctx():
        state = model.encode(images)
        stages["encode_ms"] = median(time_ms(lambda: model.encode(images), dev, sizes.repeats, 1))
        stages["cameras_ms"] = median(time_ms(lambda: model.cameras(state), dev, sizes.repeats, 1))
        stages["decode_ms"] = median(time_ms(lambda: model.decode(state, sorted({0, S - 2, S - 1}), [S - 1]), dev, sizes.repeats, 1))
    out.put(streaming_stages=stages, speedup=results["reference"]["median_ms"] / results["streaming"]["median_ms"],
            peak_device_gib=torch.cuda.max_memory_allocated() / 2**30 if dev.startswith("cuda") else None)  # fmt: skip


def _outputs(model, images, S: int, dtype_name: str, device: str) -> dict:
    """User-facing outputs of one window as float64 numpy arrays (CPU)."""
    import torch

    times = sorted({0, S - 2, S - 1})
    res = {}
    with torch.inference_mode(), autocast(device, dtype_name):
        state = model.encode(images)
        res["pose_enc"] = model.cameras(state).pose_enc
        tv = model.time_variant(state, frames=[S - 1])
        res["time_variant_pts3d"], res["time_variant_conf"] = tv.pts3d, tv.conf
        for j in times:  # one target time at a time: the explicit-attention policy model materialises scores
            d = model.decode(state, target_times=[j], frames=[S - 1])
            res[f"pts3d_t{j}"], res[f"conf_t{j}"] = d.pts3d, d.conf
        res["time_tokens"] = state.time_tokens
    return {k: v.float().cpu().double().numpy() for k, v in res.items()}


def _errors(got: dict, ref: dict) -> dict:
    import numpy as np

    table = {}
    for k, r in ref.items():
        diff = np.abs(got[k] - r)
        finite = np.isfinite(diff)
        table[k] = {
            "max_abs": float(diff[finite].max()) if finite.any() else float("nan"),
            "mean_abs": float(diff[finite].mean()) if finite.any() else float("nan"),
            "mean_abs_ref": float(np.abs(r[np.isfinite(r)]).mean()) if np.isfinite(r).any() else float("nan"),
            "non_finite": int((~finite).sum()),
        }
        table[k]["mean_rel"] = table[k]["mean_abs"] / table[k]["mean_abs_ref"] if table[k]["mean_abs_ref"] else float("nan")
    return table


def step_precision(sizes: Sizes, out: StepWriter, outdir: Path) -> None:
    import copy

    import torch

    from ...export.precision import apply_precision

    dev, S = sizes.device, sizes.frames
    # The reference is true fp32: no TF32 in matmuls or convolutions.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = random_model(sizes.preset, dev)
    images = torch.rand(S, 3, *sizes.image_hw, generator=torch.Generator().manual_seed(1)).to(dev)
    ref = _outputs(model, images, S, "fp32", dev)
    out.put(preset=sizes.preset, frames=S, network_hw=list(sizes.image_hw), reference="fp32, TF32 off",
            reference_mean_abs={k: float(abs(v).mean()) for k, v in ref.items()})  # fmt: skip
    for dtype_name in ("bf16", "fp16"):
        try:
            out.put(**{f"autocast_{dtype_name}": _errors(_outputs(model, images, S, dtype_name, dev), ref)})
        except RuntimeError as exc:
            out.put(**{f"autocast_{dtype_name}": {"error": str(exc).splitlines()[0]}})
    for dtype_name in ("bf16", "fp16"):
        policy = apply_precision(copy.deepcopy(model), dtype_name)
        try:
            out.put(**{f"export_policy_{dtype_name}": _errors(_outputs(policy, images, S, "fp32", dev), ref)})
        except RuntimeError as exc:
            out.put(**{f"export_policy_{dtype_name}": {"error": str(exc).splitlines()[0]}})
        del policy
        if dev.startswith("cuda"):
            torch.cuda.empty_cache()


def step_onnxruntime(sizes: Sizes, out: StepWriter, outdir: Path) -> None:
    if importlib.util.find_spec("onnxruntime") is None:
        out.put(available=False, reason="onnxruntime is not installed")
        return
    import onnxruntime as ort

    providers = ort.get_available_providers()
    cuda = "CUDAExecutionProvider" in providers
    out.put(version=ort.__version__, providers=providers, cuda_provider=cuda)
    if not cuda and sizes.device.startswith("cuda"):
        out.put(ran=False, reason="this onnxruntime build has no CUDAExecutionProvider (the CPU-only wheel): nothing to measure on the GPU")
        return
    import tempfile

    from ...export.onnx_export import export_onnx
    from ...export.parity import check_window, compare, pytorch_outputs
    from ...runtime.onnxruntime_engine import OnnxRuntimeEngine

    provider = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
    model = random_model(sizes.ort_preset, "cpu")
    window = check_window(3, sizes.ort_hw)
    reference = pytorch_outputs(model, sizes.ort_hw, window)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        export_onnx(model, tmp, sizes.ort_hw, source=f"preset {sizes.ort_preset}, random weights (seed 0)")
        out.put(preset=sizes.ort_preset, network_hw=list(sizes.ort_hw), export_s=time.perf_counter() - t)
        engine = OnnxRuntimeEngine(tmp, providers=provider)
        out.put(session_providers=list(engine.providers))
        report = compare(engine.graph_outputs(window.images, window.cond_times, window.frames), reference)
        out.put(parity={"line": report.line(), "passed": report.passed, "max_abs": report.max_abs, "max_rel": report.max_rel})
        times = time_ms(lambda: engine.graph_outputs(window.images, window.cond_times, window.frames), "cpu", 5, 1)
        out.put(encoder_plus_decoder_median_ms=median(times))


def step_compile(sizes: Sizes, out: StepWriter, outdir: Path) -> None:
    import torch

    dev, S = sizes.device, sizes.frames
    model = random_model(sizes.preset, dev)
    images = torch.rand(S, 3, *sizes.image_hw, generator=torch.Generator().manual_seed(0)).to(dev)

    def encode(m):
        def call():
            with torch.inference_mode(), autocast(dev, "bf16"), flash_attention(dev):
                return m.encode(images)

        return call

    eager = median(time_ms(encode(model), dev, sizes.repeats, sizes.warmup))
    out.put(eager_encode_ms=eager, backend=sizes.compile_backend,
            what="torch.compile of every aggregator block (frame and global), default mode, bf16 autocast, W1 window")  # fmt: skip
    # Block by block: the 24 frame blocks share one compiled graph and the 24 global blocks another (their
    # parameters are graph inputs), so compiling costs two graphs, not one unrolled 48-block graph.
    for block in [*model.aggregator.frame_blocks, *model.aggregator.global_blocks]:
        block.compile(dynamic=False, backend=sizes.compile_backend)
    t = time.perf_counter()
    encode(model)()
    sync(dev)
    out.put(compile_s=time.perf_counter() - t)
    compiled = median(time_ms(encode(model), dev, sizes.repeats, 1))
    out.put(compiled_encode_ms=compiled, speedup=eager / compiled)

"""What differs between the GPU run and the CPU dry run, the step budgets, and the reference peak."""

from __future__ import annotations

from dataclasses import dataclass

#: Dense bf16 tensor-core peak of an H100/H200 SXM by NVIDIA's datasheet, as /work/.library/device/H200.md
#: quotes it ("dense bf16 about 990 TFLOP/s"); 989.4 is the datasheet figure.
BF16_DENSE_PEAK_TFLOPS = 989.4
#: What an 8192^3 bf16 product reached on such a machine here (KINDS.md: 788, and 769-798 on random data).
BF16_MEASURED_TFLOPS_KINDS_MD = 788.0
OPTIONAL_PACKAGES = ("numpy", "safetensors", "tqdm", "scipy", "onnx", "onnxscript", "onnxruntime", "PIL", "rosbags", "yaml", "matplotlib")
OUT_FILES = {"json": "gpu_check.json", "markdown": "gpu_check.md", "log": "gpu_check.log"}


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between the GPU run and the CPU dry run."""

    device: str
    preset: str  # W1 / precision architecture
    frames: int
    image_hw: tuple[int, int]  # network input (H, W)
    repeats: int
    warmup: int
    train_size: tuple[int, int]
    train_batch: int
    train_steps: int
    train_minutes: float
    eval_seeds: str
    eval_frames: int  # vdpm eval --frames (its two-view margins 2 and 8 need at least 9)
    flow_frames: int  # window of the scene-flow-on-moving-pixels measurement
    ort_preset: str
    ort_hw: tuple[int, int]
    matmul_n: int
    compile_backend: str  # "inductor" on the GPU; "eager" in the dry run (traces, generates no code)

    @classmethod
    def gpu(cls) -> Sizes:
        return cls(
            "cuda", "official", 8, (294, 518), 5, 2, (84, 112), 32, 1500, 2.25, "1000-1019", 10, 10, "cpu_tiny", (84, 112), 8192, "inductor"
        )

    @classmethod
    def dry_run(cls) -> Sizes:
        return cls("cpu", "micro", 3, (28, 42), 2, 1, (28, 42), 2, 2, 0.5, "1000", 9, 4, "micro", (28, 42), 256, "eager")


#: Upper bounds per step (s). On the GPU they add up to the 10-minute lease. The dry run's are only a
#: safety net, many times what its steps take on the 2-core CPU (116 s in all, 2-5.5 minutes when the
#: machine was busy), so that a slow CI machine is slower but never fails on a budget.
BUDGETS_S = {
    "gpu": {"env": 20, "w1": 150, "precision": 90, "train": 240, "onnxruntime": 90, "compile": 90},
    "dry_run": {"env": 120, "w1": 300, "precision": 300, "train": 900, "onnxruntime": 600, "compile": 300},
}
TOTAL_S = {"gpu": 570.0, "dry_run": 2400.0}
STEPS = tuple(BUDGETS_S["gpu"])

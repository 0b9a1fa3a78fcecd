"""The JSON manifest beside an ONNX export: what was exported, from what, for which preprocessing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 2


class ExportMismatchError(ValueError):
    """An export does not fit the runtime or the request; the message says what differs and how to fix it."""


class CorruptExportError(ExportMismatchError):
    """A file of an export is missing, truncated or not what it should be; the message names the file."""


@dataclass
class ExportManifest:
    """Attributes:
    model_config: ``VDPMConfig.to_dict()`` of the exported model.
    image_hw: the network input size the graphs were exported for (fixed per export).
    preprocessing: mode and target size that produce ``image_hw`` (see vdpm_ros.preprocessing).
    dtype: precision of the graphs: "fp32", or "fp16"/"bf16" (matmul weights and products in that dtype,
        the rest in float32; see vdpm_ros.export.precision).
    io_dtype: dtype of the graphs' float inputs and outputs ("fp32" for every precision).
    opset: ONNX opset.
    files: graph name -> file name; inputs/outputs: graph name -> tensor name -> shape (symbolic dims as strings).
    external_data: graph name -> {external weight file -> size in bytes} (empty without external data).
    source_checkpoint / source_sha256: the weights the export came from.
    graph_checks: graph name -> what vdpm_ros.export.audit found (opset, operator counts, problems).
    versions: library versions used for the export.
    """

    model_config: dict[str, Any]
    image_hw: tuple[int, int]
    preprocessing: dict[str, Any]
    dtype: str
    io_dtype: str
    opset: int
    files: dict[str, str]
    external_data: dict[str, dict[str, int]]
    inputs: dict[str, dict[str, list]]
    outputs: dict[str, dict[str, list]]
    source_checkpoint: str
    source_sha256: str
    graph_checks: dict[str, dict] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    #: Whether the exported decoder learned motion (the source checkpoint's ``motion_trained``; None: unknown).
    motion_trained: bool | None = None
    format_version: int = FORMAT_VERSION

    def write(self, directory: Path) -> Path:
        path = Path(directory) / MANIFEST_NAME
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2))
        return path

    @classmethod
    def read(cls, directory: str | Path) -> ExportManifest:
        path = Path(directory) / MANIFEST_NAME
        if not path.is_file():
            raise ExportMismatchError(f"{directory} has no {MANIFEST_NAME}: not a vdpm export (create one with `vdpm export`)")
        data = json.loads(path.read_text())
        if data.get("format_version") != FORMAT_VERSION:
            raise ExportMismatchError(
                f"{path} has format version {data.get('format_version')}, this vdpm_ros reads {FORMAT_VERSION}: re-export"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        if set(data) != known:
            raise ExportMismatchError(
                f"{path} does not match this vdpm_ros's manifest: unknown {sorted(set(data) - known)}, missing {sorted(known - set(data))}"
            )
        data["image_hw"] = tuple(data["image_hw"])
        manifest = cls(**data)
        manifest.check_files(directory)
        return manifest

    def check_files(self, directory: str | Path) -> None:
        """Every graph file is there and non-empty, every external weight file has its recorded size.

        Raises:
            CorruptExportError: naming the first file that is missing or has the wrong size.
        """
        d = Path(directory)
        for name, file in self.files.items():
            path = d / file
            if not path.is_file():
                raise CorruptExportError(f"{d}: the {name} graph {file} listed in the manifest is missing: re-export")
            if path.stat().st_size == 0:
                raise CorruptExportError(f"{path}: the {name} graph is empty (an interrupted export?): re-export")
        for name, data_files in self.external_data.items():
            for file, size in data_files.items():
                path = d / file
                if not path.is_file():
                    raise CorruptExportError(
                        f"{path}: the {name} graph's weight file is missing: re-export or copy it beside {self.files[name]}"
                    )
                got = path.stat().st_size
                if got != size:
                    raise CorruptExportError(
                        f"{path}: the {name} graph's weight file has {got:,} bytes, the export wrote {size:,} "
                        "(truncated or replaced; an interrupted copy?): re-export or copy it again"
                    )


def sha256_of(path: str | Path, chunk: int = 1 << 24) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def external_data_files(directory: str | Path, files: dict[str, str]) -> dict[str, dict[str, int]]:
    """graph name -> {external data file the graph references -> its size in bytes}."""
    import onnx

    out: dict[str, dict[str, int]] = {}
    for name, file in files.items():
        model = onnx.load(str(Path(directory) / file), load_external_data=False)
        locations = set()
        for tensor in model.graph.initializer:
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                locations.update(e.value for e in tensor.external_data if e.key == "location")
        out[name] = {loc: (Path(directory) / loc).stat().st_size for loc in sorted(locations)}
    return out

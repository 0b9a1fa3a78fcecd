"""The JSON manifest beside an ONNX export: what was exported, from what, for which preprocessing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


class ExportMismatchError(ValueError):
    """An export does not fit the runtime or the request; the message says what differs and how to fix it."""


@dataclass
class ExportManifest:
    """Attributes:
    model_config: ``VDPMConfig.to_dict()`` of the exported model.
    image_hw: the network input size the graphs were exported for (fixed per export).
    preprocessing: mode and target size that produce ``image_hw`` (see vdpm_ros.preprocessing).
    dtype: weights and activations of the graphs ("fp32").
    opset: ONNX opset.
    files: graph name -> file name; inputs/outputs: graph name -> tensor name -> shape (symbolic dims as strings).
    source_checkpoint / source_sha256: the weights the export came from.
    versions: library versions used for the export.
    """

    model_config: dict[str, Any]
    image_hw: tuple[int, int]
    preprocessing: dict[str, Any]
    dtype: str
    opset: int
    files: dict[str, str]
    inputs: dict[str, dict[str, list]]
    outputs: dict[str, dict[str, list]]
    source_checkpoint: str
    source_sha256: str
    versions: dict[str, str] = field(default_factory=dict)
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
        for name, file in manifest.files.items():
            if not (Path(directory) / file).is_file():
                raise ExportMismatchError(f"{directory}: the {name} graph {file} listed in the manifest is missing")
        return manifest


def sha256_of(path: str | Path, chunk: int = 1 << 24) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()

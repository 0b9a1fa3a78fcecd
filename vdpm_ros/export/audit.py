"""Checks of an exported graph that runtimes other than ONNX Runtime care about.

:func:`audit_graph` reads a ``.onnx`` file by path (so graphs with external data over 2 GB work), runs
``onnx.checker`` and ONNX shape inference on it, and reports:

- the operator types used, and those TensorRT 10's ONNX parser does not list (:mod:`.tensorrt_ops`);
- operators known to break V-DPM exports elsewhere (sequence ops such as ``SplitToSequence``, ``Einsum``,
  ``NonZero``, loops), whatever TensorRT lists;
- ``Resize`` nodes outside TensorRT's restrictions (cubic mode, antialiasing);
- float64 tensors anywhere (values, initializers, constants);
- graph outputs whose shape is not fully determined by the declared dynamic dimensions (a
  data-dependent shape, e.g. from reading ``positions.max()`` back into the graph);
- nodes outside the default ONNX domain (runtime-specific contrib ops).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .tensorrt_ops import ONNX_TYPE_NAMES, OPSET_RANGE, SUPPORTED_TYPES

#: Never acceptable in a V-DPM graph: TensorRT rejects sequence ops; the others signal data-dependent
#: shapes or control flow the model does not need (and Einsum was the float64 trap of VGGT's exports).
FORBIDDEN_OPS = frozenset(
    {
        "SplitToSequence", "SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert",
        "SequenceLength", "SequenceMap", "ConcatFromSequence", "Einsum", "NonZero", "Loop", "Scan", "If",
        "Unique", "Compress",
    }
)  # fmt: skip

DECLARED_DIMS = frozenset({"S", "Q", "F"})


@dataclass
class GraphAudit:
    """What :func:`audit_graph` found in one graph; ``problems`` is empty for a graph that passes."""

    path: str
    opset: int
    op_counts: dict[str, int]
    checker_error: str | None = None
    shape_inference_error: str | None = None
    forbidden_ops: list[str] = field(default_factory=list)
    not_in_tensorrt: list[str] = field(default_factory=list)
    tensorrt_type_gaps: list[str] = field(default_factory=list)
    resize_problems: list[str] = field(default_factory=list)
    float64_tensors: list[str] = field(default_factory=list)
    undeclared_output_dims: list[str] = field(default_factory=list)
    foreign_domains: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        out = []
        if self.checker_error:
            out.append(f"onnx.checker: {self.checker_error}")
        if self.shape_inference_error:
            out.append(f"shape inference: {self.shape_inference_error}")
        if not OPSET_RANGE[0] <= self.opset <= OPSET_RANGE[1]:
            out.append(f"opset {self.opset} outside TensorRT 10's {OPSET_RANGE[0]}-{OPSET_RANGE[1]}")
        for label, items in (
            ("forbidden ops", self.forbidden_ops),
            ("ops TensorRT 10 does not list", self.not_in_tensorrt),
            ("op/type pairs TensorRT 10 does not list", self.tensorrt_type_gaps),
            ("Resize outside TensorRT's modes", self.resize_problems),
            ("float64 tensors", self.float64_tensors),
            ("output dims not given by S/Q/F", self.undeclared_output_dims),
            ("nodes outside the ONNX domain", self.foreign_domains),
        ):
            if items:
                out.append(f"{label}: {', '.join(items[:8])}{' ...' if len(items) > 8 else ''}")
        return out

    def summary(self) -> dict:
        """JSON-friendly digest for the manifest."""
        return {"opset": self.opset, "op_counts": dict(sorted(self.op_counts.items())), "problems": self.problems}


def _elem_type_name(elem_type: int) -> str:
    import onnx

    return onnx.TensorProto.DataType.Name(elem_type)


def audit_graph(path: str | Path) -> GraphAudit:
    """Audit the graph at ``path`` (weights may be external data beside it; they are not loaded)."""
    import onnx

    path = Path(path)
    try:
        onnx.checker.check_model(str(path))
        checker_error = None
    except Exception as exc:  # onnx raises ValidationError, or a protobuf error on a damaged file
        checker_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    shape_error = None
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        inferred_path = Path(tmp) / path.name
        try:
            onnx.shape_inference.infer_shapes_path(str(path), str(inferred_path), strict_mode=True)
            model = onnx.load(str(inferred_path), load_external_data=False)
        except Exception as exc:
            shape_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            try:
                model = onnx.load(str(path), load_external_data=False)
            except Exception:  # not a graph at all: nothing more to read
                return GraphAudit(str(path), 0, {}, checker_error or shape_error, shape_error)
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    audit = GraphAudit(str(path), opset, dict(Counter(n.op_type for n in graph.node)), checker_error, shape_error)
    audit.forbidden_ops = sorted(set(audit.op_counts) & FORBIDDEN_OPS)
    audit.not_in_tensorrt = sorted(op for op in audit.op_counts if op not in SUPPORTED_TYPES)
    audit.foreign_domains = sorted({f"{n.op_type}@{n.domain}" for n in graph.node if n.domain not in ("", "ai.onnx")})

    types = {vi.name: vi.type.tensor_type.elem_type for vi in [*graph.value_info, *graph.input, *graph.output]}
    types.update({t.name: t.data_type for t in graph.initializer})
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    types[node.output[0]] = attr.t.data_type
    audit.float64_tensors = sorted(name for name, t in types.items() if t == onnx.TensorProto.DOUBLE)

    gaps = set()
    for node in graph.node:
        allowed = SUPPORTED_TYPES.get(node.op_type)
        if allowed is None:
            continue
        # The table's types are those of the data tensors; secondary inputs (shapes, indices, sizes) are ints.
        for name in [*node.input[:1], *node.output]:
            t = types.get(name)
            if name and t:
                table_name = ONNX_TYPE_NAMES.get(_elem_type_name(t), _elem_type_name(t))
                if table_name not in allowed:
                    gaps.add(f"{node.op_type}:{table_name}")
        if node.op_type == "Resize":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            mode = attrs.get("mode", b"nearest")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            if mode not in ("nearest", "linear") or attrs.get("antialias", 0):
                audit.resize_problems.append(f"{node.name} (mode={mode}, antialias={attrs.get('antialias', 0)})")
    audit.tensorrt_type_gaps = sorted(gaps)

    for out in graph.output:
        for i, dim in enumerate(out.type.tensor_type.shape.dim):
            if dim.HasField("dim_value"):
                continue
            if not dim.HasField("dim_param") or dim.dim_param not in DECLARED_DIMS:
                audit.undeclared_output_dims.append(f"{out.name}[{i}]={dim.dim_param or '?'}")
    return audit


def audit_export(export_dir: str | Path, files: dict[str, str]) -> dict[str, GraphAudit]:
    """:func:`audit_graph` for every graph of an export (``files``: graph name -> file name)."""
    return {name: audit_graph(Path(export_dir) / file) for name, file in files.items()}

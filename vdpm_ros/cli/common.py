"""What several subcommands share: the ``--model`` argument, loading through the one model door, and the node's parameters."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger("vdpm")

MODEL_HELP = ("a checkpoint (.safetensors, official model.pt), a `vdpm export` directory, or a preset name with random "
              "weights (cpu_tiny, cpu_small, official); default: the embedded default model")  # fmt: skip


class _DeprecatedAlias(argparse.Action):
    """Keeps the old spelling's value apart (see :func:`given_model`) and says that the spelling is deprecated."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        log.warning(f"{option_string} is deprecated; use {self.new}")
        setattr(namespace, self.dest, values)


def given_model(args: argparse.Namespace) -> str | None:
    """The model spec of ``--model`` or its deprecated alias ``--checkpoint``, given once."""
    alias = getattr(args, "model_alias", None)
    if alias is not None and args.model is not None and str(alias) != str(args.model):
        raise ValueError("give the model once: --model (--checkpoint is its deprecated alias)")
    return args.model if args.model is not None else alias


def add_model_arguments(parser: argparse.ArgumentParser, device_default: str = "auto", engine: bool = True,
                        help: str = MODEL_HELP, device: bool = True) -> None:  # fmt: skip
    """``--model`` (old spelling ``--checkpoint`` kept as a deprecated alias), ``--engine`` and ``--device``."""
    parser.add_argument("--model", default=None, help=help)
    parser.add_argument("--checkpoint", dest="model_alias", action=_DeprecatedAlias, new="--model", help=argparse.SUPPRESS)
    if engine:
        parser.add_argument("--engine", default="auto", choices=("auto", "pytorch", "onnxruntime"),
                            help="auto: ONNX Runtime for an export directory, PyTorch for a checkpoint")  # fmt: skip
    if device:
        parser.add_argument("--device", default=device_default, help="auto (cuda if available), cpu, cuda, cuda:N")


def open_model(args: argparse.Namespace, allow_vggt: bool = False, fallback: str | None = None):
    """The model ``args`` name, through :func:`vdpm_ros.runtime.resolve_model`; prints what was loaded and logs its caveats.

    ``fallback``: a spec to use when no model was given and there is no embedded default model (the demo
    still runs, on random weights, and says so).
    """
    from .. import paths
    from ..runtime import resolve_model

    spec = given_model(args)
    if spec is None and fallback is not None and paths.default_model_path() is None:
        log.warning(f"no trained default model found in models/: using {fallback} with RANDOM weights, the numbers below are meaningless")
        spec = fallback
    loaded = resolve_model(spec, getattr(args, "engine", "auto"), args.device, allow_vggt)
    for note in loaded.notes:
        log.warning(note)
    print(f"model: {loaded.description}")
    return loaded


def add_node_parameter_arguments(parser: argparse.ArgumentParser) -> None:
    """``--params-file`` (the node's YAML) and ``--motion-source`` over it: the node's parameters, as the node reads them."""
    parser.add_argument(
        "--params-file", type=Path, default=None, help="node parameters (config/vdpm.yaml format); default: the node's defaults"
    )
    parser.add_argument("--motion-source", default=None, choices=("auto", "model", "flow"),
                        help="the node parameter motion_source (default: the params file's, else auto)")  # fmt: skip


def node_parameters(args: argparse.Namespace):
    """The node's parameters: ``--params-file`` (or the defaults), with ``--motion-source`` over it."""
    from ..ros.parameters import NodeParameters, load_params_file

    params = load_params_file(args.params_file) if args.params_file else NodeParameters()
    if args.motion_source is not None:
        params = params.replace(motion_source=args.motion_source)
    return params

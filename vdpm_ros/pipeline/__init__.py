"""The ROS-free core of the streaming node: frames in, point clouds, scene flow, masks and poses out.

Import direction: model -> geometry -> pipeline -> ros. Nothing here imports rclpy; everything runs and
is tested on the CPU.

    >>> pipe = StreamingPipeline(model, PipelineConfig(window_size=5), on_output=publish)
    >>> pipe.push(Frame(stamp_ns, rgb))     # from the image callback; never blocks
    >>> pipe.close()

Modules: ``config`` (PipelineConfig), ``frames`` (Frame), ``window_buffer`` (WindowBuffer),
``worker`` (InferenceWorker), ``processor`` (WindowProcessor), ``results`` (WindowResult),
``derive`` and ``resample`` (pure maths), ``stitching`` and ``trajectory`` (odometry frame),
``scene``, ``objects_config`` and ``object_inputs`` (moving objects with tracks and the static map, per
window after stitching, from :mod:`vdpm_ros.objects`), ``published`` (what the node publishes, as arrays),
``stream`` (StreamingPipeline, wiring them together; OfflinePipeline, the same without the thread),
``stage_times`` (RecentStageTimes: median time per stage over the last windows, for /diagnostics).
"""

from .config import PipelineConfig
from .frames import Frame
from .objects_config import ObjectsConfig
from .processor import MetricScaleError, WindowProcessor
from .results import AnchorMap, CloudPoints, StageTimings, WindowResult
from .scene import SceneOutputs, SceneStage
from .stage_times import RecentStageTimes
from .stitching import StitchResult, WindowStitcher, fit_anchor_pair
from .stream import OfflinePipeline, PipelineOutput, PipelineStats, PushOutcome, StreamingPipeline, process_window
from .trajectory import Trajectory
from .window_buffer import BufferCounters, WindowBuffer, expected_windows
from .worker import InferenceWorker, WorkerStats

__all__ = [
    "AnchorMap",
    "BufferCounters",
    "CloudPoints",
    "Frame",
    "InferenceWorker",
    "MetricScaleError",
    "ObjectsConfig",
    "OfflinePipeline",
    "PipelineConfig",
    "PipelineOutput",
    "PipelineStats",
    "PushOutcome",
    "RecentStageTimes",
    "SceneOutputs",
    "SceneStage",
    "StageTimings",
    "StitchResult",
    "StreamingPipeline",
    "Trajectory",
    "WindowBuffer",
    "WindowProcessor",
    "WindowResult",
    "WindowStitcher",
    "WorkerStats",
    "expected_windows",
    "fit_anchor_pair",
    "process_window",
]

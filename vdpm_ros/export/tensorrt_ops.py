"""The ONNX operators TensorRT 10's ONNX parser supports, as data (with the tensor types it lists for each).

Source: the support matrix in the public repository onnx/onnx-tensorrt, file ``docs/operators.md``, at
commit 96e781103cfc4adf4a6bb557e94bac8e693f6f4c ("ONNX-TensorRT 10.1 GA release", 2024-06-17; the newest
snapshot available to us). Its header states that TensorRT 10.0 supports operators of opsets 9 to 20.
Transcribed by parsing that table: an operator marked "Y" is in :data:`SUPPORTED_TYPES` with its "Supported
Types" column (one typo there, "INF64" for ConstantOfShape, read as INT64); one marked "N" is in
:data:`UNSUPPORTED`. Per-operator restrictions of that table that matter for V-DPM's graphs are checked in
:mod:`vdpm_ros.export.audit` (Resize: modes nearest/linear only, no antialiasing).

Update this file (and the commit above) when a newer TensorRT release is targeted.
"""

from __future__ import annotations

SOURCE = {
    "repository": "onnx/onnx-tensorrt",
    "path": "docs/operators.md",
    "commit": "96e781103cfc4adf4a6bb557e94bac8e693f6f4c",
    "release": "ONNX-TensorRT 10.1 GA (2024-06-17)",
}

#: Opsets the parser accepts ("TensorRT 10.0 supports operators in the inclusive range of opset 9 to opset 20").
OPSET_RANGE = (9, 20)

_GROUPS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ('FP32', 'FP16', 'BF16'),
        (
            "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "AveragePool", "BatchNormalization", "Ceil", "Celu",
            "Clip", "Conv", "ConvTranspose", "Cos", "Cosh", "CumSum", "Dropout", "Einsum", "Elu", "Erf", "Exp",
            "Floor", "GRU", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "GroupNormalization",
            "HardSigmoid", "HardSwish", "Hardmax", "ImageScaler", "InstanceNormalization", "IsInf", "LRN", "LSTM",
            "LayerNormalization", "LeakyRelu", "Log", "LogSoftmax", "LpNormalization", "LpPool", "MatMul", "MaxPool",
            "MeanVarianceNormalization", "PRelu", "ParametricSoftplus", "Pow", "QuantizeLinear", "RNN",
            "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Reciprocal", "Resize",
            "Round", "ScaledTanh", "Scan", "Selu", "Sigmoid", "Sin", "Sinh", "Softmax", "Softplus", "Softsign",
            "Sqrt", "Tan", "Tanh", "ThresholdedRelu", "Upsample",
        ),
    ),
    (
        ('FP32', 'FP16', 'BF16', 'INT32', 'INT64'),
        (
            "Abs", "Add", "ArgMax", "ArgMin", "DepthToSpace", "Div", "Equal", "Greater", "GreaterOrEqual", "IsNaN",
            "Less", "LessOrEqual", "Max", "Min", "Mod", "Mul", "Neg", "Pad", "Range", "ReduceL1", "ReduceL2",
            "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum",
            "ReduceSumSquare", "Relu", "Scatter", "ScatterElements", "ScatterND", "Shrink", "Sign", "SpaceToDepth",
            "Sub", "Sum", "TopK",
        ),
    ),
    (
        ('FP32', 'FP16', 'BF16', 'INT32', 'INT64', 'BOOL'),
        (
            "Concat", "Constant", "ConstantOfShape", "Expand", "EyeLike", "Flatten", "Gather", "GatherElements",
            "GatherND", "Identity", "If", "Loop", "OneHot", "Reshape", "ReverseSequence", "Shape", "Size", "Slice",
            "Split", "Squeeze", "Tile", "Transpose", "Trilu", "Unsqueeze", "Where",
        ),
    ),
    (
        ('FP32', 'FP16'),
        (
            "DeformConv", "GridSample", "Mish", "NonMaxSuppression", "NonZero", "RoiAlign",
        ),
    ),
    (
        ('BOOL',),
        (
            "And", "Not", "Or", "Xor",
        ),
    ),
    (
        ('FP32', 'FP16', 'BF16', 'INT32', 'INT64', 'UINT8', 'BOOL'),
        (
            "Cast", "CastLike",
        ),
    ),
    (
        ('INT8', 'FP8', 'INT4'),
        (
            "DequantizeLinear",
        ),
    ),
    (
        ('FP32', 'FP16', 'BF16', 'INT8', 'INT32', 'INT64'),
        (
            "Gelu",
        ),
    ),
    (
        ('FP32', 'FP16', 'BF16', 'FP8', 'INT32', 'INT64'),
        (
            "Mean",
        ),
    ),
)

#: ONNX operator type -> the tensor types TensorRT 10 lists for it.
SUPPORTED_TYPES: dict[str, frozenset[str]] = {op: frozenset(types) for types, ops in _GROUPS for op in ops}

#: Operators the table marks as unsupported.
UNSUPPORTED: frozenset[str] = frozenset(
    (
        "AffineGrid", "Bernoulli", "BitShift", "BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor",
        "BlackmanWindow", "CenterCropPad", "Col2Im", "Compress", "ConcatFromSequence", "ConvInteger", "DFT", "Det",
        "DynamicQuantizeLinear", "HammingWindow", "HannWindow", "ImageDecoder", "MatMulInteger", "MaxRoiPool",
        "MaxUnpool", "MelWeightMatrix", "Multinomial", "NegativeLogLikelihoodLoss", "Optional", "OptionalGetElement",
        "OptionalHasElement", "QLinearConv", "QLinearMatMul", "RegexFullMatch", "STFT", "SequenceAt",
        "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength", "SequenceMap",
        "SoftmaxCrossEntropyLoss", "SplitToSequence", "StringConcat", "StringNormalizer", "StringSplit",
        "TfIdfVectorizer", "Unique",
    )
)

#: ONNX tensor element type names (``onnx.TensorProto.DataType``) -> the table's type names.
ONNX_TYPE_NAMES = {
    "FLOAT": "FP32", "FLOAT16": "FP16", "BFLOAT16": "BF16", "INT32": "INT32", "INT64": "INT64", "INT8": "INT8",
    "UINT8": "UINT8", "BOOL": "BOOL", "DOUBLE": "DOUBLE",
}  # fmt: skip

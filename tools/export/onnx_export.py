"""ONNX files of the two towers: torch export, final save, fp16 copy and the onnxruntime check.

One tower at a time, with the PyTorch weights offloaded or freed around each step (see the
Memory section of tools/export/README.md).
"""

from __future__ import annotations

from pathlib import Path

import verify_metrics
from export_common import log

ONNX_OPSET = 17
MAX_IR_VERSION = 13  # onnxruntime-node 1.30 reads IR <= 13 (opset <= 26)
PROTOBUF_LIMIT = 1_800_000_000  # save with external data above this (protobuf's 2 GiB limit)


def save_onnx(model_proto, path: Path) -> None:
    import onnx

    if model_proto.ir_version > MAX_IR_VERSION:
        model_proto.ir_version = MAX_IR_VERSION
    data = path.with_name(path.name + "_data")
    if data.exists():
        data.unlink()
    if model_proto.ByteSize() > PROTOBUF_LIMIT:
        onnx.save_model(model_proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data.name, size_threshold=1024)
    else:
        onnx.save_model(model_proto, str(path))


def export_tower(module, example, input_name: str, raw: Path) -> None:
    """torch.onnx.export of one tower into `raw`, as torch writes it (finish_onnx makes it final).

    Split from finish_onnx so that the caller can free the tower's PyTorch weights before the
    ONNX protobuf is loaded back: so400m's towers are 1.7–1.8 GB each, and holding the model, the
    exporter's copy and the loaded protobuf at once is what made its export need > 11 GB.
    """
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            out = self.m(**{input_name: x})
            return out.last_hidden_state, out.pooler_output

    torch.onnx.export(
        Wrapper(module).eval(), (example,), str(raw),
        input_names=[input_name], output_names=["last_hidden_state", "pooler_output"],
        dynamic_axes={input_name: {0: "batch"}, "last_hidden_state": {0: "batch"},
                      "pooler_output": {0: "batch"}},
        opset_version=ONNX_OPSET, do_constant_folding=True, dynamo=False,
    )


def finish_onnx(raw: Path, path: Path) -> None:
    """Producer name, IR version cap, external data above the protobuf limit; then the ONNX checker.

    The checker reads the saved file (by path) rather than the in-memory protobuf, which it would
    serialise into one more copy of the weights.
    """
    import onnx

    proto = onnx.load(str(raw))  # loads external data too, if torch wrote any
    proto.producer_name = "siglip-batch tools/export"
    save_onnx(proto, path)
    del proto
    release_memory()
    onnx.checker.check_model(str(path), full_check=False)


def offload_parameters(module, path: Path) -> None:
    """Write a module's parameters to `path` and free them (empty tensors) until restore_parameters."""
    import torch

    torch.save({name: p.detach() for name, p in module.named_parameters()}, str(path))
    for p in module.parameters():
        p.data = torch.empty(0, dtype=p.dtype)
    release_memory()


def restore_parameters(module, path: Path) -> None:
    """The parameters offload_parameters wrote, bit for bit, back into the same module."""
    import torch

    saved = torch.load(str(path), weights_only=True)
    for name, p in module.named_parameters():
        p.data = saved.pop(name)
    path.unlink()


def release_memory() -> None:
    """Collect, then give freed heap pages back to the OS (glibc keeps them otherwise).

    Without the trim, the freed weights of a tower stay in the process's RSS and the next step's
    allocations come on top of them.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


def to_fp16(src: Path, dst: Path) -> None:
    """fp16 copy of an exported tower (float32 inputs/outputs).

    The converter is given the file's path, not a loaded protobuf: it then infers shapes file to
    file (infer_shapes_path) and loads the model once, instead of holding the protobuf and the copy
    that in-memory shape inference returns (and it works above protobuf's 2 GiB limit as well).
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto16 = convert_float_to_float16(str(src), keep_io_types=True)
    save_onnx(proto16, dst)
    del proto16
    release_memory()


def check_onnx(path: Path, feed_name: str, x, ref: tuple, fp16: bool) -> dict:
    import numpy as np
    import onnx
    import onnxruntime as ort

    meta = onnx.load(str(path), load_external_data=False)
    opset = max(o.version for o in meta.opset_import if o.domain in ("", "ai.onnx"))
    ir_version = meta.ir_version
    del meta  # inline weights are loaded with it: not held while the session loads its own copy
    if ir_version > MAX_IR_VERSION or opset > 26:
        raise SystemExit(f"{path}: IR {ir_version} / opset {opset} too new for onnxruntime-node 1.30")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ins = [(i.name, i.type, i.shape) for i in sess.get_inputs()]
    outs = [(o.name, o.type, o.shape) for o in sess.get_outputs()]
    got = sess.run(["last_hidden_state", "pooler_output"], {feed_name: x})
    res = {"file": path.name, "ir_version": ir_version, "opset": opset, "inputs": ins, "outputs": outs}
    for name, g, r in zip(("last_hidden_state", "pooler_output"), got, ref):
        if g.dtype != np.float32:
            raise SystemExit(f"{path}: {name} is {g.dtype}, expected float32")
    # Error relative to each output vector's norm + pooled cosine (why: verify_metrics.py).
    figures, problems = verify_metrics.compare_tower(dict(zip(("last_hidden_state", "pooler_output"), got)),
                                                     dict(zip(("last_hidden_state", "pooler_output"), ref)), fp16)
    res.update(figures)
    if problems:
        raise SystemExit(f"{path}: " + "; ".join(problems))
    log(f"  {path.name}: IR {ir_version}, opset {opset}, in {ins}, "
        f"max|diff| last_hidden_state {res['last_hidden_state_max_abs_diff']:.3g} "
        f"(max|x| {res['last_hidden_state_max_abs']:.3g}), pooler_output {res['pooler_output_max_abs_diff']:.3g} "
        f"(max|x| {res['pooler_output_max_abs']:.3g}), relative error {res['last_hidden_state_rel_err']:.3g} / "
        f"{res['pooler_output_rel_err']:.3g}, min cosine {res['pooler_min_cosine']:.8f}")
    return res

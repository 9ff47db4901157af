"""Builds the transformers.js (Xenova layout) copy of a model directory of ours for the benchmark.

transformers.js' zero-shot-image-classification pipeline loads `SiglipModel`, whose session is the
combined `onnx/model.onnx` (inputs input_ids + pixel_values; outputs logits_per_image,
logits_per_text, text_embeds, image_embeds). Our export writes the two towers; this composes them
into that graph unchanged (same weights, same nodes) and adds the head exactly as transformers'
SiglipModel.forward computes it: L2-normalised pooler outputs, logits_per_text =
text_embeds @ image_embeds.T * exp(logit_scale) + logit_bias, logits_per_image = its transpose.
logit_scale / logit_bias come from our sidecar (siglip-batch.json).

    .venv/bin/python bench/make-tjs-model.py fixtures/models/tiny-siglip bench/out/models/tiny-siglip-tjs
"""
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import compose, helper, numpy_helper, TensorProto

src, out = Path(sys.argv[1]), Path(sys.argv[2])
(out / "onnx").mkdir(parents=True, exist_ok=True)
for name in ["config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
    if (src / name).exists():
        shutil.copy(src / name, out / name)
sidecar = json.loads((src / "siglip-batch.json").read_text())

vision = compose.add_prefix(onnx.load(str(src / "onnx/vision_model.onnx")), "v_")
text = compose.add_prefix(onnx.load(str(src / "onnx/text_model.onnx")), "t_")
nodes, inits, vinfo = [], [], []
for model, prefix in ((vision, "v_"), (text, "t_")):
    nodes += list(model.graph.node)
    inits += list(model.graph.initializer)
    vinfo += list(model.graph.value_info)
# Rename the prefixed graph inputs back to the names transformers.js feeds.
inputs = []
for model, name in ((vision, "pixel_values"), (text, "input_ids")):
    (inp,) = [i for i in model.graph.input if i.name.endswith(name)]
    nodes.insert(0, helper.make_node("Identity", [name], [inp.name]))
    renamed = onnx.ValueInfoProto()
    renamed.CopyFrom(inp)
    renamed.name = name
    inputs.append(renamed)

inits.append(numpy_helper.from_array(np.array(math.exp(sidecar["logit_scale"]), dtype=np.float32), "head_scale"))
inits.append(numpy_helper.from_array(np.array(sidecar["logit_bias"], dtype=np.float32), "head_bias"))
for tower, emb in (("v_", "image_embeds"), ("t_", "text_embeds")):
    pooled = f"{tower}pooler_output"
    # Opset 13 (the towers') takes the axes as an attribute.
    nodes.append(helper.make_node("ReduceL2", [pooled], [f"{tower}norm"], axes=[-1], keepdims=1))
    nodes.append(helper.make_node("Div", [pooled, f"{tower}norm"], [emb]))
nodes.append(helper.make_node("Transpose", ["image_embeds"], ["image_embeds_t"], perm=[1, 0]))
nodes.append(helper.make_node("MatMul", ["text_embeds", "image_embeds_t"], ["sim"]))
nodes.append(helper.make_node("Mul", ["sim", "head_scale"], ["scaled"]))
nodes.append(helper.make_node("Add", ["scaled", "head_bias"], ["logits_per_text"]))
nodes.append(helper.make_node("Transpose", ["logits_per_text"], ["logits_per_image"], perm=[1, 0]))

f = TensorProto.FLOAT
outputs = [
    helper.make_tensor_value_info("logits_per_image", f, ["image_batch", "text_batch"]),
    helper.make_tensor_value_info("logits_per_text", f, ["text_batch", "image_batch"]),
    helper.make_tensor_value_info("text_embeds", f, ["text_batch", None]),
    helper.make_tensor_value_info("image_embeds", f, ["image_batch", None]),
]
graph = helper.make_graph(nodes, "siglip", inputs, outputs, inits, value_info=vinfo)
opsets = {o.domain: o.version for o in list(vision.opset_import) + list(text.opset_import)}
model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
model.ir_version = vision.ir_version
onnx.checker.check_model(model)
onnx.save(model, str(out / "onnx/model.onnx"))
print(f"wrote {out / 'onnx/model.onnx'} (opset {opsets.get('', '?')})")

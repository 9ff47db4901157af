"""Writes combined-siglip-*.onnx: a micro random SiglipModel exported whole (both towers and the
logits), as hub exports ship `onnx/model.onnx`. The exporters do not keep the names of
logit_scale / logit_bias, so libs/model finds them by their role in the graph; these files
pin that against real exporter output.

    .venv/bin/python libs/model/test-fixtures/make-combined-onnx.py

CI never runs this; the files it writes are committed (a few kB each).
"""
import json
import pathlib
import warnings

import torch
from transformers import SiglipConfig, SiglipModel

HERE = pathlib.Path(__file__).parent
LOGIT_SCALE = 1.234
LOGIT_BIAS = -5.678

torch.manual_seed(0)
config = SiglipConfig(
    text_config=dict(hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
                     max_position_embeddings=4, vocab_size=16),
    vision_config=dict(hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
                       image_size=28, patch_size=14),
)
model = SiglipModel(config).eval()
with torch.no_grad():
    model.logit_scale.fill_(LOGIT_SCALE)
    model.logit_bias.fill_(LOGIT_BIAS)


class Combined(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, pixel_values):
        out = self.m(input_ids=input_ids, pixel_values=pixel_values)
        return out.logits_per_image, out.logits_per_text, out.text_embeds, out.image_embeds


ids = torch.tensor([[1, 2, 3, 1], [4, 5, 1, 1]])
pixels = torch.randn(1, 3, 28, 28)
variants = {
    # the TorchScript exporter (Optimum / Xenova era): parameters come out as onnx::Exp_…, onnx::Add_…
    "torchscript": dict(dynamo=False, do_constant_folding=False),
    # the same with constant folding: Exp(logit_scale) is folded into one constant multiplier
    "folded": dict(dynamo=False, do_constant_folding=True),
}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for name, kwargs in variants.items():
        path = HERE / f"combined-siglip-{name}.onnx"
        torch.onnx.export(
            Combined(model), (ids, pixels), str(path), opset_version=17,
            input_names=["input_ids", "pixel_values"],
            output_names=["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"],
            dynamic_axes={"input_ids": {0: "text_batch"}, "pixel_values": {0: "image_batch"}},
            **kwargs,
        )
        print(f"wrote {path} ({path.stat().st_size} bytes)")
(HERE / "combined-siglip.json").write_text(json.dumps({"logit_scale": LOGIT_SCALE, "logit_bias": LOGIT_BIAS}) + "\n")

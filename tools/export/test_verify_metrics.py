"""The export checks (verify_metrics.py) pass a correct export and fail deliberately wrong ones.

    .venv/bin/python -m unittest tools/export/test_verify_metrics.py -v      (about a minute)

A random tiny SigLIP (the committed fixture's geometry) is exported as siglip_export.py does; each
wrong export changes one thing an exporter or a hand-written graph can get wrong, exports that,
and compares it with the unchanged PyTorch model, exactly as the export tool's check does.
Not run in CI (CI has no Python).
"""
from __future__ import annotations

import copy
import math
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

import onnx_export  # noqa: E402
from model_export import set_eager  # noqa: E402
from random_models import random_model  # noqa: E402
import verify_metrics as vm  # noqa: E402

OUTPUTS = ("last_hidden_state", "pooler_output")


def run(path: Path, feed: str, x: np.ndarray) -> dict[str, np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip(OUTPUTS, sess.run(list(OUTPUTS), {feed: x})))


class VerifyMetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.model = random_model("tiny", 0, 1000)
        set_eager(cls.model)
        gen = torch.Generator().manual_seed(5)
        cls.pix = (torch.rand((3, 3, 224, 224), generator=gen) * 2 - 1)
        cls.ids = torch.randint(0, 1000, (4, 16), generator=gen)
        with torch.no_grad():
            v = cls.model.vision_model(pixel_values=cls.pix)
            t = cls.model.text_model(input_ids=cls.ids)
        cls.ref = {
            "vision": {n: getattr(v, n).numpy() for n in OUTPUTS},
            "text": {n: getattr(t, n).numpy() for n in OUTPUTS},
        }
        cls.figures: dict[str, dict] = {}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        for name, f in cls.figures.items():
            print(f"{name:38s} rel_err hidden {f.get('last_hidden_state_rel_err', math.nan):.3g} "
                  f"pooled {f.get('pooler_output_rel_err', math.nan):.3g} cosine {f.get('pooler_min_cosine', math.nan):.8f}",
                  file=sys.stderr)

    def export(self, model, tower: str, name: str) -> Path:
        path, raw = self.dir / f"{name}.onnx", self.dir / f"{name}.raw.onnx"
        if tower == "vision":
            onnx_export.export_tower(model.vision_model, self.pix[:2], "pixel_values", raw)
        else:
            onnx_export.export_tower(model.text_model, self.ids[:2], "input_ids", raw)
        onnx_export.finish_onnx(raw, path)
        raw.unlink()
        return path

    def check(self, path: Path, tower: str, name: str, fp16: bool = False) -> list[str]:
        feed, x = ("pixel_values", self.pix.numpy()) if tower == "vision" else ("input_ids", self.ids.numpy())
        figures, problems = vm.compare_tower(run(path, feed, x), self.ref[tower], fp16)
        self.figures[name] = figures
        return problems

    def wrong(self, tower: str, name: str, mutate) -> list[str]:
        model = copy.deepcopy(self.model)
        with torch.no_grad():
            mutate(model)
        return self.check(self.export(model, tower, name), tower, name)

    # ---- correct exports pass

    def test_correct_export_passes_fp32_and_fp16(self):
        for tower in ("vision", "text"):
            path = self.export(self.model, tower, f"correct-{tower}")
            self.assertEqual(self.check(path, tower, f"correct {tower} fp32"), [])
            half = self.dir / f"correct-{tower}-fp16.onnx"
            onnx_export.to_fp16(path, half)
            self.assertEqual(self.check(half, tower, f"correct {tower} fp16", fp16=True), [])
            # and fp16 output is not good enough for the fp32 bounds: the bounds are not vacuous
            self.assertNotEqual(self.check(half, tower, f"fp16 {tower} held to fp32 bounds"), [])

    # ---- wrong exports fail

    def test_weight_scaled_by_one_percent(self):
        def mutate(m):
            m.vision_model.encoder.layers[1].mlp.fc2.weight.mul_(1.01)
        self.assertNotEqual(self.wrong("vision", "vision fc2 weight x1.01", mutate), [])

    def test_bias_dropped(self):
        def mutate(m):
            m.text_model.encoder.layers[0].self_attn.out_proj.bias.zero_()
        self.assertNotEqual(self.wrong("text", "text out_proj bias dropped", mutate), [])

    def test_erf_gelu_is_below_what_an_output_comparison_can_tell(self):
        # A limit, measured rather than hidden: the exact (erf) GELU instead of SigLIP's tanh
        # approximation moves the tiny model's outputs by ~2e-4 relative — as much as float32
        # rounding moves a correct 27-layer so400m text tower (1.9e-4). No output bound can tell
        # these apart; the exporter traces the module's own activation, which is what rules it out.
        def mutate(m):
            for layer in m.vision_model.encoder.layers:
                layer.mlp.activation_fn = torch.nn.GELU()
        self.assertEqual(self.wrong("vision", "vision erf GELU", mutate), [])
        self.assertGreater(self.figures["vision erf GELU"]["pooler_output_rel_err"], 1e-5)

    def test_wrong_attention_scale(self):
        def mutate(m):
            for layer in m.text_model.encoder.layers:
                layer.self_attn.scale *= 1.05
        self.assertNotEqual(self.wrong("text", "text attention scale x1.05", mutate), [])

    def test_pooler_head_scaled(self):
        # A uniform scale leaves the cosine at 1: only the relative error sees it.
        def mutate(m):
            m.text_model.head.weight.mul_(1.01)
            m.text_model.head.bias.mul_(1.01)
        problems = self.wrong("text", "text head x1.01 (cosine-invisible)", mutate)
        self.assertTrue(any("pooler_output: relative error" in p for p in problems), problems)
        self.assertFalse(any("cosine" in p for p in problems), problems)

    def test_initializer_perturbed_in_the_graph(self):
        path = self.export(self.model, "vision", "graph-edit")
        proto = onnx.load(str(path))
        # the first MLP weight matrix, as the exporter named it (onnx::MatMul_…), 1 % too large
        init = next(t for t in proto.graph.initializer if t.name.startswith("onnx::MatMul") and len(t.dims) == 2)
        arr = onnx.numpy_helper.to_array(init) * np.float32(1.01)
        init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
        onnx.save(proto, str(path))
        self.assertNotEqual(self.check(path, "vision", f"graph: {init.name} x1.01"), [])

    def test_fp16_bounds_catch_a_wrong_fp16_export(self):
        model = copy.deepcopy(self.model)
        with torch.no_grad():
            model.vision_model.head.mlp.fc2.weight.mul_(1.2)
        path = self.export(model, "vision", "wrong-fp16-src")
        half = self.dir / "wrong-fp16.onnx"
        onnx_export.to_fp16(path, half)
        self.assertNotEqual(self.check(half, "vision", "fp16 vision head fc2 x1.2", fp16=True), [])


if __name__ == "__main__":
    unittest.main()

"""pipette.ops agree with Captum on the same model and inputs, in one process.

Captum is pinned in the environment the suite runs in (build/python-peers
for Debian's Python, the torch2 venv for PyPI's torch); without it these
tests are skipped, saying so."""
import pipette
import pytest
import torch

captum_attr = pytest.importorskip("captum.attr", reason="Captum is not installed for this Python "
                                                        "(scripts/build.sh puts it in build/python-peers)")

TARGET = torch.tensor([0, 1, 2, 0, 1, 2])


def close(a, b, tol=1e-5):
    scale = max(b.abs().max().item(), 1e-12)
    return (a - b).abs().max().item() / scale < tol


def test_integrated_gradients(net, images):
    for method in ["gausslegendre", "riemann_left", "riemann_middle", "riemann_trapezoid"]:
        ours = pipette.ops.attr.integrated_gradients(net, images, target=TARGET, steps=32, method=method)
        theirs = captum_attr.IntegratedGradients(net).attribute(images, target=TARGET, n_steps=32, method=method)
        if method == "riemann_trapezoid":  # Captum's weights sum to (n-1)/n (docs/ops/attribution.md)
            ours = ours * 31 / 32
        assert close(ours, theirs), method


def test_saliency_and_input_x_gradient(net, images):
    assert close(pipette.ops.attr.saliency(net, images, target=TARGET),
                 captum_attr.Saliency(net).attribute(images, target=TARGET))
    assert close(pipette.ops.attr.saliency(net, images, target=TARGET, abs=False),
                 captum_attr.Saliency(net).attribute(images, target=TARGET, abs=False))
    assert close(pipette.ops.attr.input_x_gradient(net, images, target=TARGET),
                 captum_attr.InputXGradient(net).attribute(images, target=TARGET))


def test_occlusion_and_feature_ablation(net, images):
    ours = pipette.ops.attr.occlusion(net, images, target=TARGET, window=[3, 3], strides=[2, 2])
    theirs = captum_attr.Occlusion(net).attribute(images, target=TARGET, sliding_window_shapes=(1, 3, 3),
                                                  strides=(1, 2, 2))
    assert close(ours, theirs)
    mask = (torch.arange(64).view(1, 1, 8, 8) // 16).expand(6, 1, 8, 8).contiguous()
    ours = pipette.ops.attr.feature_ablation(net, images, target=TARGET, feature_mask=mask)
    theirs = captum_attr.FeatureAblation(net).attribute(images, target=TARGET, feature_mask=mask)
    assert close(ours, theirs)

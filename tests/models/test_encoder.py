"""Behaviour of the ViV1T encoder (tiny configuration unless stated otherwise)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from brainenc.models import GaussianReadout, MouseSpec, ViV1T, ViViTCore

T = 30  # 30 frames -> 6 predictions with 25-frame tubelets


def test_output_shape_and_alignment(build_model, make_inputs):
    model = build_model("tiny", {"A": 11, "B": 7}).eval()
    video, behavior, pupil = make_inputs(2, T)
    with torch.no_grad():
        assert model(video, "A", behavior, pupil).shape == (2, 11, T - 24)
        assert model(video, "B", behavior, pupil).shape == (2, 7, T - 24)
        assert model.core(video, behavior, pupil).shape == (2, 16, T - 24, 15, 29)
    assert model.core.frame_offset == 24
    assert model.mouse_ids == ["A", "B"]


@pytest.mark.slow
def test_authors_configuration_on_a_140_frame_clip(build_model, make_inputs):
    model = build_model("viv1t", {"A": 227}).eval()
    video, behavior, pupil = make_inputs(1, 140)
    with torch.no_grad():
        responses = model(video, "A", behavior, pupil)
    assert responses.shape == (1, 227, 116)
    assert torch.isfinite(responses).all() and (responses > 0).all()


def test_eval_mode_is_deterministic(build_model, make_inputs):
    model = build_model("tiny", {"A": 9}).eval()
    video, behavior, pupil = make_inputs(2, T)
    with torch.no_grad():
        first = model(video, "A", behavior, pupil)
        torch.manual_seed(123)
        second = model(video, "A", behavior, pupil)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_train_mode_is_stochastic(build_model, make_inputs):
    model = build_model("tiny", {"A": 9}).train()
    video, behavior, pupil = make_inputs(1, T)
    with torch.no_grad():
        assert not torch.equal(
            model(video, "A", behavior, pupil), model(video, "A", behavior, pupil)
        )


def test_unfold_and_conv_tokenizers_give_the_same_predictions(build_model, make_inputs):
    conv = build_model("tiny", {"A": 9}, tokenizer="conv").eval()
    unfold = build_model("tiny", {"A": 9}, tokenizer="unfold").eval()
    unfold.load_state_dict(conv.state_dict())
    video, behavior, pupil = make_inputs(1, T)
    with torch.no_grad():
        torch.testing.assert_close(
            conv(video, "A", behavior, pupil),
            unfold(video, "A", behavior, pupil),
            rtol=1e-4,
            atol=1e-5,
        )


def test_chunked_inference_gives_the_same_predictions(build_model, make_inputs):
    whole = build_model("tiny", {"A": 9}, chunk_tokens=None).eval()
    chunked = build_model("tiny", {"A": 9}, chunk_tokens=1000).eval()
    chunked.load_state_dict(whole.state_dict())
    video, behavior, pupil = make_inputs(2, T)
    with torch.no_grad():
        expected = whole(video, "A", behavior, pupil)
        found = chunked(video, "A", behavior, pupil)
    torch.testing.assert_close(found, expected, rtol=1e-5, atol=1e-6)


def loss_and_grads(model: ViV1T, inputs, seed: int = 7) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    video, behavior, pupil = inputs
    model.zero_grad()
    model(video, "A", behavior, pupil).square().mean().backward()
    return {name: p.grad for name, p in model.named_parameters()}


def test_gradients_reach_every_trainable_parameter(build_model, make_inputs):
    model = build_model("tiny", {"A": 9, "B": 4}).train()
    grads = loss_and_grads(model, make_inputs(2, T))
    heads_of_b = {name for name in grads if name.startswith(("readouts.B.", "shifters.B."))}
    for name, grad in grads.items():
        if name in heads_of_b:
            assert grad is None, f"{name}: mouse B's head must not be touched by mouse A's batch"
        else:
            assert grad is not None and torch.isfinite(grad).all(), name
            assert grad.abs().sum() > 0, name


def test_gradient_checkpointing_gives_the_same_gradients(build_model, make_inputs):
    inputs = make_inputs(2, T)
    sizes = {"spatial_depth": 2, "temporal_depth": 2, "chunk_tokens": None}
    plain = build_model("tiny", {"A": 9}, grad_checkpointing=False, **sizes).train()
    checkpointed = build_model("tiny", {"A": 9}, grad_checkpointing=True, **sizes).train()
    checkpointed.load_state_dict(plain.state_dict())
    assert checkpointed.core.grad_checkpointing and not plain.core.grad_checkpointing
    expected = loss_and_grads(plain, inputs)
    found = loss_and_grads(checkpointed, inputs)
    for name in expected:
        torch.testing.assert_close(found[name], expected[name], rtol=1e-5, atol=1e-7, msg=name)


def test_output_activations(build_model, make_inputs):
    video, behavior, pupil = make_inputs(1, T)
    predictions = {}
    for activation in ("exp", "elu1", "softplus", "identity"):
        model = build_model("tiny", {"A": 9}).eval()
        model.output_activation = activation
        with torch.no_grad():
            predictions[activation] = model(video, "A", behavior, pupil)
    logits = predictions["exp"].log()
    torch.testing.assert_close(predictions["softplus"], F.softplus(logits))
    torch.testing.assert_close(predictions["elu1"], F.elu(logits) + 1)
    torch.testing.assert_close(predictions["identity"], logits)


def reference_readout(readout: GaussianReadout, features, shift, behavior, pupil):
    """The authors' eval-mode formula, written out step by step."""
    b, c, t, h, w = features.shape
    mu = readout.mu_transform(readout.source_grid).clamp(-1, 1)  # (N, 2)
    out = torch.empty(b, readout.num_neurons, t)
    for i in range(b):
        for j in range(t):
            grid = (mu + shift[i, :, j]).view(1, -1, 1, 2)
            sampled = F.grid_sample(features[i : i + 1, :, j], grid, align_corners=True)[0, :, :, 0]
            state = torch.cat((behavior[i, :, j], pupil[i, :, j]))
            state = readout.state_encoder(state[None])[0]  # (C,)
            out[i, :, j] = ((sampled + state[:, None]) * readout.features[0]).sum(0) + readout.bias
    return out


def test_readout_matches_the_reference_formula():
    torch.manual_seed(0)
    readout = GaussianReadout(torch.rand(6, 2) * 300, torch.rand(6), in_channels=3).eval()
    with torch.no_grad():
        readout.features.normal_()
        readout.mu_transform[2].bias.copy_(torch.tensor([3.0, -3.0]))  # push mu to the border
        features = torch.randn(2, 3, 4, 5, 7)
        shift = torch.rand(2, 2, 4) - 0.5
        behavior, pupil = torch.randn(2, 2, 4), torch.randn(2, 2, 4)
        found = readout(features, shift, behavior, pupil)
        expected = reference_readout(readout, features, shift, behavior, pupil)
    torch.testing.assert_close(found, expected)


def test_readout_initialisation():
    coordinates = torch.tensor([[0.0, 0.0], [10.0, 0.0], [20.0, 40.0]])
    means = torch.tensor([0.5, 1.0, 2.0])
    readout = GaussianReadout(coordinates, means, in_channels=4, init_sigma=0.5)
    centred = coordinates - coordinates.mean(0)
    torch.testing.assert_close(readout.source_grid, centred / centred.abs().max())
    torch.testing.assert_close(readout.bias.data, means)
    assert torch.all(readout.features == 0.25)
    assert readout.sigma.abs().max() <= 0.5
    single = GaussianReadout(torch.tensor([[3.0, 4.0]]), None, in_channels=4)
    assert torch.equal(single.source_grid, torch.zeros(1, 2))
    assert torch.equal(single.bias.data, torch.zeros(1))


def test_training_grid_is_sampled_around_mu():
    torch.manual_seed(0)
    readout = GaussianReadout(torch.rand(3, 2), None, in_channels=2)
    with torch.no_grad():
        readout.sigma.copy_(torch.tensor([[0.1, 0.0], [0.0, 0.2]]).expand(1, 3, 2, 2))
        mu = readout.mu_transform(readout.source_grid)
        readout.train()
        grid = readout.grid(20_000)[:, :, 0]  # (B, N, 2)
        readout.eval()
        torch.testing.assert_close(readout.grid(2)[:, :, 0], mu.expand(2, 3, 2))
    assert grid.mean(0).sub(mu).abs().max() < 0.01
    torch.testing.assert_close(
        grid.std(0), torch.tensor([0.1, 0.2]).expand(3, 2), atol=0.01, rtol=0
    )


@pytest.mark.parametrize(
    ("coordinates", "means", "message"),
    [
        (torch.rand(4, 3), None, r"shape \(N, 2\).*got \(4, 3\).*coordinates\[:, :2\]"),
        (torch.rand(0, 2), None, r"N >= 1"),
        (torch.tensor([[0.0, float("nan")]]), None, "NaN"),
        (torch.rand(4, 2), torch.rand(5), r"mean_responses must have shape \(N,\) = \(4,\)"),
    ],
    ids=["xyz", "empty", "nan", "means-length"],
)
def test_mouse_spec_rejects_bad_input(coordinates, means, message):
    with pytest.raises(ValueError, match=message):
        MouseSpec(coordinates, means)


def test_mouse_spec_accepts_numpy_arrays():
    import numpy as np

    spec = MouseSpec(np.zeros((3, 2), dtype=np.int64), np.ones(3))
    assert spec.neuron_coordinates.dtype == torch.float32 and spec.num_neurons == 3


@pytest.mark.parametrize("mouse_id", ["", "a.b", "keys"], ids=["empty", "dot", "attribute"])
def test_bad_mouse_ids_are_refused(build_model, mouse_id):
    with pytest.raises(ValueError, match="mouse_id"):
        build_model("tiny", {mouse_id: 3})


def test_any_string_mouse_id_works(build_model, make_inputs):
    model = build_model("tiny", {"dynamic29156-11-10": 3, "in silico 1": 2}).eval()
    video, behavior, pupil = make_inputs(1, T)
    with torch.no_grad():
        assert model(video, "in silico 1", behavior, pupil).shape == (1, 2, T - 24)


def test_unknown_mouse_names_the_known_ones(build_model, make_inputs):
    model = build_model("tiny", {"A": 3})
    with pytest.raises(KeyError, match=r"unknown mouse_id 'Z'.*\['A'\]"):
        model(*make_inputs(1, T)[:1], "Z", *make_inputs(1, T)[1:])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda v, b, p: (v[:, :, :20], b[..., :20], p[..., :20]), "20 frames"),
        (lambda v, b, p: (v[..., :32], b, p), r"frame_size=\[36, 32\]"),
        (lambda v, b, p: (v[:, 0], b, p), r"\(B, 1, T, 36, 64\)"),
        (lambda v, b, p: (v, b[..., :-1], p), r"behavior must have shape \(B, 2, T\)"),
        (lambda v, b, p: (v, b, p[:, :1]), r"pupil_center must have shape"),
    ],
    ids=["too-short", "frame-size", "no-channel", "behavior-length", "pupil-channels"],
)
def test_bad_input_shapes_are_explained(build_model, make_inputs, change, message):
    model = build_model("tiny", {"A": 3})
    video, behavior, pupil = change(*make_inputs(1, T))
    with pytest.raises(ValueError, match=message):
        model(video, "A", behavior, pupil)


def test_bad_settings_are_explained(build_model):
    with pytest.raises(ValueError, match="output_activation must be one of"):
        ViV1T(
            build_model("tiny", {"A": 2}).core,
            {"A": MouseSpec(torch.rand(2, 2))},
            output_activation="relu",
        )
    with pytest.raises(ValueError, match="tokenizer mode must be one of"):
        ViViTCore(tokenizer="fast")
    with pytest.raises(ValueError, match="chunk_tokens must be a positive number"):
        ViViTCore(chunk_tokens=0)
    with pytest.raises(ValueError, match=r"frame_size must be \(height, width\)"):
        ViViTCore(frame_size=(36,))
    with pytest.raises(ValueError, match="mice is empty"):
        ViV1T(build_model("tiny", {"A": 2}).core, {})

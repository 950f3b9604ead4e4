"""The conv-equivalent tokenizer against the authors' unfold path, and the patch layout."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from brainenc.models import PatchUnfold, Tokenizer, ViViTCore

PATCH = (25, 7, 7)


def make_tokenizer(mode: str, *, patch=PATCH, stride=2, frame=(36, 64), emb=16, seed=0):
    torch.manual_seed(seed)
    tokenizer = Tokenizer(
        in_channels=5,
        frame_size=frame,
        max_frame=300,
        patch_size=patch,
        spatial_stride=stride,
        emb_dim=emb,
        dropout=0.0,
        mode=mode,
    )
    # Non-trivial LayerNorm affine parameters, so the folding of gamma and beta is exercised.
    with torch.no_grad():
        for norm in (tokenizer.tokenizer[1], tokenizer.tokenizer[3]):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_(0.0, 0.5)
    return tokenizer


def twin_tokenizers(**kwargs) -> tuple[Tokenizer, Tokenizer]:
    conv = make_tokenizer("conv", **kwargs)
    unfold = make_tokenizer("unfold", **kwargs)
    unfold.load_state_dict(conv.state_dict())
    return conv, unfold


def inputs(frames: int, frame=(36, 64), dtype=torch.float32, offset=0.0, seed=3):
    generator = torch.Generator().manual_seed(seed)
    video = torch.randn(2, 1, frames, *frame, generator=generator, dtype=dtype) + offset
    signals = torch.randn(2, 4, frames, generator=generator, dtype=dtype) + offset
    return video, signals


def grads(tokenizer: Tokenizer, video: torch.Tensor, signals: torch.Tensor):
    video = video.clone().requires_grad_(True)
    signals = signals.clone().requires_grad_(True)
    tokens = tokenizer(video, signals)
    weights = torch.linspace(-1, 1, tokens.numel(), dtype=tokens.dtype).view_as(tokens)
    (tokens * weights).sum().backward()
    named = {name: p.grad for name, p in tokenizer.named_parameters()}
    return tokens.detach(), {"video": video.grad, "signals": signals.grad, **named}


def test_patch_vector_is_channel_major_c_pt_ph_pw():
    x = torch.arange(2 * 3 * 6 * 9 * 11, dtype=torch.float64).view(2, 3, 6, 9, 11)
    patches = PatchUnfold((4, 3, 5), spatial_stride=2)(x)
    nh, nw = (9 - 3) // 2 + 1, (11 - 5) // 2 + 1
    assert patches.shape == (2, 6 - 4 + 1, nh * nw, 3 * 4 * 3 * 5)
    b, t0, row, col = 1, 2, 2, 1
    expected = x[b, :, t0 : t0 + 4, 2 * row : 2 * row + 3, 2 * col : 2 * col + 5].reshape(-1)
    torch.testing.assert_close(patches[b, t0, row * nw + col], expected, rtol=0, atol=0)


def test_authors_clip_gives_116_by_435_tokens():
    video, signals = inputs(140)
    with torch.no_grad():
        tokens = make_tokenizer("conv")(video[:1], signals[:1])
    assert tokens.shape == (1, 116, 435, 16)


def test_conv_equals_unfold_forward_and_backward_fp32():
    conv, unfold = twin_tokenizers()
    video, signals = inputs(27)
    fast, fast_grads = grads(conv, video, signals)
    naive, naive_grads = grads(unfold, video, signals)
    torch.testing.assert_close(fast, naive, rtol=1e-4, atol=1e-4)
    assert fast_grads.keys() == naive_grads.keys()
    assert len(fast_grads) == 2 + 8  # inputs, 3 norms/linear x (weight, bias), 2 position tables
    for name in fast_grads:
        scale = naive_grads[name].abs().max().item()
        torch.testing.assert_close(
            fast_grads[name], naive_grads[name], rtol=1e-3, atol=1e-4 * scale, msg=name
        )


def test_conv_equals_unfold_to_fp64_precision():
    conv, unfold = twin_tokenizers()
    conv.double(), unfold.double()
    video, signals = inputs(26, dtype=torch.float64)
    fast, fast_grads = grads(conv, video, signals)
    naive, naive_grads = grads(unfold, video, signals)
    assert fast.dtype == torch.float64
    torch.testing.assert_close(fast, naive, rtol=1e-10, atol=1e-10)
    for name in fast_grads:
        torch.testing.assert_close(
            fast_grads[name], naive_grads[name], rtol=1e-9, atol=1e-9, msg=name
        )


def test_conv_stays_exact_for_inputs_far_from_zero():
    """Raw, un-normalised inputs (grey levels around 100) must not lose the patch variance."""
    conv, unfold = twin_tokenizers()
    unfold.double()
    video, signals = inputs(25, offset=100.0)
    with torch.no_grad():
        fast = conv(video, signals)
        reference = unfold(video.double(), signals.double())
    torch.testing.assert_close(fast.double(), reference, rtol=1e-4, atol=1e-4)


@settings(max_examples=12, deadline=None, database=None)
@given(
    pt=st.integers(1, 4),
    ph=st.integers(1, 5),
    pw=st.integers(1, 5),
    stride=st.integers(1, 3),
    extra_t=st.integers(0, 3),
    height=st.integers(5, 9),
    width=st.integers(5, 9),
)
def test_conv_equals_unfold_for_any_patch_geometry(pt, ph, pw, stride, extra_t, height, width):
    conv, unfold = twin_tokenizers(patch=(pt, ph, pw), stride=stride, frame=(height, width))
    conv.double(), unfold.double()
    video, signals = inputs(pt + extra_t, frame=(height, width), dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(conv(video, signals), unfold(video, signals))


@pytest.mark.parametrize("mode", ["conv", "unfold"])
def test_behaviour_channels_follow_the_video_in_the_authors_order(mode):
    """Patch channels are [video, pupil dilation, running speed, pupil x, pupil y]."""
    torch.manual_seed(0)
    core = ViViTCore(
        emb_dim=5,
        num_heads=1,
        head_dim=4,
        mlp_dim=4,
        spatial_depth=0,
        temporal_depth=0,
        p_dropout=0.0,
        tokenizer=mode,
    ).eval()
    tokenizer = core.vivit.tokenizer
    block = 25 * 7 * 7
    with torch.no_grad():
        tokenizer.spatial_pos_embedding.zero_()
        tokenizer.temporal_pos_embedding.zero_()
        tokenizer.tokenizer[1].reset_parameters()  # plain LayerNorm over the patch
        linear = tokenizer.tokenizer[2]
        linear.bias.zero_()
        linear.weight.zero_()
        for channel in range(5):  # output d sums channel d of the normalised patch
            linear.weight[channel, channel * block : (channel + 1) * block] = 1.0
        tokenizer.tokenizer[3] = torch.nn.Identity()
    video = torch.zeros(1, 1, 25, 36, 64)
    for channel, name in enumerate(["dilation", "speed", "x", "y"], start=1):
        behavior, pupil = torch.zeros(1, 2, 25), torch.zeros(1, 2, 25)
        (behavior if channel <= 2 else pupil)[0, (channel - 1) % 2] = 1.0
        with torch.no_grad():
            features = core(video, behavior, pupil)  # (1, 5, 1, 15, 29)
        top = features[0, :, 0].mean(dim=(1, 2)).argmax().item()
        assert top == channel, name

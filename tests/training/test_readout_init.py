"""Data-driven start of the Gaussian readout: placing read positions and locating the population."""

from __future__ import annotations

import pytest
import torch
from training_helpers import build_model

from brainenc.training.readout_init import PopulationPeak, refined_peak


def test_place_puts_every_neuron_exactly_at_a_common_position():
    model = build_model("test", {"A": 7})
    readout = model.readouts["A"].eval()
    readout.place(torch.tensor([0.3, -0.45]).expand(7, 2), sigma=0.05)
    positions = readout.grid(1)[0, :, 0]
    torch.testing.assert_close(positions, torch.tensor([[0.3, -0.45]] * 7), atol=1e-5, rtol=0)
    assert readout.sigma.abs().max() <= 0.05


def test_place_follows_a_smooth_map_of_cortical_position():
    model = build_model("test", {"A": 40})
    readout = model.readouts["A"].eval()
    targets = 0.5 * readout.source_grid  # a linear retinotopic map, inside (-0.5, 0.5)
    readout.place(targets, sigma=0.0)
    error = (readout.grid(1)[0, :, 0] - targets).abs().max()
    assert error < 0.1


def test_place_rejects_wrong_shapes():
    readout = build_model("test", {"A": 3}).readouts["A"]
    with pytest.raises(ValueError, match=r"\(N, 2\) = \(3, 2\)"):
        readout.place(torch.zeros(4, 2), sigma=0.1)


def test_refined_peak_finds_the_grid_position_of_the_maximum():
    explained = torch.zeros(8, 15)
    explained[2, 11] = 1.0
    x, y = refined_peak(explained, 0.9).tolist()
    assert x == pytest.approx(-1 + 2 * 11 / 14)
    assert y == pytest.approx(-1 + 2 * 2 / 7)


def _planted_samples(model, row: int, col: int, count: int = 6, frames: int = 40):
    """Samples whose responses are a fixed mix of the core's features at patch (row, col)."""
    generator = torch.Generator().manual_seed(5)
    neurons = model.readouts["A"].num_neurons
    mixing = torch.randn(model.core.emb_dim, neurons, generator=generator)
    samples = []
    model.core.eval()
    for _ in range(count):
        video = torch.randn(1, frames, 36, 64, generator=generator)
        behavior = torch.randn(2, frames, generator=generator)
        pupil = torch.randn(2, frames, generator=generator)
        with torch.no_grad():
            features = model.core(video[None], behavior[None], pupil[None])[0]  # (C, t, Ph, Pw)
        drive = torch.einsum("ct,cn->nt", features[:, :, row, col], mixing)
        responses = torch.randn(neurons, frames, generator=generator)
        responses[:, -drive.shape[1] :] += 3 * drive / drive.std()
        samples.append(
            {"video": video, "behavior": behavior, "pupil_center": pupil, "responses": responses}
        )
    return samples


def test_population_peak_locates_planted_receptive_fields_and_zeroes_the_shift():
    model = build_model("test", {"A": 12})
    ph, pw = model.core.grid_shape
    row, col = 5, 3
    samples = _planted_samples(model, row, col)
    init = PopulationPeak(sigma=0.02, max_samples=None, batch_size=4)
    maps = init.apply(model, {"A": samples}, ["A"], skip=24)
    found = maps["A"]
    assert found.explained.shape == (ph, pw)
    assert divmod(int(found.explained.argmax()), pw) == (row, col)
    expected = torch.tensor([-1 + 2 * col / (pw - 1), -1 + 2 * row / (ph - 1)])
    assert (found.peak - expected).abs().max() < 0.5 * 2 / (pw - 1)
    readout = model.readouts["A"].eval()
    torch.testing.assert_close(readout.grid(1)[0, 0, 0], found.peak, atol=1e-5, rtol=0)
    shift = model.shifters["A"](torch.randn(2, 2, 9))
    assert torch.count_nonzero(shift) == 0
    assert found.frames == 6 * (40 - 24)


def test_population_peak_rejects_bad_settings():
    with pytest.raises(ValueError, match="peak_fraction"):
        PopulationPeak(peak_fraction=0.0)
    with pytest.raises(ValueError, match="max_samples"):
        PopulationPeak(max_samples=0)

"""Simulated mice whose sessions are written as real Allen Brain Observatory NWB 1.x files.

`session_config` builds the settings of one mouse at a size preset (``full``, ``demo``,
``test``) and an activity profile (``realistic``, ``clean``), `write_session` writes one
``three_session_A`` NWB file plus its ``.truth.npz``, and `write_cache` lays out an offline
``BrainObservatoryCache`` directory of several mice. `OfflineBrainObservatoryApi` and
`open_offline_cache` (which import allensdk lazily) read that directory back without any
network. Command line: ``python -m brainenc.insilico --out DIR [--profile clean]``.

Generative model of neuron ``i`` at 2p frame ``t`` (details and parameter ranges in the module
docstrings of `retina`, `population`, `activity`, `behavior` and `fluorescence`; the activity
profiles ``realistic`` (default) and ``clean`` in `presets`)::

    retinal image   R_t(u) = S_t(u + e(t))           screen contrast S_t, eye position e(t) (deg)
    linear drive    s_i(t) = <F_i, R_t>              Gabor (even + odd) or DoG filter F_i, placed
                                                     by one retinotopic map shared by all mice,
                                                     centred on the monitor (+- 3 deg per mouse)
    temporal filter u_i(t) = sum_k kern_i(k) s_i(t - k)         biphasic, ~0.4 s
    energy          d_i = (1 - c_i) sqrt(2) [u_even]_+ + c_i sqrt(u_even^2 + u_odd^2)
    rate            r_i = (G_i(t) r_max w_i S(softplus(3 (d_i / sd_i - theta_i)) / 3) + r_spont_i)
                          g_i(t) + alpha_i r_max h(v) + r_base,
                          G_i = exp(beta_run h(v) + beta_pup p(t)),  w_i in {0, 1} (responsive),
                          g_i = exp(sigma eta_i(t) - sigma^2 / 2)   shared + private excitability
    calcium         ca_i = (K_i * r_i)(t),  K(s) = (1 - exp(-s / 50 ms)) exp(-s / tau_i)
    truth           F_i(t) = F0_i (1 - kappa_i t / T) (1 + A_i ca_i / (1 + ca_i / 30)),
                          ca_i of the rate expected given stimulus and behaviour (E[g_i | p])
    recorded        demixed = F_rec + eps + r_i Np_i,   corrected = demixed - r_i Np_i = F_rec + eps

with ``h(v) = tanh(v / 10 cm/s)`` of the running speed, ``p`` the z-scored log pupil area,
``F_rec`` = ``F`` computed from Poisson spike counts of the actual rates instead of the expected
ones, times ``1 + d_i(t)`` (slow baseline drift), and white noise ``eps`` of sd
``noise_std * m_i * F0_i``. With ``stimulus_code=True`` every corrected trace is instead
``1_000_000 * movie_code + 10_000 * repeat + frame`` of the movie frame on screen (movie_code 1 =
natural_movie_one, 3 = natural_movie_three) and -1 elsewhere (`stimulus_code`).
"""

from __future__ import annotations

from typing import Any

from brainenc.insilico.cache import write_cache
from brainenc.insilico.fluorescence import stimulus_code
from brainenc.insilico.presets import (
    MOUSE_PRESETS,
    PROFILE_PRESETS,
    SCALE_PRESETS,
    session_config,
)
from brainenc.insilico.session import make_templates, simulate_session, truth_path, write_session
from brainenc.insilico.session_config import SessionConfig, SessionConfigError

_ALLENSDK_NAMES = {"OfflineBrainObservatoryApi", "OfflineQueryError", "open_offline_cache"}

__all__ = [
    "MOUSE_PRESETS",
    "PROFILE_PRESETS",
    "SCALE_PRESETS",
    "SessionConfigError",
    "OfflineBrainObservatoryApi",
    "OfflineQueryError",
    "SessionConfig",
    "make_templates",
    "open_offline_cache",
    "session_config",
    "simulate_session",
    "stimulus_code",
    "truth_path",
    "write_cache",
    "write_session",
]


def __getattr__(name: str) -> Any:
    if name in _ALLENSDK_NAMES:
        from brainenc.insilico import offline_api

        return getattr(offline_api, name)
    raise AttributeError(f"module 'brainenc.insilico' has no attribute {name!r}")

"""Lesson 02: one loss trains a GAN, by stopping gradients.

Post: https://kexue.fm/archives/6387. The hinge GAN in the post's sign convention: D minimises
E[relu(1 + D(x))] + E[relu(1 - D(G(z)))], G minimises E[D(G(z))]. With
``G_ng(z) = stop_gradient(G(z))`` the single loss

    L = E[relu(1 + D(x))] + E[relu(1 - D(G_ng(z)))] + lam * E[D(G(z)) - D(G_ng(z))]

has the value of the D loss, gives D exactly the D-loss gradient and G exactly ``lam`` times the
gradient of E[D(G(z))]. One optimizer over all weights then trains both networks in one step.

Modules, lowest first (each imports only those above it):

- ``losses``: ``one_step_loss``, the hinge losses and the zero term; ``models``: the MLPs;
  ``coverage``: mode coverage on the ring;
- ``trainers``: ``OneStepGAN``, ``AlternatingGAN``, ``make_trainer``;
- ``gradients``: the zero term's gradients and the gradient split, checked (Sections 2-3);
  ``analysis``: what ``lam`` does under SGD, Adam and RMSprop (Section 4);
  ``dirac``: the Dirac GAN (Section 5); ``experiments``: the ring and the digits (6-7);
- ``seeds``: the stored multi-seed study (``python -m lessons.gan seeds``); ``timing``: ms per
  step, peak memory and the stored ``benchmarks/gan.py`` results (Section 9); ``results``:
  where they are stored;
- ``claims``: ``check_claims``, what the notebook says about each result, with measured bands;
- ``views``: ``format_*`` text, ``plot_*`` figures and ``ring_explorer``.

Every experiment takes ``seed=None`` and then uses the course seed (``lessons.setup(seed)``).
"""

from lessons.gan import (
    analysis,
    claims,
    coverage,
    dirac,
    experiments,
    gradients,
    losses,
    models,
    results,
    seeds,
    timing,
    trainers,
    views,
)
from lessons.gan.analysis import *  # noqa: F403
from lessons.gan.claims import *  # noqa: F403
from lessons.gan.coverage import *  # noqa: F403
from lessons.gan.dirac import *  # noqa: F403
from lessons.gan.experiments import *  # noqa: F403
from lessons.gan.gradients import *  # noqa: F403
from lessons.gan.losses import *  # noqa: F403
from lessons.gan.models import *  # noqa: F403
from lessons.gan.results import *  # noqa: F403
from lessons.gan.seeds import *  # noqa: F403
from lessons.gan.timing import *  # noqa: F403
from lessons.gan.trainers import *  # noqa: F403
from lessons.gan.views import *  # noqa: F403

# the lesson exports exactly the names each submodule lists in its __all__
__all__ = [
    *claims.__all__, *coverage.__all__, *dirac.__all__, *experiments.__all__, *analysis.__all__,
    *gradients.__all__, *losses.__all__, *models.__all__, *results.__all__, *seeds.__all__,
    *timing.__all__, *trainers.__all__, *views.__all__,
]

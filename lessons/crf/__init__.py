"""Lesson 03: a linear-chain CRF on People's Daily word segmentation, and its learning rate.

Post: https://kexue.fm/archives/7196. A tagger scores each character (emissions); the CRF adds
a learnt tag-to-tag transition score and decodes with Viterbi. When the encoder fits the
emissions fast, transitions trained at the body's learning rate barely move; the bert4keras fix
is a larger learning rate for the CRF alone (``lr_multiplier``).

Modules, lowest first (each imports only those above it):

- ``layer``: the ``CRF`` Keras layer (forward algorithm, Viterbi) and ``bmes_constraints``;
- ``scoring``: ``word_spans``, ``word_scores`` (word F1), ``transition_order``;
- ``tagger``: ``Tagger``, ``RunConfig``, ``prepare_data``, ``train_run`` (one seeded run);
- ``experiments``: what the notebook runs live: ``tiny_crf`` (for the from-scratch cells),
  ``path_probabilities``, ``multiplier_steps``, ``train_now``; ``sweep``: the stored sweep (``python -m lessons.crf sweep``) and its tables;
- ``claims``: ``check_claims``, what the notebook says about the live results, with bands;
- ``views``: ``format_*`` text, ``plot_*`` figures, ``sweep_explorer`` and ``train_panel``.
"""

from lessons.crf import claims, experiments, layer, scoring, sweep, tagger, views
from lessons.crf.claims import *  # noqa: F403
from lessons.crf.experiments import *  # noqa: F403
from lessons.crf.layer import *  # noqa: F403
from lessons.crf.scoring import *  # noqa: F403
from lessons.crf.sweep import *  # noqa: F403
from lessons.crf.tagger import *  # noqa: F403
from lessons.crf.views import *  # noqa: F403

# the lesson exports exactly the names each submodule lists in its __all__
__all__ = [
    *claims.__all__, *experiments.__all__, *layer.__all__, *scoring.__all__, *sweep.__all__,
    *tagger.__all__, *views.__all__,
]

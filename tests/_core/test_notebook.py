import re
from importlib.metadata import version

import numpy as np
import pytest

import lessons
from lessons._core.notebook import COURSE, course_seed, device_summary, setup

START_UP_LINES = re.compile(r"absl::InitializeLog|port\.cc:\d+\]|cudart_stub|cpu_feature_guard")


def tf_version():
    return version("tensorflow")


def _draws():
    import random

    import keras

    return random.random(), np.random.rand(), float(keras.random.uniform(()))


def test_setup_makes_every_rng_repeat():
    setup(3)
    first = _draws()
    setup(3)
    assert _draws() == first
    setup(4)
    assert _draws() != first


def test_setup_rejects_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        setup(-1)


def test_setup_sets_the_course_seed_that_experiments_default_to():
    setup(7)
    assert course_seed() == 7 and course_seed(3) == 3
    setup(0)
    assert course_seed() == 0
    for bad in (-1, 2**31, 1.5, True, "1"):
        with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*31\)"):
            course_seed(bad)


def test_op_determinism_turns_jit_compile_off_with_only_a_warning():
    """What the lessons say about op determinism, checked in a fresh process."""
    import subprocess
    import sys

    code = (
        "import warnings, numpy as np, keras, tensorflow as tf\n"
        "keras.utils.set_random_seed(0); tf.config.experimental.enable_op_determinism()\n"
        "m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    m.compile(optimizer='sgd', loss='mse', jit_compile=True)\n"
        "    m.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0)\n"
        "print(m.jit_compile, any(\"doesn't support `jit_compile=True`\" in str(x.message) for x in w))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_setup_hides_the_tensorflow_start_up_lines():
    """Plain `import tensorflow` prints C++ start-up lines despite TF_CPP_MIN_LOG_LEVEL=3.

    Which lines depends on the machine: "oneDNN custom operations" only where TensorFlow turns
    oneDNN on by default (AVX-512 VNNI/BF16 or AMX; not on AVX2, nor with
    TF_ENABLE_ONEDNN_OPTS=0), "Could not find cuda drivers" only without a GPU; absl's
    "before absl::InitializeLog()" warning heads them all."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    plain = subprocess.run([sys.executable, "-c", "import tensorflow"], env=env,
                           capture_output=True, text=True, check=True)
    quiet = subprocess.run(
        [sys.executable, "-c", "import lessons; tf = lessons.setup(0); import keras, sys; "
         "print(tf.__version__, file=sys.stderr)"],
        env=env, capture_output=True, text=True, check=True)
    assert START_UP_LINES.search(plain.stderr), plain.stderr
    assert quiet.stderr.strip() == tf_version(), quiet.stderr


def test_setup_leaves_xla_usable():
    """setup() must not enable op determinism: it silently turns jit_compile off in Keras."""
    import keras

    setup(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0)
    assert model.jit_compile is True


def test_device_summary_reports_versions_and_a_device():
    info = device_summary()
    assert info["lessons"] == lessons.__version__
    assert info["tensorflow"].startswith("2.21")
    assert info["device"] in ("CPU", "GPU")
    assert info["cpus"] >= 1
    assert (info["device"] == "GPU") == bool(info["gpus"])


def test_course_map_points_at_real_modules_and_posts():
    import importlib.util

    assert [lesson.number for lesson in COURSE] == ["01", "02", "03", "04", "05"]
    for lesson in COURSE:
        assert lesson.post.startswith("https://kexue.fm/archives/")
        assert lesson.notebook.startswith(lesson.number + "_")
        assert importlib.util.find_spec(lesson.module) is not None, lesson.module


def test_figure_png_renders_and_closes_the_figure():
    import matplotlib.pyplot as plt

    from lessons._core.figures import figure_png

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = figure_png(fig)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert not plt.fignum_exists(fig.number)


def test_keras_progress_counts_epochs_and_closes():
    import keras

    from lessons._core.notebook import keras_progress

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    callback = keras_progress(epochs=3, desc="test")
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=3, verbose=0, callbacks=[callback])
    assert callback.bar.n == 3 and callback.bar.total == 3


def test_show_source_gives_the_dedented_source_and_stable_html():
    from lessons._core.claims import Claim
    from lessons._core.notebook import show_source

    shown = show_source(Claim.holds)
    assert repr(shown).startswith("def holds(self) -> bool:\n")
    assert "self.at_least" in repr(shown)
    html = shown._repr_html_()
    assert html == show_source(Claim.holds)._repr_html_()
    assert 'style="color:' in html and "class=" not in html.replace('class="highlight"', "")
    assert "holds" in html and "at_least" in html


@pytest.mark.parametrize("bad", [len, 3, "text"])
def test_show_source_rejects_objects_without_python_source(bad):
    from lessons._core.notebook import show_source

    with pytest.raises(ValueError, match="obj must be a function, method or class"):
        show_source(bad)


def test_setup_returns_tensorflow_for_the_one_setup_cell():
    import tensorflow as tf

    assert setup(0) is tf


def test_progress_bars_are_off_when_outputs_are_stored(monkeypatch):
    """tqdm's notebook bar ignores TQDM_DISABLE, so `progress` reads it itself."""
    from lessons._core.notebook import progress

    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert progress(total=3).disable
    monkeypatch.setenv("TQDM_DISABLE", "")
    bar = progress(total=3)
    assert not bar.disable
    bar.close()


def test_notebook_bar_off_under_tqdm_disable(monkeypatch):
    """The widget bar Jupyter shows (tqdm.notebook) honours it too, through `progress`."""
    import tqdm.auto
    import tqdm.notebook

    from lessons._core.notebook import progress

    monkeypatch.setattr(tqdm.auto, "tqdm", tqdm.notebook.tqdm)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert progress(total=3).disable

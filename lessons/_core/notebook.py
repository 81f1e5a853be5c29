"""What every notebook and test shares: one setup call, a progress bar, the course map.

``setup(seed)`` seeds Python, NumPy and TensorFlow through ``keras.utils.set_random_seed``, makes
``seed`` the course seed that every experiment uses unless a call passes its own (``course_seed``),
keeps TensorFlow's logs quiet and sets matplotlib defaults, so a re-run gives identical outputs.
It deliberately does *not* call ``tf.config.experimental.enable_op_determinism()``: with it,
Keras turns ``jit_compile=True`` off (it only warns "Model doesn't support jit_compile=True",
without naming the cause) and "with XLA" results would run without XLA.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@dataclass(frozen=True)
class Lesson:
    number: str
    title: str
    module: str
    notebook: str
    post: str
    teaches: str


COURSE = (
    Lesson("01", "AdaX vs Adam", "lessons.adax", "01_adax.ipynb",
           "https://kexue.fm/archives/7387",
           "both second moments are moving averages with a step-dependent beta2-hat"),
    Lesson("02", "One loss trains a GAN", "lessons.gan", "02_one_loss_gan.ipynb",
           "https://kexue.fm/archives/6387",
           "stop_gradient gives a loss that is 0 but whose gradient isn't"),
    Lesson("03", "A CRF's learning rate", "lessons.crf", "03_crf_learning_rate.ipynb",
           "https://kexue.fm/archives/7196",
           "a CRF on real Chinese word segmentation; why its learning rate must be larger"),
    Lesson("04", "Tiger's fixed point", "lessons.tiger", "04_tiger_fixed_point.ipynb",
           "https://kexue.fm/archives/9736",
           "Tiger/Lion push rare embeddings towards +-1/lambda: the fixed point, the released "
           "Tiger, and three remedies measured (lazy updates and an Adam embedding keep the rows "
           "in place, tying does not)"),
    Lesson("05", "Mixed precision and XLA", "lessons.fp16_xla", "05_fp16_xla.ipynb",
           "https://kexue.fm/archives/9059",
           "ranges, loss scaling, and speed-ups stored from a 2-core CPU (yours times FP32 and "
           "XLA live)"),
)


_course_seed = 0


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be an int in [0, 2**31), got {seed!r}")
    return seed


def course_seed(seed: int | None = None) -> int:
    """The seed an experiment should use: ``seed`` if given, else the one ``setup()`` set (0)."""
    return _course_seed if seed is None else _check_seed(seed)


def import_tensorflow():
    """Import TensorFlow with its C++ start-up lines kept out of the notebook; return the module.

    TensorFlow 2.21 writes "oneDNN custom operations are on ..." to file descriptor 2 before its
    logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL=3`` cannot stop it and Jupyter shows it as a
    red box. The import runs with descriptor 2 pointed at the null device, then restored.
    """
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf
        tf.config.list_physical_devices()  # device discovery logs on first use, not at import
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tf


def setup(seed: int = 0, *, figure_dpi: int = 110):
    """Make a notebook or test reproducible and quiet; return the ``tensorflow`` module.

    A notebook's one setup cell is ``tf = lessons.setup(0)``.

    Args:
        seed: seed for Python's ``random``, NumPy and TensorFlow, and the course seed that
            experiments use when called without ``seed=`` (default 0).
        figure_dpi: matplotlib's figure dpi (default 110: readable when projected, stored
            notebooks stay small).
    """
    global _course_seed
    _course_seed = _check_seed(seed)
    import_tensorflow()
    import keras
    import matplotlib
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    check_notebook_version()
    keras.utils.set_random_seed(seed)
    matplotlib.rcParams.update({
        "figure.dpi": figure_dpi,
        "figure.figsize": (7.0, 3.6),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 10,
        "svg.hashsalt": "lessons",
    })
    return tf


def running_notebook() -> Path | None:
    """The notebook file this kernel runs, when the front end says which (else None).

    JupyterLab and Notebook 7 open a kernel through a session, and Jupyter Server puts the
    notebook's path in the kernel's ``JPY_SESSION_NAME`` (ipykernel copies it to ``__session__``);
    VS Code sets ``__vsc_ipynb_file__``. nbclient, nbval and plain IPython set none of them.
    """
    names = [os.environ.get("JPY_SESSION_NAME")]
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        names = [shell.user_ns.get("__vsc_ipynb_file__"), shell.user_ns.get("__session__")] + names
    for name in names:
        if not isinstance(name, str) or not name.endswith(".ipynb"):
            continue
        # an absolute path, or a path relative to the server's root: the kernel starts in the
        # notebook's own folder, so its file name finds it
        for candidate in (Path(name), Path.cwd() / Path(name).name):
            if candidate.is_absolute() and candidate.is_file():
                return candidate
    return None


def notebook_version(path) -> str | None:
    """The course version stamped into a notebook (``metadata.lessons.version``), or None."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    version = meta.get("lessons", {}).get("version") if isinstance(meta.get("lessons"), dict) else None
    return version if isinstance(version, str) else None


def check_notebook_version(path=None) -> str | None:
    """Warn when the notebook was stamped for another version of the library than the one running.

    A notebook pulled by nbgitpuller can be newer than the library in the hub's image. ``path``
    defaults to the running notebook (``running_notebook()``); returns the stamp found, or None.
    """
    from lessons import __version__

    path = path or running_notebook()
    stamp = notebook_version(path) if path else None
    if stamp and stamp != __version__ and "+unknown" not in __version__:
        warnings.warn(
            f"{Path(path).name} was written for lessons {stamp}, but this kernel runs lessons "
            f"{__version__}: some cells may fail. Install the matching library "
            f"(`%pip install --upgrade lessons`, or ask your teacher to update the hub's image), "
            f"or use the notebooks that came with lessons {__version__}.",
            UserWarning, stacklevel=3)
    return stamp


def device_summary() -> dict[str, object]:
    """The devices TensorFlow sees and the versions in use, as a plain dict."""
    import keras
    import tensorflow as tf

    from lessons import __version__

    gpus = tf.config.list_physical_devices("GPU")
    return {
        "lessons": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "cpus": len(tf.config.list_physical_devices("CPU")),
        "gpus": [g.name for g in gpus],
        "device": "GPU" if gpus else "CPU",
    }


def progress(iterable=None, *, total: int | None = None, desc: str = "", leave: bool = True):
    """A ``tqdm.auto`` bar with the course's defaults (a widget in Jupyter, text elsewhere).

    ``TQDM_DISABLE=1`` (set when outputs are stored or compared) turns it off: tqdm's notebook bar
    does not read that variable itself (tqdm 4.70), and its first frame would be stored.
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=leave, mininterval=0.5,
                disable=progress_disabled())


def progress_disabled() -> bool:
    """True when ``TQDM_DISABLE`` asks for no progress bars (1/true/yes)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes")


def keras_progress(epochs: int, desc: str = "training"):
    """A Keras callback that drives a tqdm bar over epochs (use with ``fit(..., verbose=0)``).

    Keras's own log prints per-step timings that change every run and break strict nbval.
    """
    import keras

    class _EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = progress(total=epochs, desc=desc)

        def on_epoch_end(self, epoch, logs=None):
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return _EpochBar()


class Source:
    """A function's or class's source, shown with syntax highlighting in Jupyter (plain elsewhere).

    The HTML uses inline styles only (no CSS classes, no ids), so it is identical on every run and
    nbval compares it strictly.
    """

    def __init__(self, name: str, text: str):
        self.name, self.text = name, text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer

        return highlight(self.text, PythonLexer(), HtmlFormatter(noclasses=True, style="default"))


def show_source(obj) -> Source:
    """The source of a function, method or class, dedented, for a notebook to display.

    Args:
        obj: a function, method or class defined in a Python file (not a builtin).
    """
    import inspect
    import textwrap

    target = inspect.unwrap(getattr(obj, "__func__", obj))
    try:
        text = inspect.getsource(target)
    except (OSError, TypeError) as error:
        raise ValueError(f"obj must be a function, method or class with Python source, "
                         f"got {obj!r} ({error})") from None
    return Source(getattr(target, "__qualname__", repr(obj)), textwrap.dedent(text).rstrip() + "\n")

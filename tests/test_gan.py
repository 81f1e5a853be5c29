import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from lessons import gan
from lessons.data import ring_centers

# ----------------------------------------------------------------------------- helpers


def _models(seed, latent=3, dim=2, g_hidden=(5, 4), d_hidden=(6,)):
    keras.utils.set_random_seed(seed)
    return gan.make_generator(latent, dim, g_hidden), gan.make_discriminator(dim, d_hidden)


def _batch(seed, n=7, latent=3, dim=2):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    z = rng.standard_normal((n, latent)).astype(np.float32)
    return tf.constant(x), tf.constant(z)


def _weights(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def _max_diff(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))


def _hinge_np(d_real, d_fake):
    return np.mean(np.maximum(0, 1 + d_real)) + np.mean(np.maximum(0, 1 - d_fake))


# ----------------------------------------------------------------------------- the loss


def test_one_step_loss_value_is_the_d_loss():
    rng = np.random.default_rng(1)
    d_real, d_fake = rng.standard_normal((9, 1)), rng.standard_normal((5, 1))
    for lam in (0.0, 0.3, 4.0):
        value = float(gan.one_step_loss(d_real, d_fake, d_fake, lam))
        assert value == pytest.approx(_hinge_np(d_real, d_fake), abs=1e-6)
    # with different fake scores the lam term shows up, exactly as the formula says
    other = rng.standard_normal((5, 1))
    value = float(gan.one_step_loss(d_real, d_fake, other, 2.5))
    expect = _hinge_np(d_real, other) + 2.5 * np.mean(d_fake - other)
    assert value == pytest.approx(expect, abs=1e-6)


@pytest.mark.parametrize("seed,lam", [(0, 1.0), (1, 0.5), (2, 3.0), (3, 0.0)])
def test_gradient_split_matches_separate_gradients(seed, lam):
    gen, disc = _models(seed, g_hidden=(4 + seed, 3), d_hidden=(5, 2 + seed))
    x, z = _batch(seed)
    split = gan.gradient_split(gen, disc, x, z, lam)
    assert split["max_abs_diff"] < 1e-6
    scale = max(np.abs(g).max() for g in split["separate"])
    assert split["max_rel_diff"] == pytest.approx(split["max_abs_diff"] / scale)
    assert max(split["max_rel_diff_d"], split["max_rel_diff_g"]) < 1e-5
    assert split["loss"] == pytest.approx(split["d_loss"], abs=1e-6)
    n_d = len(disc.trainable_variables)
    # D really gets the D-loss gradient, G really gets lam * grad of mean(D(G(z)))
    with tf.GradientTape() as tape:
        fake = gen(z)
        g_obj = tf.reduce_mean(disc(fake))
    g_ref = [lam * g.numpy() for g in tape.gradient(g_obj, gen.trainable_variables)]
    assert _max_diff(split["one_step"][n_d:], g_ref) < 1e-6
    assert max(np.abs(g).max() for g in split["one_step"][:n_d]) > 1e-3
    if lam > 0:
        assert max(np.abs(g).max() for g in split["one_step"][n_d:]) > 1e-4


def test_zero_loss_has_gradient_only_for_g():
    gen, disc = _models(4)
    x, z = _batch(4)
    out = gan.grad_norms(gen, disc, x, z)
    assert out["value"] == 0.0
    assert out["grad_norm_d"] < 1e-7
    assert out["grad_norm_g"] > 1e-3


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "1", True])
def test_one_step_loss_rejects_bad_lam(bad):
    with pytest.raises(ValueError, match="lam"):
        gan.one_step_loss(np.zeros((2, 1)), np.zeros((2, 1)), np.zeros((2, 1)), bad)


def test_one_step_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="d_fake and d_fake_ng"):
        gan.one_step_loss(np.zeros((2, 1)), np.zeros((3, 1)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="d_real and d_fake"):
        gan.one_step_loss(np.zeros((2, 2)), np.zeros((3, 1)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="d_real and d_fake"):
        gan.one_step_loss(np.zeros((2,)), np.zeros((3, 1)), np.zeros((3, 1)))
    # different batch sizes for real and fake are fine
    gan.one_step_loss(np.zeros((2, 1)), np.zeros((3, 1)), np.zeros((3, 1)))


# ----------------------------------------------------------------------------- trainers


@pytest.mark.parametrize("jit", [False, True])
def test_one_sgd_step_is_the_simultaneous_update(jit):
    lr, lam = 0.1, 0.5
    gen, disc = _models(5)
    x, z = _batch(5)
    d0, g0 = _weights(disc), _weights(gen)
    with tf.GradientTape(persistent=True) as tape:
        fake = gen(z)
        d_loss = gan.d_hinge_loss(disc(x), disc(tf.stop_gradient(fake)))
        g_loss = tf.reduce_mean(disc(fake))
    gd = tape.gradient(d_loss, disc.trainable_variables)
    gg = tape.gradient(g_loss, gen.trainable_variables)
    trainer = gan.OneStepGAN(gen, disc, keras.optimizers.SGD(lr), lam, jit_compile=jit)
    out = trainer.train_step(x, z)
    assert float(out["d_loss"]) == pytest.approx(float(d_loss), abs=1e-6)
    assert _max_diff(_weights(disc), [w - lr * g.numpy() for w, g in zip(d0, gd, strict=True)]) < 1e-6
    assert _max_diff(_weights(gen), [w - lr * lam * g.numpy() for w, g in zip(g0, gg, strict=True)]) < 1e-6


def test_alternating_baseline_really_alternates():
    lr_d, lr_g = 0.1, 0.2
    gen, disc = _models(6)
    x, z = _batch(6)
    alt = gan.AlternatingGAN(gen, disc, keras.optimizers.SGD(lr_d), keras.optimizers.SGD(lr_g))
    d0, g0 = _weights(disc), _weights(gen)
    alt.d_step(x, z)
    d1 = _weights(disc)
    assert _max_diff(_weights(gen), g0) == 0.0  # the D step leaves G alone
    assert _max_diff(d1, d0) > 1e-4
    alt.g_step(z)
    assert _max_diff(_weights(disc), d1) == 0.0  # the G step leaves D alone
    assert _max_diff(_weights(gen), g0) > 1e-5


def test_alternating_train_step_uses_the_updated_discriminator():
    lr_d, lr_g = 0.1, 0.2
    gen, disc = _models(7)
    x, z = _batch(7)
    d0, g0 = _weights(disc), _weights(gen)
    # by hand: D step at (D0, G0), then G step with gradients taken at (D1, G0)
    with tf.GradientTape() as tape:
        d_loss = gan.d_hinge_loss(disc(x), disc(gen(z)))
    d1 = [w - lr_d * g.numpy()
          for w, g in zip(d0, tape.gradient(d_loss, disc.trainable_variables), strict=True)]
    with tf.GradientTape() as tape:
        g_at_d0 = tape.gradient(tf.reduce_mean(disc(gen(z))), gen.trainable_variables)
    for v, w in zip(disc.trainable_variables, d1, strict=True):
        v.assign(w)
    with tf.GradientTape() as tape:
        g_at_d1 = tape.gradient(tf.reduce_mean(disc(gen(z))), gen.trainable_variables)
    g1 = [w - lr_g * g.numpy() for w, g in zip(g0, g_at_d1, strict=True)]
    simultaneous = [w - lr_g * g.numpy() for w, g in zip(g0, g_at_d0, strict=True)]
    for v, w in zip(disc.trainable_variables, d0, strict=True):
        v.assign(w)
    alt = gan.AlternatingGAN(gen, disc, keras.optimizers.SGD(lr_d), keras.optimizers.SGD(lr_g))
    alt.train_step(x, z)
    assert _max_diff(_weights(disc), d1) < 1e-6
    assert _max_diff(_weights(gen), g1) < 1e-6
    assert _max_diff(_weights(gen), simultaneous) > 1e-5  # so the test can tell the two apart


def test_both_trainers_compile_with_xla():
    gen, disc = _models(8)
    x, z = _batch(8)
    one = gan.OneStepGAN(gen, disc)
    alt = gan.AlternatingGAN(gen, disc)
    for step in (one.train_step, alt.train_step, alt.d_step, alt.g_step):
        assert step._jit_compile is True  # Keras and TF drop jit silently in some setups
    for step in (one.train_step, alt.train_step):
        assert "HloModule" in gan.xla_hlo(step, x, z)
    for step in (one.train_step, alt.train_step):
        out = step(x, z)
        assert np.isfinite(float(out["d_loss"])) and np.isfinite(float(out["g_loss"]))
    assert gan.OneStepGAN(gen, disc, jit_compile=False).train_step._jit_compile is False
    assert one.get_config()["lam"] == 1.0 and alt.get_config()["jit_compile"] is True


def test_trainer_value_errors():
    gen, disc = _models(9)
    with pytest.raises(ValueError, match="lam"):
        gan.OneStepGAN(gen, disc, lam=-1.0)
    opt = keras.optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="d_optimizer and g_optimizer"):
        gan.AlternatingGAN(gen, disc, opt, opt)
    with pytest.raises(ValueError, match="method"):
        gan.make_trainer("sequential", gen, disc)
    with pytest.raises(ValueError, match="lr"):
        gan.make_trainer("one_step", gen, disc, lr=0.0)
    with pytest.raises(ValueError, match="lam"):
        gan.make_trainer("alternating", gen, disc, lam=0.0)
    with pytest.raises(ValueError, match="hidden"):
        gan.make_generator(2, 2, hidden=())
    with pytest.raises(ValueError, match="hidden"):
        gan.make_discriminator(2, hidden=(4, 0))
    with pytest.raises(ValueError, match="latent_dim"):
        gan.make_generator(0, 2)
    with pytest.raises(ValueError, match="input_dim"):
        gan.make_discriminator(0)


# ----------------------------------------------------------------------------- metric


def _brute_coverage(samples, centers, std, n_sigma, min_share):
    counts = [0] * len(centers)
    good = 0
    for p in samples:
        dists = [math.dist(p, c) for c in centers]
        k = min(range(len(centers)), key=dists.__getitem__)
        if dists[k] <= n_sigma * std:
            counts[k] += 1
            good += 1
    return sum(c >= min_share * len(samples) for c in counts), good / len(samples), counts


def test_mode_coverage_on_hand_made_samples():
    centers = ring_centers(8, 2.0)
    std = 0.05
    # 3 modes with 30 good points each, mode 3 with exactly 1 good point in 100 (= 1%: covered),
    # points at 2.9 and 3.1 sigma, and far-away junk at the origin
    samples = [centers[k] + [0.004 * j, 0] for k in range(3) for j in range(30)]
    samples += [centers[3] + [2.9 * std, 0], centers[4] + [0, 3.1 * std]]
    samples += [[0.0, 0.0]] * 8
    samples = np.array(samples)
    assert len(samples) == 100
    cov = gan.mode_coverage(samples, centers, std)
    assert cov.modes == 4
    assert cov.high_quality == pytest.approx(0.91)
    assert cov.counts.tolist() == [30, 30, 30, 1, 0, 0, 0, 0]
    # nothing covered when the one good point falls under a 2% threshold
    assert gan.mode_coverage(samples, centers, std, min_share=0.02).modes == 3
    # the same on random points against a brute-force loop
    rng = np.random.default_rng(0)
    pts = centers[rng.integers(0, 8, 400)] + 0.1 * rng.standard_normal((400, 2))
    cov = gan.mode_coverage(pts, centers, std, 2.0, 0.05)
    modes, hq, counts = _brute_coverage(pts, centers, std, 2.0, 0.05)
    assert (cov.modes, cov.counts.tolist()) == (modes, counts)
    assert cov.high_quality == pytest.approx(hq)


def test_mode_coverage_of_real_ring_data_is_full():
    from lessons.data import sample_ring

    cov = gan.mode_coverage(sample_ring(4000, std=gan.RING_STD, seed=3))
    assert cov.modes == 8
    assert cov.high_quality == pytest.approx(0.989, abs=0.01)  # 3-sigma disc in 2-D: 1 - e^-4.5


@pytest.mark.parametrize("kwargs,match", [
    ({"samples": np.zeros((0, 2))}, "samples"),
    ({"samples": np.zeros(4)}, "samples"),
    ({"centers": np.zeros((8, 3))}, "centers"),
    ({"std": 0.0}, "std"),
    ({"n_sigma": -1.0}, "n_sigma"),
    ({"min_share": 0.0}, "min_share"),
    ({"min_share": 1.5}, "min_share"),
])
def test_mode_coverage_value_errors(kwargs, match):
    args = {"samples": np.zeros((4, 2))} | kwargs
    with pytest.raises(ValueError, match=match):
        gan.mode_coverage(**args)


# ----------------------------------------------------------------------------- experiments


def test_one_step_ring_run_covers_at_least_six_modes():
    # the notebook's seed and budget
    run = gan.train_ring("one_step", steps=gan.RING_STEPS, seed=0)
    assert run.steps[0] == 0 and run.steps[-1] == gan.RING_STEPS
    assert run.modes[0] <= 1
    assert run.modes[-1] >= 6
    assert run.high_quality[-1] > 0.5
    assert sorted(run.snapshots) == [0, 500, 1000, gan.RING_STEPS]
    final = gan.mode_coverage(run.snapshots[gan.RING_STEPS])
    assert final.modes == run.modes[-1]


def test_ring_runs_are_seeded_and_share_their_start():
    kw = {"steps": 20, "eval_every": 10, "snapshots": (0, 20), "n_eval": 50, "jit_compile": False}
    a, b = gan.train_ring("one_step", **kw), gan.train_ring("one_step", **kw)
    c = gan.train_ring("alternating", **kw)
    np.testing.assert_array_equal(a.snapshots[20], b.snapshots[20])
    np.testing.assert_array_equal(a.snapshots[0], c.snapshots[0])  # same initial generator
    assert not np.array_equal(a.snapshots[20], c.snapshots[20])
    assert a.steps == [0, 10, 20]


def test_train_digits_returns_images():
    ticks = []
    imgs = gan.train_digits("alternating", steps=5, n_samples=4, progress=ticks.append,
                            jit_compile=False)
    assert imgs.shape == (4, 8, 8) and imgs.dtype == np.float32
    assert imgs.min() >= 0.0 and imgs.max() <= 1.0
    assert ticks == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("fn,kwargs,match", [
    (gan.train_ring, {"method": "both"}, "method"),
    (gan.train_ring, {"steps": 0}, "steps"),
    (gan.train_ring, {"batch_size": 0}, "batch_size"),
    (gan.train_ring, {"eval_every": 0}, "eval_every"),
    (gan.train_ring, {"n_eval": 0}, "n_eval"),
    (gan.train_ring, {"lam": -1.0}, "lam"),
    (gan.train_digits, {"method": "x"}, "method"),
    (gan.train_digits, {"steps": -3}, "steps"),
    (gan.train_digits, {"n_samples": 0}, "n_samples"),
    (gan.time_steps, {"batch_size": 0}, "batch_size"),
    (gan.time_steps, {"repeats": 0}, "repeats"),
    (gan.peak_memory, {"batch_size": 0}, "batch_size"),
    (gan.peak_memory, {"hidden": (0,)}, "hidden"),
])
def test_experiment_value_errors(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)


# ----------------------------------------------------------------------------- lam vs optimizers


def _keras_adam_updates(grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    w = np.zeros_like(grads[0], np.float64)
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        w -= m * lr * math.sqrt(1 - b2**t) / (1 - b1**t) / (np.sqrt(v) + eps)
    return w


def test_lam_is_the_lr_ratio_under_sgd():
    for lam in (0.5, 2.0, 7.0):
        out = gan.lam_update_ratio(lam, "sgd", steps=3)
        assert out["g"] == pytest.approx(lam, rel=1e-6)
        assert out["d"] == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("scale", [1.0, 1e-6, 1e-8])
def test_lam_under_adam_matches_a_numpy_adam(scale):
    lam, steps = 4.0, 3
    grads = scale * np.random.default_rng(0).standard_normal((steps, 2, 16))
    ref = (np.linalg.norm(_keras_adam_updates([lam * g[1] for g in grads]))
           / np.linalg.norm(_keras_adam_updates([g[1] for g in grads])))
    out = gan.lam_update_ratio(lam, "adam", grad_scale=scale, steps=steps)
    assert out["g"] == pytest.approx(ref, rel=1e-3)
    assert out["d"] == pytest.approx(1.0, rel=1e-6)
    if scale == 1.0:
        assert out["g"] == pytest.approx(1.0, abs=1e-4)  # lam cancels
    if scale == 1e-8:
        assert out["g"] > 3.0  # below epsilon Adam behaves like SGD: lam is back


def test_lam_under_rmsprop_cancels_until_epsilon():
    assert gan.lam_update_ratio(3.0, "rmsprop")["g"] == pytest.approx(1.0, abs=1e-4)
    # RMSprop adds epsilon inside the square root: it matters already at gradients ~1e-3
    small = gan.lam_update_ratio(3.0, "rmsprop", grad_scale=1e-3)["g"]
    assert 1.05 < small < 3.0


@pytest.mark.parametrize("kwargs,match", [
    ({"lam": 0.0}, "lam"), ({"lam": -2.0}, "lam"), ({"optimizer": "lion"}, "optimizer"),
    ({"grad_scale": 0.0}, "grad_scale"), ({"steps": 0}, "steps"),
])
def test_lam_update_ratio_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gan.lam_update_ratio(**({"lam": 1.0} | kwargs))


# ----------------------------------------------------------------------------- cost


def test_time_steps_reports_consistent_numbers():
    out = gan.time_steps(batch_size=32, hidden=(8,), repeats=2, steps_per_repeat=3,
                         jit_compile=False)
    for key in ("ms_one_step", "ms_pair", "ms_pair_two_calls"):
        assert 0 < out[key] < 1e4
    assert out["ratio"] == pytest.approx(out["ms_one_step"] / out["ms_pair"])
    assert out["ratio_two_calls"] == pytest.approx(out["ms_one_step"] / out["ms_pair_two_calls"])
    assert out["samples_per_s_one_step"] == pytest.approx(32e3 / out["ms_one_step"])
    assert out["samples_per_s_pair"] == pytest.approx(32e3 / out["ms_pair"])


def test_peak_memory_one_step_holds_more_than_either_half():
    mem = gan.peak_memory(batch_size=1024, hidden=(128, 128))
    assert mem["pair"] == max(mem["d_step"], mem["g_step"])
    # activations of 1024 x 128 floats are 0.5 MiB each: every step holds several of them
    assert min(mem["one_step"], mem["d_step"], mem["g_step"]) > 2**19
    assert mem["one_step"] > mem["pair"]


# ----------------------------------------------------------------------------- widget


def test_ring_explorer_runs_with_the_chosen_settings():
    box = gan.ring_explorer(steps=250)
    ex = box.explorer
    assert ex.last_run is None and ex.bar.value == 0 and ex.summary.value == "press Run"
    # nothing has run before the button is pressed
    ex.lam.value, ex.steps.value = 2.0, 250
    ex.button.click()
    assert ex.last_run.lam == 2.0 and ex.last_run.method == "one_step"
    assert ex.last_run.steps[-1] == 250 and ex.bar.value == ex.bar.max == 250
    run = ex.last_run
    assert ex.summary.value == (f"one_step, lam=2, 250 steps: {run.modes[-1]}/8 modes covered, "
                                f"high-quality share {run.high_quality[-1]:.2f}")
    first = ex.last_run
    ex.method.value = "alternating"
    ex.button.click()
    assert ex.last_run.method == "alternating"
    assert not np.array_equal(first.snapshots[250], ex.last_run.snapshots[250])
    with pytest.raises(ValueError, match="method"):
        gan.ring_explorer(method="joint")


# ----------------------------------------------------------------------------- Dirac GAN


@pytest.mark.parametrize("method", gan.METHODS)
def test_dirac_gan_follows_the_linear_maps(method):
    lr, lam, steps = 0.2, 1.5, 40
    path = gan.dirac_gan(method, steps, lr, lam)
    assert np.all(np.abs(path[:, 0] * path[:, 1]) < 1)  # stayed where the hinge is linear
    theta, psi = 0.5, 0.0
    ref = [(theta, psi)]
    for _ in range(steps):
        # D descends relu(1 - psi*theta): psi += lr * theta; G descends psi*theta
        new_psi = psi + lr * theta
        theta = theta - lam * lr * (psi if method == "one_step" else new_psi)
        psi = new_psi
        ref.append((theta, psi))
    np.testing.assert_allclose(path, np.array(ref), atol=1e-5)
    radius = np.hypot(path[:, 0] * math.sqrt(1.0), path[:, 1])
    if method == "one_step":
        assert radius[-1] > 1.3 * radius[0]  # simultaneous updates spiral out
    else:
        assert radius.max() < 1.5 * radius[0]  # alternating ones circle


def test_dirac_gan_value_errors():
    with pytest.raises(ValueError, match="lam"):
        gan.dirac_gan(lam=0.0)
    with pytest.raises(ValueError, match="lr"):
        gan.dirac_gan(lr=-1.0)
    with pytest.raises(ValueError, match="steps"):
        gan.dirac_gan(steps=0)


def test_plot_helpers_draw_one_panel_per_snapshot_and_method():
    import matplotlib.pyplot as plt

    runs = {m: gan.train_ring(m, steps=4, eval_every=2, snapshots=(0, 4), n_eval=20,
                              jit_compile=False) for m in gan.METHODS}
    fig = gan.plot_ring_runs(runs)
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "one_step @ 0: 0/8"
    assert len(gan.plot_coverage(runs).axes) == 2
    imgs = {"a": np.zeros((3, 8, 8)), "b": np.ones((3, 8, 8))}
    assert len(gan.plot_digits(imgs).axes) == 6
    plt.close("all")


def test_one_step_update_never_sees_moved_weights():
    # regression: without a barrier TF's executor sometimes applied G's update before D's
    # gradient (which reads G's output) was computed; the Dirac GAN shows it at step 2
    for _ in range(8):
        path = gan.dirac_gan("one_step", steps=2, lr=0.2, lam=1.5)
        assert path[2, 1] == pytest.approx(0.2, abs=1e-7)  # psi_2 = psi_1 + lr * theta_1

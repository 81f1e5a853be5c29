"""The small MLPs lesson 02 trains: a generator z -> x and a critic x -> score."""

from __future__ import annotations

import keras

from lessons._core.checks import integer

__all__ = ["make_discriminator", "make_generator"]


def make_generator(latent_dim: int = 2, output_dim: int = 2, hidden=(64, 64),
                   output_activation: str | None = None, name: str = "generator") -> keras.Model:
    """An MLP generator z [batch, latent_dim] -> x [batch, output_dim], ReLU hidden layers.

    Args:
        latent_dim: size of the noise vector, >= 1 (default 2).
        output_dim: size of a sample, >= 1 (default 2).
        hidden: widths of the hidden layers, each >= 1 (default (64, 64)).
        output_activation: None for R^d data (default), "tanh" for images in [-1, 1].
        name: Keras model name (default "generator").
    """
    latent_dim = integer("latent_dim", latent_dim)
    output_dim = integer("output_dim", output_dim)
    layers = [keras.Input((latent_dim,))]
    layers += [keras.layers.Dense(h, activation="relu") for h in check_widths(hidden)]
    layers.append(keras.layers.Dense(output_dim, activation=output_activation))
    return keras.Sequential(layers, name=name)


def make_discriminator(input_dim: int = 2, hidden=(64, 64),
                       name: str = "discriminator") -> keras.Model:
    """An MLP critic x [batch, input_dim] -> score [batch, 1], leaky-ReLU hidden layers.

    Args:
        input_dim: size of a sample, >= 1 (default 2).
        hidden: widths of the hidden layers, each >= 1 (default (64, 64)).
        name: Keras model name (default "discriminator").
    """
    input_dim = integer("input_dim", input_dim)
    layers = [keras.Input((input_dim,))]
    layers += [keras.layers.Dense(h, activation="leaky_relu") for h in check_widths(hidden)]
    layers.append(keras.layers.Dense(1))
    return keras.Sequential(layers, name=name)


def check_widths(hidden, name: str = "hidden") -> tuple[int, ...]:
    """``hidden`` as a non-empty tuple of ints >= 1 (ValueError naming ``name`` otherwise)."""
    hidden = tuple(hidden)
    if not hidden:
        raise ValueError(f"{name} must be a non-empty sequence of ints >= 1, got {hidden!r}")
    return tuple(integer(name, h) for h in hidden)

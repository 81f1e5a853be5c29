"""Shared by lesson 04's tests: the small experiment configurations."""

from lessons.tiger import ExperimentConfig

# 300 steps at learning rate 0.005: rare rows get half-way to 1/lambda (139 steps) well inside
SMALL = ExperimentConfig(steps=300, batch_size=32, hidden=32, learning_rate=0.005,
                         adam_learning_rate=0.01)
TINY = ExperimentConfig(steps=6, batch_size=16, hidden=8, dim=4)

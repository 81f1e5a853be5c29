"""The exercise tests' shared harness gets pytest's assertion messages, as a test module does."""

import pytest

pytest.register_assert_rewrite("exercise_harness")

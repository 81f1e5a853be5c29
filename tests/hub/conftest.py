import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the hub/ folder at the repository's root, and scripts/


def pytest_configure(config):
    config.addinivalue_line("markers", "hub: starts a real JupyterHub (make hub-test)")

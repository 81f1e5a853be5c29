"""A JupyterHub on 127.0.0.1 for a class of test students (``make hub``, teacher/hub.md).

``control`` starts and stops the hub; ``student`` is one simulated student driving it through its
REST API and their own Jupyter server's kernel API (``make hub-test``, benchmarks/classroom.py).
"""

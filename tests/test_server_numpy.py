"""serve refuses a tritonserver whose python backend cannot run under the stubs' numpy: before 2.52 the stub's
pybind11 misreads numpy 2's BYTES arrays and dies on the first prompt (seen here: numpy 2.4.6 with 2.51)."""
from __future__ import annotations

import importlib.metadata

import pytest

from ltx_client.server import numpy_incompatibility, stub_numpy_version


@pytest.mark.parametrize("server, numpy_version", [("2.51.0", "2.0.0"), ("2.51.0", "2.5.2"), ("2.40.0", "2.1.0rc1")])
def test_servers_before_2_52_are_refused_with_numpy_2(server, numpy_version):
    problem = numpy_incompatibility(server, numpy_version)
    assert problem is not None
    assert f"tritonserver {server}" in problem and f"numpy {numpy_version}" in problem
    assert "numpy<2" in problem and ">= 2.52" in problem


@pytest.mark.parametrize("server, numpy_version", [("2.51.0", "1.26.4"), ("2.52.0", "2.0.0"), ("2.60.1", "2.5.2"), ("3.0.0", "2.0")])
def test_numpy_1_or_a_newer_server_is_accepted(server, numpy_version):
    assert numpy_incompatibility(server, numpy_version) is None


def test_the_stubs_numpy_is_read_as_they_import_it_not_from_pythonpath(tmp_path, monkeypatch):
    """The stubs run isolated (PYTHONPATH ignored): a numpy put first on PYTHONPATH is not the one they get."""
    fake = tmp_path / "numpy"
    fake.mkdir()
    (fake / "__init__.py").write_text('__version__ = "9.9.9"\n')
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert stub_numpy_version.__wrapped__() == importlib.metadata.version("numpy")  # asked anew, not the cached answer

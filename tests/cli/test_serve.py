"""``spermlab serve``: builds the app over the data folder; another address than 127.0.0.1 is warned about."""

from __future__ import annotations

import pytest

from spermlab.cli import main
from tests.conftest import require_module


@pytest.fixture
def served(monkeypatch):
    require_module("fastapi", "pip install 'spermlab[web]'")
    uvicorn = require_module("uvicorn", "pip install 'spermlab[web]'")
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    return calls


def test_serve_binds_to_loopback_by_default(served, tmp_path, capsys):
    assert main(["serve", "--data", str(tmp_path / "lab"), "--max-upload-mb", "2"]) == 0
    app, kw = served[0]
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8000
    assert app.state.settings.max_upload_bytes == 2 << 20 and (tmp_path / "lab").is_dir()
    err = capsys.readouterr().err
    assert "http://127.0.0.1:8000" in err and "anyone" not in err


def test_serve_on_another_address_warns(served, tmp_path, capsys):
    assert main(["serve", "--data", str(tmp_path), "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert served[0][1]["host"] == "0.0.0.0"
    assert "anyone who can reach this computer on port 8123" in " ".join(capsys.readouterr().err.split())


def test_serve_refuses_a_file_as_data_folder(served, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["serve", "--data", str(tmp_path / "f")]) == 2
    assert "is a file" in capsys.readouterr().err and not served

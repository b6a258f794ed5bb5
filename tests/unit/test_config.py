"""Settings: defaults < TOML file < FRACTAL_* environment < flags; bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from fractal_service.config import Settings


def test_layers_override_in_order(tmp_path: Path) -> None:
    config = tmp_path / "fractal.toml"
    config.write_text('bind = "127.0.0.1:9000"\nthreads = 4\nlease_seconds = 12\n'
                      "[limits]\nmax_width = 1024\n")
    settings = Settings.load(config, {"threads": 16},
                             environ={"FRACTAL_LEASE_SECONDS": "20", "FRACTAL_DATA_DIR": "/d"})
    assert settings.bind == "127.0.0.1:9000"  # file
    assert settings.lease_seconds == 20.0  # environment beats file
    assert settings.threads == 16  # flag beats everything
    assert settings.data_dir == Path("/d")
    assert settings.limits.max_width == 1024 and settings.limits.max_height == 4096


@pytest.mark.parametrize(("content", "words"), [
    ("threads = -2\n", "threads"),
    ("colour = 'red'\n", "unknown setting 'colour'"),
    ("lease_seconds = 'soon'\n", "lease_seconds"),
    ("threads = 8\nspare_threads = 8\n", "'spare_threads' \\(8\\) must be below 'threads' \\(8\\)"),
    # the lame duck (api/drain.py) must leave in-flight requests some of gunicorn's graceful time
    ("drain_max = 30\n", "'drain_max' \\(30\\) must be below 'graceful_timeout' \\(30\\)"),
    ("[region_check]\nown_keystone = 1\n", "'region_check.own_keystone': must be true or false"),
])
def test_bad_settings_are_named(tmp_path: Path, content: str, words: str) -> None:
    config = tmp_path / "fractal.toml"
    config.write_text(content)
    with pytest.raises(ValueError, match=words):
        Settings.load(config, environ={})


@pytest.mark.parametrize("value", [True, False])
def test_a_switch_in_a_table_is_a_toml_bool(tmp_path: Path, value: bool) -> None:
    """[region_check] own_keystone = false was refused ("must be positive": read as an
    integer), which made every region check of the two-site lab refuse the ticket."""
    config = tmp_path / "fractal.toml"
    config.write_text(f"[region_check]\nown_keystone = {str(value).lower()}\n")
    assert Settings.load(config, environ={}).region_check.own_keystone is value

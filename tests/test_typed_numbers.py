"""THE reading of a number typed as text (config.read_number), shared by every numeric flag of the CLI and the app's
form: '_' between digits is refused (Python's int() and float() read '1_0' as 10), a whole number's leading zeros
are only zeros, and a whole number too large is refused for its value, not its count of digits."""

from __future__ import annotations

import pytest
from helpers import osmis_cli

from osmis_core.config import MAX_SEED, parse_number, read_number
from osmis_core.errors import ConfigError


def test_underscore_grouping_is_refused_in_one_sentence_naming_the_option():
    with pytest.raises(ConfigError) as exc:
        parse_number("1_0", float, "p_aug")
    assert str(exc.value) == "p_aug must be a number written without '_', got '1_0'."
    with pytest.raises(ValueError, match="whole number written without '_', got '1_000'"):
        read_number("1_000", int)


def test_a_seed_of_thousands_of_zeros_is_the_seed_0_and_a_larger_one_is_refused_by_value():
    assert read_number("0" * 5000, int, MAX_SEED) == 0
    assert read_number(" " + "0" * 5000 + "12 ", int, MAX_SEED) == 12
    with pytest.raises(ConfigError) as exc:
        parse_number("9" * 5000, int, "Seed", MAX_SEED)
    assert str(exc.value) == f"Seed must be at most {MAX_SEED}, got '{'9' * 24}…'."


@pytest.mark.parametrize(
    "argv, flag, text",
    [
        (["train", "data.png", "--p-aug", "1_0"], "--p-aug", "1_0"),
        (["train", "data.png", "--iters", "1_000"], "--iters", "1_000"),
        (["generate", "run", "--seed", "1_0"], "--seed", "1_0"),
        (["generate", "run", "--n", "1_0"], "--n", "1_0"),
    ],
)
def test_the_cli_refuses_underscore_grouping_in_every_numeric_flag(capsys, argv, flag, text):
    done = osmis_cli(capsys, *argv)
    assert done.returncode == 2
    assert f"argument {flag}: must be a " in done.stderr and f"number written without '_', got '{text}'" in done.stderr


def test_the_cli_takes_a_seed_of_thousands_of_zeros_as_0(capsys):
    from osmis_core.cli import build_parser

    args = build_parser().parse_args(["train", "data.png", "--seed", "0" * 5000])
    assert args.seed == 0
    done = osmis_cli(capsys, "generate", "run", "--seed", "9" * 5000)
    assert done.returncode == 2 and f"argument --seed: must be at most {MAX_SEED}, got '" in done.stderr


def test_the_image_pixel_limit_of_the_environment_refuses_underscore_grouping(monkeypatch):
    from osmis_core.data.sources import max_image_pixels

    monkeypatch.setenv("OSMIS_MAX_IMAGE_PIXELS", "448_000_000")
    with pytest.raises(ConfigError, match="OSMIS_MAX_IMAGE_PIXELS='448_000_000' must be a positive whole number"):
        max_image_pixels()
    monkeypatch.setenv("OSMIS_MAX_IMAGE_PIXELS", " 448000000 ")
    assert max_image_pixels() == 448_000_000


def test_a_csv_list_of_sources_refuses_underscore_grouping_in_a_cell(tmp_path):
    """A CSV list's cells are text typed by a user: read as the flags read them ('1_0' had been p_aug 10)."""
    from helpers import write_scene

    from osmis_core.batch.sources import list_sources

    scene = write_scene(tmp_path)
    csv = tmp_path / "list.csv"
    csv.write_text(f"data,p_aug,iters\n{scene},0.5,0010\n", encoding="utf-8")
    assert list_sources(csv)[0].options == {"p_aug": 0.5, "iters": 10}
    csv.write_text(f"data,p_aug\n{scene},1_0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        list_sources(csv)
    assert str(exc.value) == f"{csv} line 2: option 'p_aug' must be a number written without '_', got '1_0'."

"""`newtown store|users|facility|review|history`: the store from the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from dashboard.cli import main
from geo.atlas import load_atlas
from geo.crs import convert
from geo.settings import bundled_data_dir
from geo.store import open_store

WHY = ["--reason", "typo in the name", "--source", "the institute's website"]

#: Rows in the bundled facilities.csv (the header excluded), counted, not typed.
N_BUNDLED = len((Path(__file__).resolve().parents[1] / "data" / "facilities.csv")
                .read_text(encoding="utf-8").splitlines()) - 1



def run(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store_path(tmp_path, capsys, monkeypatch):
    path = str(tmp_path / "atlas.gpkg")
    assert run(capsys, "store", "init", path)[0] == 0
    for name, role, actor in (("root", "admin", []), ("ed", "editor", ["--user", "root"]),
                              ("vic", "viewer", ["--user", "root"])):
        code, _, err = run(capsys, "users", "add", name, "--role", role, "--store", path,
                             "--password-stdin", *actor, stdin=f"{name}-password\n",
                             monkeypatch=monkeypatch)
        assert code == 0, err
    return path


def test_users_add_list_disable(store_path, capsys, monkeypatch):
    code, out, _ = run(capsys, "users", "list", "--store", store_path, "--json")
    users = {u["name"]: u for u in json.loads(out)}
    assert users["ed"]["role"] == "editor" and not users["ed"]["disabled"]
    assert "password" not in out and "scrypt" not in out
    code, _, err = run(capsys, "users", "add", "x", "--role", "admin", "--store", store_path,
                       "--password-stdin", "--user", "ed", stdin="long-enough\n",
                       monkeypatch=monkeypatch)
    assert code == 2 and "admin" in err
    assert run(capsys, "users", "disable", "ed", "--store", store_path, "--user", "root")[0] == 0
    code, out, _ = run(capsys, "users", "list", "--store", store_path)
    assert "disabled" in next(line for line in out.splitlines() if line.startswith("ed "))


def test_password_from_a_prompt(tmp_path, capsys, monkeypatch):
    path = str(tmp_path / "p.gpkg")
    assert run(capsys, "store", "init", path, "--no-review")[0] == 0
    answers = iter(["prompted-password", "prompted-password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert run(capsys, "users", "add", "admin", "--role", "admin", "--store", path)[0] == 0
    with open_store(path) as store:
        assert store.authenticate("admin", "prompted-password").role == "admin"
        assert not store.review_required


def test_edit_review_history_dump_round_trip(store_path, tmp_path, capsys):
    code, out, err = run(capsys, "facility", "set", "JD-002", "--field", "name_en=Sensor Centre",
                         "--user", "ed", "--store", store_path, *WHY)
    assert code == 0 and "proposed" in out, err
    code, out, _ = run(capsys, "review", "list", "--store", store_path, "--json")
    [proposal] = json.loads(out)
    assert proposal["after"]["name_en"] == "Sensor Centre" and proposal["user"] == "ed"
    code, out, err = run(capsys, "review", "approve", str(proposal["change_id"]), "--user",
                         "root", "--comment", "checked", "--store", store_path)
    assert code == 0 and "approved" in out and "version 2" in out, err
    # A move in GCJ-02 is stored in WGS84.
    code, out, err = run(capsys, "facility", "move", "JD-002", "--lon", "121.2415", "--lat",
                         "31.3985", "--datum", "gcj02", "--user", "root", "--store", store_path,
                         "--expect-version", "2", *WHY)
    assert code == 0, err
    lon, lat = convert([121.2415], [31.3985], from_datum="gcj02", to_datum="wgs84")
    with open_store(store_path) as store:
        row = store.facility("JD-002")
    assert row["lon"] == f"{lon[0]:.6f}" and row["lat"] == f"{lat[0]:.6f}"
    code, out, err = run(capsys, "history", "JD-002", "--store", store_path, "--json")
    history = json.loads(out)
    assert [c["action"] for c in history] == ["set", "move"]
    assert [c["review_state"] for c in history] == ["approved", "applied"]
    assert run(capsys, "history", "--store", store_path, "--user", "ed")[1].count("#") == 1
    assert run(capsys, "history", "--store", store_path, "--since", "2999-01-01")[1] == \
        "no changes\n"
    out_dir = tmp_path / "dump"
    assert run(capsys, "store", "dump", store_path, "-o", str(out_dir))[0] == 0
    code, out, err = run(capsys, "check", "--data", str(out_dir))
    assert code == 0 and f"{N_BUNDLED} facilities: all valid" in out, err
    assert load_atlas(out_dir).facilities.loc["JD-002", "name_en"] == "Sensor Centre"
    backup = tmp_path / "copy.gpkg"
    assert run(capsys, "store", "backup", store_path, "-o", str(backup))[0] == 0
    with open_store(backup) as copy:
        assert len(copy.history()) == 2


def test_refusals_exit_2_with_one_line(store_path, capsys):
    code, _, err = run(capsys, "facility", "set", "JD-002", "--field", "name_en=x", "--user",
                       "vic", "--store", store_path, *WHY)
    assert code == 2 and "viewer" in err
    code, _, err = run(capsys, "facility", "set", "JD-002", "--field", "name_en=x", "--user",
                       "root", "--store", store_path, "--expect-version", "7", *WHY)
    assert code == 2 and "version 1, not 7" in err
    code, _, err = run(capsys, "facility", "set", "JD-002", "--field", "town=Atlantis",
                       "--user", "root", "--store", store_path, *WHY)
    assert code == 2 and "field 'town'" in err
    code, _, err = run(capsys, "facility", "set", "JD-002", "--field", "nonsense",
                       "--user", "root", "--store", store_path, *WHY)
    assert code == 2 and "COLUMN=VALUE" in err
    code, _, err = run(capsys, "history", "--store", str(store_path) + ".missing")
    assert code == 2 and "no store here" in err
    with open_store(store_path) as store:
        assert store.history() == [] and store.revision() == 0


def test_add_retire_revert(store_path, capsys):
    source = pd.read_csv(bundled_data_dir() / "facilities.csv", dtype=str,
                         keep_default_na=False)
    row = source.set_index("id").loc["JD-002"]
    fields = [f"--field={c}={v}" for c, v in row.items() if v]
    code, out, err = run(capsys, "facility", "add", "JD-900", *fields, "--user", "root",
                         "--store", store_path, *WHY)
    assert code == 0 and "version 1" in out, err
    code, out, err = run(capsys, "facility", "retire", "JD-900", "--user", "root", "--store",
                         store_path, "--reason", "closed", "--source", "notice")
    assert code == 0, err
    code, out, err = run(capsys, "facility", "revert", "JD-900", "--to-version", "1", "--user",
                         "root", "--store", store_path, *WHY)
    assert code == 0 and "version 3" in out, err
    with open_store(store_path) as store:
        assert store.facility("JD-900")["retired"] is False


def test_store_upgrade_brings_an_older_store_to_the_head(store_path, capsys):
    """`newtown store upgrade`: an older store is refused by every other command with the
    one-line advice to run it; after it the store opens with its rows and accounts."""
    import sqlalchemy as sa

    from geo.store import migrate

    engine = sa.create_engine(f"sqlite:///{store_path}")
    with engine.begin() as conn:  # back to schema version 1 (before the migrations)
        migrate.downgrade(conn, migrate.BASELINE)
        conn.exec_driver_sql("DROP TABLE alembic_version")
    engine.dispose()
    code, _, err = run(capsys, "users", "list", "--store", store_path)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"run `newtown store upgrade {Path(store_path).resolve()}`" in err
    code, out, err = run(capsys, "store", "upgrade", store_path)
    assert code == 0, err
    assert f"schema revision 0001 -> {migrate.head()}" in out
    code, out, _ = run(capsys, "users", "list", "--store", store_path)
    assert code == 0 and "root" in out and "vic" in out
    code, out, _ = run(capsys, "store", "upgrade", store_path)
    assert code == 0 and "nothing to do" in out
    with open_store(store_path) as store:
        assert len(store.atlas().facilities) == N_BUNDLED

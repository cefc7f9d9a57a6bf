"""``watchkeeper status-page --out DIR``: the page as static files, each replaced whole, from
the saved state read read-only."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from agent.alerting.state import Phase
from agent.cli.main import main
from agent.model import Status
from agent.status_page.build import build_page
from agent.status_page.site import SiteError, write_site
from agent.status_page.sources import NoHistory
from agent.store import Store, writes
from tests.status_page.test_build import NOW, incident, snapshot, state

CONFIG = """
agent:
  host: shop1
  state_dir: {state}
checks:
  - name: web
    kind: tcp
    host: 127.0.0.1
    port: 9
    public: true
  - name: api
    kind: tcp
    host: 127.0.0.1
    port: 9
    public: {api_public}
  - name: internal-db-9q
    kind: tcp
    host: 127.0.0.1
    port: 9
  - name: switched-off-3x
    kind: tcp
    host: 127.0.0.1
    port: 9
    enabled: false
    public: true
"""


def config(tmp_path: Path, *, api_public: bool = True) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state",
                                  api_public="true" if api_public else "false"))
    return path


def test_both_files_are_written_whole_and_readable_by_a_web_server(tmp_path: Path) -> None:
    out = tmp_path / "www" / "status"
    page = build_page(snapshot(), NoHistory(), NOW)
    written = write_site(out, page)
    assert written == [out / "status.json", out / "index.html"]
    assert sorted(os.listdir(out)) == ["index.html", "status.json"]  # no temporary left
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in written)
    before = (out / "index.html").stat().st_ino
    write_site(out, build_page(snapshot(state("web", Phase.FIRING, Status.CRITICAL)),
                               NoHistory(), NOW))
    assert (out / "index.html").stat().st_ino != before  # renamed over, not rewritten
    assert 'data-check="web" data-state="down"' in (out / "index.html").read_text()
    assert json.loads((out / "status.json").read_text())["state"] == "down"


def test_an_output_that_is_not_a_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SiteError, match="is not a directory"):
        write_site(tmp_path / "file", build_page(snapshot(), NoHistory(), NOW))


def test_a_file_that_cannot_be_replaced_is_an_error_and_leaves_no_temporary(
        tmp_path: Path) -> None:
    (tmp_path / "index.html").mkdir()  # a directory where the page goes
    with pytest.raises(SiteError, match=f"cannot write {tmp_path}/index.html: Is a directory"):
        write_site(tmp_path, build_page(snapshot(), NoHistory(), NOW))
    assert sorted(os.listdir(tmp_path)) == ["index.html", "status.json"]
    assert (tmp_path / "index.html").is_dir()


def test_the_command_writes_the_page_of_the_saved_state(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path)
    with Store.open(tmp_path / "state") as store:
        store.submit(writes.commit([state("api", Phase.FIRING, Status.CRITICAL,
                                          "connection refused by internal-db-9q")]))
        store.submit(writes.incident(incident(1, "api", opened=NOW, lasted=None)))
        store.submit(writes.incident(incident(2, "internal-db-9q", opened=NOW, lasted=None)))
    out = tmp_path / "site"
    assert main(["status-page", "-c", str(path), "--out", str(out), "--title", "Acme"]) == 0
    said = capsys.readouterr()
    assert said.out == f"wrote {out}/status.json, {out}/index.html: 2 public checks\n"
    page = (out / "index.html").read_text()
    assert "<title>Acme</title>" in page
    assert 'data-check="api" data-state="down"' in page
    assert 'data-check="web" data-state="no_data"' in page  # nothing says it ran
    assert 'data-incident="i001"' in page and 'data-incident="i002"' not in page
    assert "internal-db-9q" not in page
    assert "switched-off-3x" not in page  # public, but not checked: nothing to show
    assert "internal-db-9q" not in (out / "status.json").read_text()


def test_the_command_without_state_yet_writes_a_page_of_no_data(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site"
    assert main(["status-page", "-c", str(config(tmp_path)), "--out", str(out)]) == 0
    assert "no state yet" in capsys.readouterr().out
    assert not (tmp_path / "state").exists()  # read-only: nothing created
    assert 'id="overall" data-state="no_data"' in (out / "index.html").read_text()


@pytest.mark.parametrize(("args", "code", "said"), [
    (["--out", "{tmp}/site"], 2, "no check in {tmp}/config.yaml is public: add 'public: "
                                 "true' to the checks the status page shows"),
    ([], 2, "the following arguments are required: --out"),
    (["--out", "{tmp}/site", "--title", "  "], 2, "the title must not be empty"),
    (["--out", "{tmp}/config.yaml"], 1, "{tmp}/config.yaml is not a directory"),
])
def test_the_command_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        args: list[str], code: int, said: str) -> None:
    path = config(tmp_path, api_public=False)
    if "public" in said:
        path.write_text(path.read_text().replace("public: true", "public: false"))
    argv = ["status-page", "-c", str(path), *(a.format(tmp=tmp_path) for a in args)]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert said.format(tmp=tmp_path) in err
    assert "Traceback" not in err


def test_a_public_key_that_is_not_a_boolean_is_a_config_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path)
    path.write_text(path.read_text().replace("public: true", "public: sometimes", 1))
    assert main(["status-page", "-c", str(path), "--out", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert "config.yaml:10: checks[0].public: expected true or false, got 'sometimes'" in err

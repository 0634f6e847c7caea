"""`check_dead_letter`: the dead-letter path is checked before an ingest writes anything."""

from __future__ import annotations

import os

import pytest

from reputation.ingest import DeadLetterUnusable, check_dead_letter


def test_a_new_file_in_new_folders_is_fine_and_the_check_creates_nothing(tmp_path):
    target = tmp_path / "a" / "b" / "dl.jsonl"
    check_dead_letter(target, [tmp_path / "in.jsonl"])
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_that_is_not_an_input_is_fine(tmp_path):
    (tmp_path / "in.jsonl").write_text("x\n")
    (tmp_path / "dl.jsonl").write_text("old rejects\n")
    check_dead_letter(tmp_path / "dl.jsonl", [tmp_path / "in.jsonl"])


def test_a_parent_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(DeadLetterUnusable, match="afile/dl.jsonl.*cannot be"):
        check_dead_letter(tmp_path / "afile" / "dl.jsonl")
    with pytest.raises(DeadLetterUnusable, match="sub/dl.jsonl.*cannot be"):
        check_dead_letter(tmp_path / "afile" / "sub" / "dl.jsonl")


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(DeadLetterUnusable, match="is a folder"):
        check_dead_letter(tmp_path)


@pytest.mark.parametrize("spelling", ["same", "dot", "symlink", "hardlink"])
def test_the_input_file_itself_is_refused(tmp_path, spelling):
    source = tmp_path / "in.jsonl"
    source.write_text('{"type": "x"}\n')
    target = {"same": source, "dot": tmp_path / "." / "in.jsonl"}.get(spelling)
    if spelling == "symlink":
        target = tmp_path / "link.jsonl"
        target.symlink_to(source)
    elif spelling == "hardlink":
        target = tmp_path / "hard.jsonl"
        os.link(source, target)
    with pytest.raises(DeadLetterUnusable, match="input file"):
        check_dead_letter(target, [source])
    assert source.read_text() == '{"type": "x"}\n'


def test_the_file_behind_stdin_is_refused(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("x\n")
    with source.open("rb") as f:
        with pytest.raises(DeadLetterUnusable, match="input file"):
            check_dead_letter(source, [f.fileno()])

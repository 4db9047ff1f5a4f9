"""The reader: a clean file is one fast pass; every problem with the file names file, line and option."""

from __future__ import annotations

import gzip

import pytest

from engine.data.reader import FileReadError, read_table, read_yaml

TEXT = "customer_id,city\nc1,Zürich\nc2,Genève\n"


def test_utf8_gzip_and_byte_order_marks_read_the_same(tmp_path):
    expected = {"customer_id": ["c1", "c2"], "city": ["Zürich", "Genève"]}
    for name, data in {
        "plain.csv": TEXT.encode(),
        "zipped.csv.gz": gzip.compress(TEXT.encode()),
        "bom8.csv": TEXT.encode("utf-8-sig"),
        "bom16.csv": TEXT.encode("utf-16"),
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert read_table(path).to_dict("list") == expected, name


def test_other_encodings_need_the_option(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(TEXT.encode("latin-1"))
    with pytest.raises(FileReadError, match=r"latin.csv: line 2: byte b'\\xfc' is not utf-8.*--encoding"):
        read_table(path)
    assert read_table(path, encoding="latin-1")["city"].tolist() == ["Zürich", "Genève"]


def test_values_with_quoted_delimiters_and_newlines_are_not_ragged(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('customer_id,note\nc1,"a, b"\nc2,"two\nlines"\nc3,\n')
    assert read_table(path)["note"].tolist()[:2] == ["a, b", "two\nlines"]


def test_short_row_is_named_even_when_empty_last_values_are_legal(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("a,b,c\n1,2,\n1,2\n")
    with pytest.raises(FileReadError, match="line 3: 2 fields where the header has 3"):
        read_table(path)


def test_yaml_problems_name_the_file(tmp_path):
    path = tmp_path / "shop.yaml"
    path.write_text("# nothing\n")
    with pytest.raises(FileReadError, match="holds nothing"):
        read_yaml(path)
    path.write_text("source: a.csv\ncolumns: {a: b\n")
    with pytest.raises(FileReadError, match=r"shop.yaml: line 3: not valid YAML"):
        read_yaml(path)
    with pytest.raises(FileReadError, match="not a file"):
        read_yaml(tmp_path)

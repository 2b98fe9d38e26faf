"""Malformed JSON bodies get Go's encoding/json wording (the apiserver's `json parse error: …`)."""
from __future__ import annotations

import json

import pytest

from minikube_py.api.jsonerrors import go_message, quote_char


@pytest.mark.parametrize("text,want", [
    ('{"apiVersion":"v1","kind":"ConfigMap",', "unexpected end of JSON input"),
    ('{"a": 1', "unexpected end of JSON input"),
    ('{"a": "unterminated', "unexpected end of JSON input"),
    ("[1, 2  ", "unexpected end of JSON input"),
    ("hello", "invalid character 'h' looking for beginning of value"),
    ('{"a": }', "invalid character '}' looking for beginning of value"),
    ('{"a" 1}', "invalid character '1' after object key"),
    ("{'a': 1}", "invalid character '\\'' looking for beginning of object key string"),
    ('{"a": 1,}', "invalid character '}' looking for beginning of object key string"),
    ('{"a": 1 "b": 2}', "invalid character '\"' after object key:value pair"),
    ('{"a": [1 2]}', "invalid character '2' after array element"),
    ('{"a": "]" "b": 2}', "invalid character '\"' after object key:value pair"),
    ('{"a": 1} x', "invalid character 'x' after top-level value"),
    ('{"a": "x\ny"}', "invalid character '\\n' in string literal"),
    ('{"a": "x\\qy"}', "invalid character 'q' in string escape code"),
])
def test_go_wording(text, want):
    with pytest.raises(json.JSONDecodeError) as e:
        json.loads(text)
    assert go_message(text, e.value) == want


def test_quote_char_like_go():
    assert quote_char("a") == "'a'"
    assert quote_char("'") == "'\\''"
    assert quote_char('"') == "'\"'"
    assert quote_char("\t") == "'\\t'"

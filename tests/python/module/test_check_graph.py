"""pipette.check and pipette.graph: diagnostics as values, graphs as dicts."""
import pipette
import pytest

from conftest import write


def test_check_locates_each_error_and_hints_the_fix():
    d = pipette.check('report "a" = tensor.mul(tensor.random([2]), 2.0, stesp=3)\nlet x = tensor.rnadom([3])\n')
    errors = [x for x in d if x.severity == "error"]
    assert [(e.line, e.column) for e in errors] == [(1, 50), (2, 9)]
    assert errors[0].message == "'tensor.mul' has no parameter 'stesp'"
    assert errors[0].file == "<string>"
    assert errors[1].message == "unknown op 'tensor.rnadom'"
    assert errors[1].hint == "did you mean 'tensor.random'?"
    assert str(errors[0]).startswith("<string>:1:50: error: 'tensor.mul' has no parameter 'stesp'")
    assert "signature: tensor.mul(a: tensor|float, b: tensor|float) -> tensor" in str(errors[0])


def test_check_of_a_clean_file_is_empty_and_warnings_are_kept(project):
    write(project / "ok.pipe", 'report "a" = tensor.mul(tensor.random([2]), 2.0)\n')
    assert pipette.check(project / "ok.pipe") == []
    warn = pipette.check('let unused = tensor.random([2])\nreport "a" = 1\n')
    assert [w.severity for w in warn] == ["warning"]
    assert "unused" in warn[0].message and warn[0].line == 1


def test_check_raises_nothing(project):
    missing = pipette.check(str(project / "nowhere.pipe"))
    assert len(missing) == 1 and missing[0].severity == "error" and "nowhere.pipe" in missing[0].message
    bad_param = pipette.check('param n: int = 1\nreport "n" = n\n', params={"n": float("nan")})
    assert bad_param[0].severity == "error" and "finite" in bad_param[0].message
    wrong_type = pipette.check('param n: int = 1\nreport "n" = n\n', params={"n": "seven"})
    assert wrong_type and wrong_type[0].severity == "error"


def test_graph_is_the_json_graph_as_dicts():
    g = pipette.graph('param k: float = 2.0\nreport "a" = tensor.mul(tensor.random([2], seed=1), k)\n',
                      params={"k": 3.5})
    assert g["format"] == "pipette-graph" and g["params"] == {"k": 3.5}
    assert [n["op"] for n in g["nodes"]] == ["tensor.random", "tensor.mul"]
    mul = g["nodes"][1]
    assert mul["args"] == {"a": {"$ref": "n0"}, "b": 3.5}
    assert (mul["loc"]["line"], mul["loc"]["column"]) == (2, 14)
    assert g["reports"][0]["name"] == "a" and g["reports"][0]["value"] == {"$ref": "n1"}
    with pytest.raises(pipette.Error) as e:
        pipette.graph('report "a" = tensor.mull(1, 2)\n')
    assert e.value.line == 1 and e.value.diagnostics and "tensor.mul" in str(e.value.diagnostics[0])

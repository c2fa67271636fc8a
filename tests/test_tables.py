"""The table preprocessor: every column kind worked by hand, training rows only, by-name matching,
an exact state round trip, bad input, and scikit-learn's ColumnTransformer as an oracle."""

import datetime
import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnrecipe as nr
from nnrecipe.data.tables import TablePreprocessor, as_arrow

D = datetime.date


def mixed():
    """Eight rows holding every column kind."""
    return {
        "id": list(range(1, 9)),
        "age": [20.0, None, 30.0, 40.0, None, 50.0, 60.0, 25.0],
        "island": ["Dream", "Biscoe", "Dream", None, "Dream", "Biscoe", "Torgersen", "Dream"],
        "male": [True, False, None, True, True, False, False, True],
        "day": pa.array([D(2024, 1, 1), D(2024, 1, 3), D(2024, 2, 10), None, D(2024, 1, 6), D(2024, 3, 1),
                         D(2024, 1, 1), D(2024, 1, 2)], pa.date32()),
        "const": [7.0] * 8,
        "gone": [None] * 8,
        "nan_col": [float("nan")] * 8,
        "name": [f"person {i}" for i in range(8)],
    }


NAMES = ["age", "age missing", "island=Biscoe", "island=Dream", "island=other", "island missing", "male",
         "male missing", "day month", "day weekday", "day days", "day missing"]
# worked by hand: age median of 20 25 30 40 50 60 is 35; male: four true, three false, median 1;
# 2024-01-01 is a Monday; day medians over the 7 dates: month 1, weekday 2, days 2; all in 2024 (no year)
EXPECTED = np.array([
    [20, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0],
    [35, 1, 1, 0, 0, 0, 0, 0, 1, 2, 2, 0],
    [30, 0, 0, 1, 0, 0, 1, 1, 2, 5, 40, 0],
    [40, 0, 0, 0, 0, 1, 1, 0, 1, 2, 2, 1],
    [35, 1, 0, 1, 0, 0, 1, 0, 1, 5, 5, 0],
    [50, 0, 1, 0, 0, 0, 0, 0, 3, 4, 60, 0],
    [60, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0],
    [25, 0, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0],
], np.float64)


@pytest.fixture
def fitted():
    return TablePreprocessor(min_level_count=2).fit(mixed())


def test_every_column_kind_worked_by_hand(fitted):
    X = fitted.transform(mixed())
    assert X.dtype == np.float64
    np.testing.assert_array_equal(X, EXPECTED)
    assert fitted.feature_names_out_ == NAMES
    assert fitted.columns_ == ["age", "island", "male", "day"]
    assert fitted.n_rows_ == 8
    by = {d["column"]: d for d in fitted.decisions_}
    assert [d["column"] for d in fitted.decisions_] == list(mixed())
    assert {c: (by[c]["kind"], by[c]["action"]) for c in by} == {
        "id": ("identifier", "dropped"), "age": ("numeric", "imputed"), "island": ("categorical", "encoded"),
        "male": ("boolean", "imputed"), "day": ("datetime", "expanded"), "const": ("constant", "dropped"),
        "gone": ("empty", "dropped"), "nan_col": ("empty", "dropped"), "name": ("identifier", "dropped")}
    assert by["age"]["fill"] == [35.0] and by["age"]["missing"] == 2
    assert by["age"]["outputs"] == ["age", "age missing"]
    assert by["island"]["levels"] == ["Biscoe", "Dream"] and by["island"]["rare"] == 1
    assert by["island"]["outputs"] == NAMES[2:6]
    assert by["male"]["fill"] == [1.0]
    assert by["day"]["fill"] == [1.0, 2.0, 2.0] and by["day"]["origin"] == "2024-01-01"
    assert by["const"]["value"] == 7 and by["id"]["outputs"] == [] and by["gone"]["outputs"] == []
    assert "median 35" in by["age"]["reason"] and "'island=other'" in by["island"]["reason"]
    assert "name says so" in by["id"]["reason"] and "every one of the 8" in by["gone"]["reason"]
    assert "one value (7)" in by["const"]["reason"] and "identifier" in by["name"]["reason"]
    json.dumps(fitted.decisions_)                           # run.json and the report take them as they are


def test_shuffled_columns_give_the_same_matrix_and_extras_are_noted(fitted):
    table = mixed()
    order = ["day", "name", "male", "age", "island"]
    X = fitted.transform({**{k: table[k] for k in order}, "weight": [1.0] * 8, "species": ["a"] * 8})
    np.testing.assert_array_equal(X, EXPECTED)
    assert fitted.ignored_ == ["weight", "species"]          # 'name' was known at fit (dropped there): not noted
    fitted.transform(mixed())
    assert fitted.ignored_ == []


def test_a_missing_column_is_named(fitted):
    table = mixed()
    del table["island"], table["day"]
    with pytest.raises(nr.NNRecipeError, match="missing 'island', 'day'"):
        fitted.transform(table)
    del table["id"], table["const"]                        # dropped columns are not needed
    table.update(island=mixed()["island"], day=mixed()["day"])
    np.testing.assert_array_equal(fitted.transform(table), EXPECTED)


def test_unseen_levels_and_new_gaps(fitted):
    new = {"age": [None, 33], "island": ["Atlantis", None], "male": ["false", "true"],
           "day": ["2024-01-08", None]}
    X = fitted.transform(new)
    np.testing.assert_array_equal(X, [[35, 1, 0, 0, 1, 0, 0, 0, 1, 0, 7, 0],
                                      [33, 0, 0, 0, 0, 1, 1, 0, 1, 2, 2, 1]])
    # no rare level in training: no "other" column, an unseen level is all zeros; a new gap is unseen too
    pre = TablePreprocessor(min_level_count=1).fit({"c": ["a", "b", "a", "b"], "x": [1.0, 2.0, 3.0, None]})
    assert pre.feature_names_out_ == ["c=a", "c=b", "x", "x missing"]
    np.testing.assert_array_equal(pre.transform({"c": ["z", None], "x": [None, 5]}), [[0, 0, 2, 1], [0, 0, 5, 0]])


def test_fit_reads_the_training_rows_only():
    table = mixed()
    rows = [0, 1, 2, 4, 5, 7]                              # Torgersen (row 6) and the gap in island (3) left out
    pre = TablePreprocessor(min_level_count=2).fit(table, rows=rows)
    mask = np.zeros(8, bool)
    mask[rows] = True
    assert TablePreprocessor(min_level_count=2).fit(table, rows=mask).to_state()[0] == pre.to_state()[0]
    assert pre.n_rows_ == 6
    assert pre.feature_names_out_[:4] == ["age", "age missing", "island=Biscoe", "island=Dream"]
    assert "island=other" not in pre.feature_names_out_ and "island missing" not in pre.feature_names_out_
    assert pre.decisions_[1]["fill"] == [27.5]              # median of 20 25 30 50
    X = pre.transform(table)
    np.testing.assert_array_equal(X[[3, 6], 2:4], 0)       # gap and Torgersen: unseen, no other column


@st.composite
def _tables(draw):
    n = draw(st.integers(4, 30))
    number = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))
    level = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"]))
    rows = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=n, unique=True))
    table = {"x": draw(st.lists(number, min_size=n, max_size=n)), "c": draw(st.lists(level, min_size=n, max_size=n)),
             "z": draw(st.lists(st.floats(-5, 5), min_size=n, max_size=n))}
    other = {"x": draw(st.lists(number, min_size=n, max_size=n)),
             "c": draw(st.lists(st.one_of(level, st.text(max_size=3)), min_size=n, max_size=n)),
             "z": draw(st.lists(st.floats(-5, 5), min_size=n, max_size=n))}
    return table, other, rows


@given(_tables())
@settings(max_examples=60, deadline=None)
def test_values_outside_the_training_rows_change_nothing(case):
    table, other, rows = case
    changed = {k: [v if i in rows else other[k][i] for i, v in enumerate(col)] for k, col in table.items()}
    try:
        a = TablePreprocessor(min_level_count=2, max_levels=3).fit(table, rows=rows)
    except nr.NNRecipeError as exc:
        with pytest.raises(nr.NNRecipeError) as again:
            TablePreprocessor(min_level_count=2, max_levels=3).fit(changed, rows=rows)
        assert str(again.value) == str(exc)
        return
    b = TablePreprocessor(min_level_count=2, max_levels=3).fit(changed, rows=rows)
    (meta_a, arrays_a), (meta_b, arrays_b) = a.to_state(), b.to_state()
    assert meta_a == meta_b
    np.testing.assert_array_equal(arrays_a["fill"], arrays_b["fill"])
    np.testing.assert_array_equal(a.transform(table), b.transform(table))


def test_state_round_trips_bit_for_bit(fitted):
    meta, arrays = fitted.to_state()
    text = json.dumps(meta)                                 # JSON-able, as the model file keeps it
    assert set(arrays) == {"fill"} and arrays["fill"].dtype == np.float64
    back = TablePreprocessor.from_state(json.loads(text), {k: v.copy() for k, v in arrays.items()})
    new = {"age": [1 / 3, None, 1e100], "island": ["Biscoe", "Mars", None], "male": [None, False, True],
           "day": pa.array([datetime.datetime(2023, 5, 6, 7, 8, 9, 123456), None, datetime.datetime(2030, 1, 1)])}
    for table in (mixed(), new):
        assert back.transform(table).tobytes() == fitted.transform(table).tobytes()
    assert back.feature_names_out_ == fitted.feature_names_out_ and back.decisions_ == fitted.decisions_
    assert back.columns_ == fitted.columns_ and back.n_rows_ == 8


@pytest.mark.parametrize("edit", [
    lambda m, a: m.update(format="other"),
    lambda m, a: m.update(version=99),
    lambda m, a: m["columns"].append({"name": "age", "kind": "numeric", "indicator": False}),
    lambda m, a: m["columns"][0].update(kind="pickle"),
    lambda m, a: m["columns"][0].update(indicator="yes"),
    lambda m, a: m["columns"][1].update(levels=["a", "a"]),
    lambda m, a: m["columns"][3].update(parts=["hour"]),
    lambda m, a: m["columns"][3].update(origin="2024"),
    lambda m, a: m["columns"][0].update(name="nowhere"),
    lambda m, a: m.update(settings={"max_levels": 1, "min_level_count": None, "id_share": 0.9}),
    lambda m, a: m.pop("seen"),
    lambda m, a: m.update(columns=[]),
    lambda m, a: m.update(decisions="rm -rf"),
    lambda m, a: a.update(fill=a["fill"][:-1]),
    lambda m, a: a.update(fill=a["fill"].astype(np.float32)),
    lambda m, a: a.update(fill=np.full_like(a["fill"], np.nan)),
    lambda m, a: a.pop("fill"),
])
def test_a_malformed_state_raises(fitted, edit):
    meta, arrays = fitted.to_state()
    meta = json.loads(json.dumps(meta))
    edit(meta, arrays)
    with pytest.raises(nr.NNRecipeError, match="preprocessor state is malformed|max_levels"):
        TablePreprocessor.from_state(meta, arrays)


def test_text_numbers_and_text_dates_and_dictionaries():
    table = {"n": ["1.5", " 2", None, "4", "8"], "d": ["2024-01-01", "2024-01-02T12:00:00", None, "2024-01-08",
                                                         "2024-01-09"],
             "cat": pa.array(["x", "y", "x", "y", "x"]).dictionary_encode(), "code": pa.array([1, 2, 1, 2, 1])}
    pre = TablePreprocessor(min_level_count=1).fit(table)
    kinds = {d["column"]: d["kind"] for d in pre.decisions_}
    assert kinds == {"n": "numeric", "d": "datetime", "cat": "categorical", "code": "numeric"}
    assert pre.feature_names_out_ == ["n", "n missing", "d weekday", "d days", "d missing", "cat=x", "cat=y", "code"]
    np.testing.assert_array_equal(pre.transform(table)[:, :5],
                                  [[1.5, 0, 0, 0, 0], [2, 0, 1, 1.5, 0], [3, 1, 0.5, 4.25, 1], [4, 0, 0, 7, 0],
                                   [8, 0, 1, 8, 0]])
    with pytest.raises(nr.NNRecipeError, match="column 'n' must hold numbers.*'abc' at row 1"):
        pre.transform({**table, "n": ["1", "abc", None, "2", "3"]})
    with pytest.raises(nr.NNRecipeError, match="column 'd' must hold dates.*'soon' at row 0"):
        pre.transform({**table, "d": ["soon", None, None, None, None]})


def test_identifiers_free_text_and_levels():
    n = 40
    rng = np.random.default_rng(0)
    table = {
        "PassengerId": np.arange(100, 100 + n),          # by its name
        "row": np.arange(n)[::-1].copy(),                 # consecutive integers: a row number
        "income": rng.permutation(np.arange(n) * 1000),   # distinct integers, neither: kept
        "price": rng.normal(size=n),                      # floats are never identifiers
        "ticket": [f"T{i}" for i in range(n)],            # distinct text
        "comment": [f"w{i // 2}" for i in range(n)],      # 20 levels of 2 rows: free text
        "colour": ["red"] * 20 + ["blue"] * 12 + ["green"] * 4 + ["pink"] * 4,
    }
    pre = TablePreprocessor().fit(table)
    by = {d["column"]: d for d in pre.decisions_}
    assert [c for c, d in by.items() if d["kind"] == "identifier"] == ["PassengerId", "row", "ticket"]
    assert by["income"]["action"] == "used" and by["price"]["action"] == "used"
    assert (by["comment"]["kind"], by["comment"]["action"]) == ("categorical", "dropped")
    assert "free text" in by["comment"]["reason"]
    assert by["colour"]["outputs"] == ["colour=blue", "colour=red", "colour=other"]   # green, pink < 5 rows
    capped = TablePreprocessor(max_levels=2, min_level_count=1).fit({"colour": table["colour"]})
    assert capped.feature_names_out_ == ["colour=red", "colour=other"]
    lenient = TablePreprocessor(id_share=1.0).fit({"ticket": table["ticket"][:-1] + ["T0"], "x": np.arange(n) * 1.0})
    assert lenient.decisions_[0]["kind"] == "categorical"


def test_timestamps_with_zones_and_constant_parts():
    ts = pa.array([0, 86_400_000_000 * 3 + 3_600_000_000, None], pa.timestamp("us", tz="Europe/Paris"))
    pre = TablePreprocessor().fit({"t": ts, "x": [1.0, 2.0, 3.0]})
    assert pre.feature_names_out_ == ["t weekday", "t days", "t missing", "x"]
    np.testing.assert_array_equal(pre.transform({"t": ts, "x": [1.0, 2.0, 3.0]})[:, :3],
                                  [[3, 0, 0], [6, 3 + 1 / 24, 0], [4.5, 1.5 + 1 / 48, 1]])


def test_no_usable_column_names_every_column_and_why():
    with pytest.raises(nr.NNRecipeError, match=r"no usable|at least one usable column") as err:
        TablePreprocessor().fit({"id": [1, 2, 3], "c": ["k", "k", "k"], "e": [None, None, None]})
    message = str(err.value)
    assert "'id' (identifier" in message and "'c' (constant" in message and "'e' (empty" in message


@pytest.mark.parametrize("data, match", [
    (np.zeros((3, 2)), "table must be a pyarrow Table, a pandas DataFrame.*got ndarray"),
    (42, "got int"),
    ({"a": [1, 2], "b": [1]}, "table must be a table pyarrow can read"),
    ({"a": 3}, "column 'a' must be a list or a 1-D array"),
    ({1: [1, 2]}, "column names of table must be strings"),
    ({"a": np.zeros((2, 2))}, "column 'a' must be 1-D"),
    ({}, "at least one column"),
    ({"a": []}, "at least one training row"),
])
def test_bad_tables(data, match):
    with pytest.raises(nr.NNRecipeError, match=match):
        TablePreprocessor().fit(data)


@pytest.mark.parametrize("kwargs, match", [
    ({"max_levels": 1}, "max_levels must be an integer ≥ 2"),
    ({"min_level_count": 0}, "min_level_count must be None or an integer ≥ 1"),
    ({"id_share": 0}, "id_share must be a number in"),
    ({"id_share": True}, "id_share"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(nr.NNRecipeError, match=match):
        TablePreprocessor(**kwargs).fit({"x": [1.0, 2.0]})


def test_bad_rows_and_unfitted():
    with pytest.raises(nr.NNRecipeError, match=r"rows must be indices in \[0, 3\); got 0 to 3"):
        TablePreprocessor().fit({"x": [1.0, 2.0, 3.0]}, rows=[0, 3])
    with pytest.raises(nr.NNRecipeError, match="rows must be a boolean mask of the table's 3 rows"):
        TablePreprocessor().fit({"x": [1.0, 2.0, 3.0]}, rows=[True, False])
    with pytest.raises(nr.NNRecipeError, match="rows must be a 1-D array of row indices"):
        TablePreprocessor().fit({"x": [1.0, 2.0, 3.0]}, rows=[0.5])
    with pytest.raises(nr.NNRecipeError, match="not fitted"):
        TablePreprocessor().transform({"x": [1.0]})


def test_csv_files_and_a_header_naming_a_column_twice(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("age,town,when\n3,Oslo,2024-01-01\n,Rome,2024-02-01\n5,Oslo,\n7,Rome,2024-03-01\n")
    pre = TablePreprocessor(min_level_count=1).fit(path)
    assert pre.feature_names_out_ == ["age", "age missing", "town=Oslo", "town=Rome", "when month", "when weekday",
                                      "when days", "when missing"]
    np.testing.assert_array_equal(pre.transform(str(path))[:, :4], [[3, 0, 1, 0], [5, 1, 0, 1], [5, 0, 1, 0],
                                                                     [7, 0, 0, 1]])
    twice = tmp_path / "twice.csv"
    twice.write_text("a,b,a\n1,2,3\n")
    with pytest.raises(nr.NNRecipeError, match="column names of twice.csv must be unique; got 'a' more than once"):
        TablePreprocessor().fit(twice)
    with pytest.raises(nr.NNRecipeError, match="must be unique; got 'a' more than once"):
        as_arrow(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"]))
    with pytest.raises(nr.NNRecipeError, match="rows must be an existing file"):
        pre.transform(tmp_path / "nowhere.csv")


def test_numeric_arrays_stand_for_numeric_columns_only():
    pre = TablePreprocessor().fit({"a": [1.0, None, 3.0], "b": [True, False, True]})
    np.testing.assert_array_equal(pre.transform(np.array([[np.nan, 0], [2, 1]])), [[2, 1, 0], [2, 0, 1]])
    with pytest.raises(nr.NNRecipeError, match=r"rows must be named columns .* \['a', 'b'\]; got an array of shape"):
        pre.transform(np.zeros((2, 3)))
    text = TablePreprocessor(min_level_count=1).fit({"a": [1.0, 2.0, 3.0, 4.0], "c": ["x", "y", "x", "y"]})
    with pytest.raises(nr.NNRecipeError, match="numbers cannot stand for the text and date columns"):
        text.transform(np.zeros((2, 2)))


def test_record_batches_and_arrow_streams():
    batch = pa.RecordBatch.from_pydict({"x": [1.0, 2.0, 4.0]})
    np.testing.assert_array_equal(TablePreprocessor().fit_transform(batch), [[1], [2], [4]])

    class Stream:                       # a polars or DuckDB frame: the Arrow PyCapsule protocol
        def __arrow_c_stream__(self, requested_schema=None):
            return pa.table({"x": [1.0, 2.0, 4.0]}).__arrow_c_stream__(requested_schema)
    np.testing.assert_array_equal(TablePreprocessor().fit_transform(Stream()), [[1], [2], [4]])


def test_pandas_frames_when_pandas_is_there():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"age": [20.0, np.nan, 30.0], "town": pd.Categorical(["a", "b", "a"]),
                          "male": [True, False, None]})
    pre = TablePreprocessor(min_level_count=1).fit(frame)
    assert pre.feature_names_out_ == ["age", "age missing", "town=a", "town=b", "male", "male missing"]
    np.testing.assert_array_equal(pre.transform(frame[["male", "town", "age"]]),
                                  pre.transform({"age": [20.0, None, 30.0], "town": ["a", "b", "a"],
                                                 "male": [True, False, None]}))
    with pytest.raises(nr.NNRecipeError, match="must be unique; got 'a' more than once"):
        as_arrow(pd.DataFrame([[1, 2]], columns=["a", "a"]))


def test_scikit_learn_column_transformer_is_the_oracle():
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder
    rng = np.random.default_rng(5)
    n = 200
    num = {f"x{j}": np.where(rng.random(n) < 0.1 * j, np.nan, rng.normal(size=n) * 10 ** j) for j in range(4)}
    cat = {f"c{j}": rng.choice(["ab", "cd", "ef", "gh"][:j + 2], size=n) for j in range(3)}
    table = {**num, **cat}
    train = rng.permutation(n)[:150]
    pre = TablePreprocessor(min_level_count=1).fit(table, rows=train)
    oracle = ColumnTransformer([("num", SimpleImputer(strategy="median", add_indicator=True), list(range(4))),
                                ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), [4, 5, 6])])
    A = np.empty((n, 7), object)
    for j, column in enumerate(table.values()):
        A[:, j] = column
    oracle.fit(A[train])
    expected = oracle.transform(A).astype(np.float64)
    names = ([f"x{j}" for j in range(4)] + [f"x{j} missing" for j in range(1, 4)]
             + [f"c{j}={v}" for j, c in enumerate(oracle.named_transformers_["cat"].categories_) for v in c])
    assert sorted(pre.feature_names_out_) == sorted(names)
    np.testing.assert_array_equal(pre.transform(table), expected[:, [names.index(f) for f in pre.feature_names_out_]])


def test_unsupported_types_are_dropped_with_the_reason():
    pre = TablePreprocessor(min_level_count=1).fit({"l": pa.array([[1], [2, 3], []]), "x": [1.0, 2.0, 3.0],
                                                    "b": pa.array([b"u", b"v", b"u"])})
    by = {d["column"]: d for d in pre.decisions_}
    assert (by["l"]["kind"], by["l"]["action"]) == ("unsupported", "dropped")
    assert "list<item: int64>" in by["l"]["reason"]
    assert pre.feature_names_out_ == ["x", "b=u", "b=v"]

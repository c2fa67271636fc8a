"""Reading and writing data files: round trips, one-hot encoding, missing values, image folders,
and every bad input raising NNRecipeError with a message that says what was wrong."""

import numpy as np
import pytest
from PIL import Image

from nnrecipe.data.io import Table, read_data, read_table, write_data
from nnrecipe.errors import NNRecipeError

SUFFIXES = [".csv", ".parquet", ".npz", ".mat"]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(12, 3)), rng.integers(0, 3, size=12)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_classes(tmp_path, data, suffix):
    X, y = data
    path = tmp_path / f"d{suffix}"
    write_data(path, X, y)
    table = read_data(path, "y")
    assert isinstance(table, Table) and table.test is None
    np.testing.assert_array_equal(table.X, X)
    np.testing.assert_array_equal(table.y, y)
    assert table.X.dtype == np.float64 and table.y.dtype == np.int64
    assert table.features == ["x0", "x1", "x2"] and table.classes == [0, 1, 2]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_regression_and_names(tmp_path, data, suffix):
    X, _ = data
    y = X @ [1.0, -2.0, 0.5] + 0.1
    path = tmp_path / f"r{suffix}"
    write_data(path, X, y, features=["a", "b", "c"], target="price")
    X2, y2, features, classes, test = read_data(path, "price")
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert classes is None and test is None
    assert features == (["a", "b", "c"] if suffix in (".csv", ".parquet") else ["x0", "x1", "x2"])


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npz"])
def test_text_labels_become_sorted_classes(tmp_path, data, suffix):
    X, y = data
    labels = np.array(["eel", "cat", "dog"])[y]
    write_data(tmp_path / f"t{suffix}", X, labels, target="kind")
    table = read_data(tmp_path / f"t{suffix}", "kind")
    assert table.classes == ["cat", "dog", "eel"]
    np.testing.assert_array_equal(np.array(table.classes)[table.y], labels)


def test_npz_and_mat_default_target_is_y(tmp_path, data):
    X, y = data
    for suffix in (".npz", ".mat"):
        write_data(tmp_path / f"d{suffix}", X, y)
        np.testing.assert_array_equal(read_data(tmp_path / f"d{suffix}").y, y)


def test_csv_columns_in_file_order_target_anywhere(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,label,b\n1,yes,2.5\n3,no,-4\n")
    X, y, features, classes, _ = read_data(path, "label")
    np.testing.assert_array_equal(X, [[1.0, 2.5], [3.0, -4.0]])
    assert features == ["a", "b"] and classes == ["no", "yes"] and y.tolist() == [1, 0]


def test_onehot_known_values(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("size,colour,label\n1,red,0\n2,blue,1\n3,red,1\n4,green,0\n")
    table = read_data(path, "label", categorical="onehot")
    assert table.features == ["size", "colour=blue", "colour=green", "colour=red"]
    np.testing.assert_array_equal(table.X, [[1, 0, 0, 1], [2, 1, 0, 0], [3, 0, 0, 1], [4, 0, 1, 0]])
    assert table.X.dtype == np.float64


def test_onehot_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"c": ["b", "a", "b"], "x": [0.5, 1.5, 2.5], "y": [0, 1, 0]}), tmp_path / "d.parquet")
    table = read_data(tmp_path / "d.parquet", "y", categorical="onehot")
    assert table.features == ["c=a", "c=b", "x"]
    np.testing.assert_array_equal(table.X, [[0, 1, 0.5], [1, 0, 1.5], [0, 1, 2.5]])


def test_text_column_needs_onehot(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,colour,label\n1,red,0\n2,blue,1\n")
    with pytest.raises(NNRecipeError, match=r"feature column 'colour' must be numeric.*categorical='onehot'") as info:
        read_data(path, "label")
    assert "(CLI --onehot)" in str(info.value) and "--categorical" not in str(info.value)   # the real flag


def test_missing_target_column_lists_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,0\n")
    with pytest.raises(NNRecipeError, match=r"target must name a column of d.csv; got 'nope' \(columns: a, b, label\)"):
        read_data(path, "nope")
    with pytest.raises(NNRecipeError, match="target must name the label column"):
        read_data(path)


def test_nan_in_features(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,0\n2,nan,1\n3,,1\n4,5,\n6,7,1\n")
    with pytest.raises(NNRecipeError, match=r"feature column 'b' must be finite.*row 1 \(line 3.*drop_nan=True"):
        read_data(path, "label")
    X, y, *_ = read_data(path, "label", drop_nan=True)  # the last three bad rows go, target-less one too
    np.testing.assert_array_equal(X, [[1, 2], [6, 7]])
    np.testing.assert_array_equal(y, [0, 1])


def test_inf_and_missing_target(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,label\n1,0\ninf,1\n")
    with pytest.raises(NNRecipeError, match="feature column 'a' must be finite.*got inf at row 1"):
        read_data(path, "label")
    path.write_text("a,label\n1,cat\n2,\n")
    with pytest.raises(NNRecipeError, match="target 'label' must not be missing.*row 1"):
        read_data(path, "label")
    assert read_data(path, "label", drop_nan=True).classes == ["cat"]
    np.savez(tmp_path / "d.npz", X=np.ones((3, 1)), y=np.array([0.0, 1.0, np.nan]))
    with pytest.raises(NNRecipeError, match=r"target 'y' must not be missing; got nan at row 2"):   # not np.float64(nan)
        read_data(tmp_path / "d.npz")


def test_nan_in_npz(tmp_path):
    X = np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, 4.0]])
    write_data(tmp_path / "d.npz", X, [0, 1, 0])
    with pytest.raises(NNRecipeError, match="feature column 'x0' must be finite.*row 1 of d.npz"):
        read_data(tmp_path / "d.npz")
    table = read_data(tmp_path / "d.npz", drop_nan=True)
    np.testing.assert_array_equal(table.X, X[[0, 2]])


def test_onehot_drop_nan_drops_before_encoding(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("c,x,label\nred,1,0\nblue,,1\ngreen,3,1\n")
    table = read_data(path, "label", categorical="onehot", drop_nan=True)
    assert table.features == ["c=green", "c=red", "x"]  # blue only sat in the dropped row


def test_all_rows_dropped_and_empty_tables(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,label\nnan,0\n")
    with pytest.raises(NNRecipeError, match="at least one complete row"):
        read_data(path, "label", drop_nan=True)
    path.write_text("a,label\n")
    with pytest.raises(NNRecipeError, match="at least one data row"):
        read_data(path, "label")
    path.write_text("")
    with pytest.raises(NNRecipeError, match="d.csv, which is empty"):
        read_data(path, "label")
    path.write_text("label\n0\n")
    with pytest.raises(NNRecipeError, match="feature column besides 'label'"):
        read_data(path, "label")


def test_ragged_csv_names_the_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,label\n1,0\n2,1\n3\n")
    with pytest.raises(NNRecipeError, match="every row must have 2 fields; line 4 does not"):
        read_data(path, "label")


def test_bad_arguments_and_paths(tmp_path, data):
    X, y = data
    write_data(tmp_path / "d.csv", X, y)
    with pytest.raises(NNRecipeError, match="categorical must be None or 'onehot'; got 'ordinal'"):
        read_data(tmp_path / "d.csv", "y", categorical="ordinal")
    with pytest.raises(NNRecipeError, match="path must be an existing file or image folder; got"):
        read_data(tmp_path / "missing.csv", "y")
    (tmp_path / "d.xlsx").write_text("nope")
    with pytest.raises(NNRecipeError, match=r"path must be a .csv, .parquet.*got .xlsx"):
        read_data(tmp_path / "d.xlsx", "y")
    with pytest.raises(NNRecipeError, match="image_size must be None for a file"):
        read_data(tmp_path / "d.csv", "y", image_size=(8, 8))


def test_corrupt_files(tmp_path):
    for suffix in (".parquet", ".npz", ".mat"):
        for junk in (b"this is not a data file at all", bytes(range(1, 256)) * 4, b"PK\x03\x04" + b"x" * 200):
            (tmp_path / f"bad{suffix}").write_bytes(junk)
            with pytest.raises(NNRecipeError, match=f"bad{suffix} could not be read"):
                read_data(tmp_path / f"bad{suffix}", "y")


def test_npz_rules(tmp_path):
    np.savez(tmp_path / "k.npz", features=np.ones((2, 2)), y=[0, 1])
    with pytest.raises(NNRecipeError, match=r"must hold arrays 'X' and 'y'.*got features, y"):
        read_data(tmp_path / "k.npz")
    np.savez(tmp_path / "o.npz", X=np.array([[1], [2]], dtype=object), y=[0, 1])
    with pytest.raises(NNRecipeError, match="without pickle"):
        read_data(tmp_path / "o.npz")
    np.savez(tmp_path / "l.npz", X=np.ones((3, 2)), y=[0, 1])
    with pytest.raises(NNRecipeError, match="the same length; got 3 and 2 rows"):
        read_data(tmp_path / "l.npz")
    np.save(tmp_path / "a.npy", np.ones(3))
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")
    with pytest.raises(NNRecipeError, match="holds a single array"):
        read_data(tmp_path / "a.npz")
    np.savez(tmp_path / "c.npz", X=np.ones((2, 2)), y=np.array([[0], [1]]))  # a column vector is fine
    assert read_data(tmp_path / "c.npz").y.tolist() == [0, 1]


def test_read_table_is_the_cli_alias(tmp_path, data):
    X, y = data
    write_data(tmp_path / "d.csv", X, y)
    X2, y2, features, classes = read_table(tmp_path / "d.csv", "y")
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert features == ["x0", "x1", "x2"] and classes == [0, 1, 2]
    with pytest.raises(NNRecipeError, match="--target must name a column"):
        read_table(tmp_path / "d.csv", "nope")
    with pytest.raises(NNRecipeError, match="DATA must be a bundled dataset name or an existing file"):
        read_table(tmp_path / "nothing", None)


# ---------------------------------------------------------------- image folders

def _image_folder(root, mode, sizes=((6, 4),), per_class=2):
    """root/<class>/<i>.png; pixel values depend on class and index. Returns the expected arrays."""
    rng = np.random.default_rng(1)
    expected = []
    for k, name in enumerate(["cat", "dog"]):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            h, w = sizes[(k * per_class + i) % len(sizes)]
            pixels = rng.integers(0, 256, size=(h, w) if mode == "L" else (h, w, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
            expected.append(pixels)
    return expected


@pytest.mark.parametrize("mode, shape", [("L", (4, 6, 4)), ("RGB", (4, 6, 4, 3))])
def test_image_folder_round_trip(tmp_path, mode, shape):
    expected = _image_folder(tmp_path / "imgs", mode)
    X, y, features, classes, test = read_data(tmp_path / "imgs")
    assert X.shape == shape and X.dtype == np.uint8 and test is None
    np.testing.assert_array_equal(X, np.stack(expected))
    assert y.tolist() == [0, 0, 1, 1] and y.dtype == np.int64 and classes == ["cat", "dog"]
    assert len(features) == np.prod(shape[1:]) and features[0].startswith("pixel_0_0")


def test_image_folder_grey_and_colour_mix_to_rgb(tmp_path):
    root = tmp_path / "imgs"
    _image_folder(root, "RGB", per_class=1)
    Image.fromarray(np.full((6, 4), 7, np.uint8)).save(root / "cat" / "grey.png")
    X = read_data(root).X
    assert X.shape == (3, 6, 4, 3)
    np.testing.assert_array_equal(X[1], 7)  # "grey.png" sorts after "0.png" in cat


def test_image_folder_mixed_sizes(tmp_path):
    _image_folder(tmp_path / "imgs", "L", sizes=((6, 4), (5, 4)))
    with pytest.raises(NNRecipeError, match=r"same size.*cat/1.png is \(5, 4\)"):
        read_data(tmp_path / "imgs")
    X = read_data(tmp_path / "imgs", image_size=(3, 2)).X
    assert X.shape == (4, 3, 2)


def test_image_folder_skips_hidden_and_non_image_files(tmp_path):
    root = tmp_path / "imgs"
    expected = _image_folder(root, "L")
    (root / "dog" / "readme.txt").write_text("not an image")
    (root / "cat" / "NOTES").write_text("no extension")
    (root / "cat" / ".DS_Store").write_bytes(b"\0\1junk")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "0.png").write_bytes(b"junk")
    with pytest.warns(UserWarning, match=r"^skipped 2 file\(s\) of imgs that are not images \(by their extension\): "
                                          r"cat/NOTES, dog/readme.txt$") as record:
        X, y, _, classes, _ = read_data(root)
    assert len(record) == 1 and classes == ["cat", "dog"] and y.tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(X, np.stack(expected))
    (root / "cat" / "1.png").unlink()
    (root / "cat" / "0.png").unlink()
    with pytest.raises(NNRecipeError, match="'cat' holds none"):
        read_data(root)                                              # only NOTES is left in cat


def test_image_folder_errors(tmp_path):
    root = tmp_path / "imgs"
    _image_folder(root, "L")
    (root / "dog" / "notes.png").write_text("not an image")          # an image by name: unreadable is an error
    with pytest.raises(NNRecipeError, match="dog/notes.png is not"):
        read_data(root)
    (root / "dog" / "notes.png").unlink()
    with pytest.raises(NNRecipeError, match="task must be 'auto' or 'classify' for an image folder"):
        read_data(root, task="regress")
    with pytest.raises(NNRecipeError, match=r"image_size must be None or \(height, width\)"):
        read_data(root, image_size=(0, 3))
    with pytest.raises(NNRecipeError, match="target must be None for an image folder"):
        read_data(root, "label")
    (tmp_path / "flat").mkdir()
    with pytest.raises(NNRecipeError, match="one subfolder per class"):
        read_data(tmp_path / "flat")
    (tmp_path / "flat" / "empty").mkdir()
    with pytest.raises(NNRecipeError, match="'empty' holds none"):
        read_data(tmp_path / "flat")


# ---------------------------------------------------------------- writing

def test_write_replaces_existing_file(tmp_path, data):
    X, y = data
    path = tmp_path / "d.npz"
    write_data(path, X, y)
    write_data(path, X[:3], y[:3])
    assert len(read_data(path).X) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]


@pytest.mark.parametrize("module, name, suffix", [("pyarrow.csv", "write_csv", ".csv"),
                                                   ("numpy", "savez", ".npz")])
def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch, data, module, name, suffix):
    import importlib
    X, y = data
    old = tmp_path / f"old{suffix}"
    write_data(old, X, y)
    before = old.read_bytes()

    def half_write(*args, **kwargs):
        next(a for a in args if hasattr(a, "write")).write(b"half a file")
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(importlib.import_module(module), name, half_write)
    for target in (tmp_path / f"new{suffix}", old):
        with pytest.raises(RuntimeError, match="disk on fire"):
            write_data(target, X, y)
    assert [p.name for p in tmp_path.iterdir()] == [old.name] and old.read_bytes() == before


def test_write_bad_input(tmp_path, data):
    X, y = data
    with pytest.raises(NNRecipeError, match="path must be a .csv, .parquet"):
        write_data(tmp_path / "d.txt", X, y)
    with pytest.raises(NNRecipeError, match="existing folder"):
        write_data(tmp_path / "no" / "d.csv", X, y)
    with pytest.raises(NNRecipeError, match=r"y must be 1-D with one value per row of X \(12\)"):
        write_data(tmp_path / "d.csv", X, y[:5])
    with pytest.raises(NNRecipeError, match="features must be 3 names"):
        write_data(tmp_path / "d.csv", X, y, features=["a"])
    with pytest.raises(NNRecipeError, match="distinct names"):
        write_data(tmp_path / "d.csv", X, y, features=["a", "b", "y"])
    with pytest.raises(NNRecipeError, match="MATLAB variable name"):
        write_data(tmp_path / "d.mat", X, y, target="my-label")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- task: classes or regression (audit #4)

def _labels_csv(path, labels):
    path.write_text("a,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(labels)))
    return path


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_whole_numbers_follow_the_recipes_rule(tmp_path, suffix):
    """task="auto" is the recipe's rule (data/task.py): 30 whole numbers of 3 rows each are a score to
    regress, 30 of 20 rows each are classes; "classify" and "regress" say it outright."""
    rng = np.random.default_rng(0)
    few = rng.permutation(np.repeat(np.arange(30), 3))                   # 30 values, 3 rows each
    write_data(tmp_path / f"k30{suffix}", np.arange(90.0)[:, None], few, target="label")
    table = read_data(tmp_path / f"k30{suffix}", "label")
    assert table.classes is None and table.y.dtype == np.float64
    np.testing.assert_array_equal(table.y, few)
    classes = read_data(tmp_path / f"k30{suffix}", "label", task="classify")
    assert classes.classes == list(range(30)) and classes.y.dtype == np.int64
    many = rng.permutation(np.repeat(np.arange(30), 20))                 # 30 values, 20 rows each
    write_data(tmp_path / f"m30{suffix}", np.arange(600.0)[:, None], many, target="label")
    table = read_data(tmp_path / f"m30{suffix}", "label")
    assert table.classes == list(range(30)) and table.y.dtype == np.int64
    np.testing.assert_array_equal(table.y, many)
    regress = read_data(tmp_path / f"m30{suffix}", "label", task="regress")
    assert regress.classes is None and regress.y.dtype == np.float64


def test_read_data_and_the_recipe_call_a_target_the_same(tmp_path):
    """Diabetes progression (214 distinct whole numbers in 442 rows): a regression for both readers."""
    from sklearn.datasets import load_diabetes
    from nnrecipe.recipe.target import read_target
    d = load_diabetes(scaled=False)
    write_data(tmp_path / "d.csv", d.data, d.target.astype(int), target="progression")
    table = read_data(tmp_path / "d.csv", "progression")
    assert table.classes is None
    assert read_target(d.target.astype(int), len(d.target)).regression


def test_task_auto_classify_regress(tmp_path):
    floats = _labels_csv(tmp_path / "f.csv", [0.5, 1.0, 2.25])
    assert read_data(floats, "label").classes is None                                  # a fraction: regression
    whole = _labels_csv(tmp_path / "w.csv", [3.0, 7.0, 3.0])
    assert read_data(whole, "label").classes == [3, 7]
    assert read_data(whole, "label", task="classify").classes == [3, 7]
    assert read_table(whole, "label", task="regress")[3] is None
    text = _labels_csv(tmp_path / "t.csv", ["cat", "dog", "cat"])
    assert read_data(text, "label", task="classify").classes == ["cat", "dog"]


@pytest.mark.parametrize("labels, task, pattern", [
    ([0.5, 1.0, 2.25], "classify", (r"^target 'label' must hold whole-number class labels for task='classify' "
                                    r"\(CLI --task classify\); got 0.5 at row 0")),
    (["cat", "dog", "cat"], "regress", (r"^target 'label' must be numeric for task='regress' \(CLI --task regress\); "
                                        r"got text such as 'cat'$")),
])
def test_task_that_does_not_fit_the_target(tmp_path, labels, task, pattern):
    with pytest.raises(NNRecipeError, match=pattern):
        read_data(_labels_csv(tmp_path / "d.csv", labels), "label", task=task)


@pytest.mark.parametrize("task", ["classes", None, "Classify", 1])
def test_bad_task(tmp_path, task):
    with pytest.raises(NNRecipeError, match=r"^task must be 'auto', 'classify' or 'regress'"):
        read_data(_labels_csv(tmp_path / "d.csv", [0, 1]), "label", task=task)


def test_two_column_target_is_regression_unless_classify(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.ones((3, 2)), y=np.arange(6.0).reshape(3, 2))
    assert read_data(tmp_path / "d.npz").y.shape == (3, 2)
    with pytest.raises(NNRecipeError, match=r"^target 'y' must be 1-D \(one label per row\) for task='classify'"):
        read_data(tmp_path / "d.npz", task="classify")


def test_read_data_takes_a_table_in_memory():
    import nnrecipe as nr
    columns = {"a": [1.0, 2.0, 3.0, 4.0], "c": ["x", "y", "x", "y"], "label": ["p", "q", "p", "q"]}
    t = nr.read_data(columns, "label", categorical="onehot")
    np.testing.assert_array_equal(t.X, [[1, 1, 0], [2, 0, 1], [3, 1, 0], [4, 0, 1]])
    assert t.y.tolist() == [0, 1, 0, 1] and t.features == ["a", "c=x", "c=y"] and t.classes == ["p", "q"]
    import pyarrow as pa
    assert nr.read_data(pa.table(columns), "label", categorical="onehot").features == t.features
    with pytest.raises(nr.NNRecipeError, match="target must be the name of the table's label column; got None"):
        nr.read_data(columns)
    with pytest.raises(nr.NNRecipeError, match="path must be a pyarrow Table, a pandas DataFrame"):
        nr.read_data(42, "label")

"""csnlp.spark in local[2] mode: results equal the library's own.

Needs PySpark (the ``spark`` extra, part of ``dev``) and Java; skips with the reason when either is missing.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

pyspark = pytest.importorskip("pyspark", reason="PySpark is not installed: pip install -e '.[spark]'")
pytest.importorskip("pyarrow", reason="pyarrow is not installed: pip install -e '.[spark]'")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("no Java runtime on this machine: Spark needs one", allow_module_level=True)

import csnlp  # noqa: E402
from csnlp.spark import add_decisions, add_intents  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # stay on loopback
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers must see this environment's csnlp
    session = (
        SparkSession.builder.master("local[2]").appName("csnlp-test")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_decisions_equal_the_library(spark, fitted_clf, tmp_path, heldout):
    path = csnlp.save(csnlp.Router(fitted_clf), tmp_path / "router.zip")
    texts = [t for t, _ in heldout] + ["转人工", "😂", "我要投诉，不处理就打12315"]
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id long, text string")
    rows = sorted(add_decisions(df, str(path)).collect(), key=lambda r: r["id"])
    expected = csnlp.Router(fitted_clf).route_many(texts)
    assert [r["action"] for r in rows] == [d.action for d in expected]
    assert [r["reason"] for r in rows] == [d.reason for d in expected]
    assert [r["intent"] for r in rows] == [d.intent for d in expected]
    assert [r["confidence"] for r in rows] == pytest.approx([d.confidence for d in expected], abs=1e-6)
    intents = sorted(add_intents(df, str(path)).collect(), key=lambda r: r["id"])
    assert [r["intent"] for r in intents] == [str(x) for x in fitted_clf.predict(texts)]


def test_missing_text_column_is_a_clear_error(spark, fitted_clf, tmp_path):
    path = csnlp.save(fitted_clf, tmp_path / "m.zip")
    df = spark.createDataFrame([(1, "a")], "id long, message string")
    with pytest.raises(csnlp.InputError, match="no column 'text'"):
        add_intents(df, str(path))

"""csnlp.tokenizer: a private jieba dictionary per tokenizer; picklable, clone-able, quiet."""

from __future__ import annotations

import copy
import logging
import os
import pickle
import stat
import subprocess
import sys
import textwrap
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from csnlp import DataFormatError, InputError, JiebaTokenizer, normalize
from csnlp.tokenizer import read_user_dict


def _run_python(code: str, env_extra: dict, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, **env_extra)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tokens_join_back_to_the_text():
    tok = JiebaTokenizer()
    text = normalize("我的快遞怎麼還沒到？？ 訂單 123 ok")
    tokens = tok.tokenize(text)
    assert "".join(tokens) == text
    assert "快递" in tokens
    assert all(tokens)


def test_placeholders_wechat_codes_and_emoji_stay_whole():
    tok = JiebaTokenizer()
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
    text = f"退<PHONE>货[微笑]好评👍🏻谢谢{family}🇨🇳<ORDER_NO>"
    tokens = tok.tokenize(text)
    for whole in ("<PHONE>", "[微笑]", "👍🏻", family, "🇨🇳", "<ORDER_NO>"):
        assert whole in tokens
    assert "".join(tokens) == text


def test_one_character_words_are_tokens():
    assert "退" in JiebaTokenizer()("退<MONEY>")


def test_user_words_change_segmentation_without_leaking():
    plain_before = JiebaTokenizer()
    assert plain_before.tokenize("运费险怎么赔") == ["运费", "险", "怎么", "赔"]

    custom = JiebaTokenizer(user_words=["运费险", ("七天无理由", 1000, "n")])
    assert custom.tokenize("运费险怎么赔") == ["运费险", "怎么", "赔"]
    assert "七天无理由" in custom.tokenize("七天无理由退货")

    # neither a tokenizer made before nor one made after sees the user words
    plain_after = JiebaTokenizer()
    assert plain_before.tokenize("运费险怎么赔") == ["运费", "险", "怎么", "赔"]
    assert plain_after.tokenize("运费险怎么赔") == ["运费", "险", "怎么", "赔"]
    assert "七天无理由" not in plain_after.tokenize("七天无理由退货")
    # a tokenizer with other user words does not see them either
    other = JiebaTokenizer(user_words=["京东白条"])
    assert "运费险" not in other.tokenize("运费险怎么赔")
    assert "京东白条" in other.tokenize("用京东白条付款")
    assert "京东白条" not in custom.tokenize("用京东白条付款")


def test_stop_words_removed_by_call_only():
    tok = JiebaTokenizer(stop_words=["的", "了"])
    assert tok.tokenize("我的退货了") == ["我", "的", "退货", "了"]
    assert tok("我的退货了") == ["我", "退货"]


def test_call_drops_white_space_tokenize_keeps_it():
    tok = JiebaTokenizer()
    assert " " in tok.tokenize("我 要 退货")
    assert tok("我 要 退货") == ["我", "要", "退货"]


def test_pickle_round_trip_keeps_behaviour():
    tok = JiebaTokenizer(user_words=["运费险"], stop_words=["的"], hmm=False)
    tok.tokenize("先用一次")  # builds the jieba dictionary, which must not be pickled
    data = pickle.dumps(tok)
    assert len(data) < 10_000  # the dictionary itself is not in the pickle
    restored = pickle.loads(data)
    assert restored == tok
    assert restored.tokenize("运费险的钱") == tok.tokenize("运费险的钱")
    assert restored("运费险的钱") == ["运费险", "钱"]


def test_deepcopy_and_sklearn_clone():
    tok = JiebaTokenizer(user_words=["运费险"])
    tok.tokenize("先用一次")
    copied = copy.deepcopy(tok)
    assert copied.tokenize("运费险怎么赔") == ["运费险", "怎么", "赔"]
    cloned = clone(tok)
    assert cloned.get_params() == tok.get_params()
    assert cloned.tokenize("运费险怎么赔") == ["运费险", "怎么", "赔"]


def test_set_params_rebuilds_the_dictionary():
    tok = JiebaTokenizer()
    assert tok.tokenize("运费险") == ["运费", "险"]
    tok.set_params(user_words=["运费险"])
    assert tok.tokenize("运费险") == ["运费险"]
    with pytest.raises(ValueError, match="unknown parameter 'foo'"):
        tok.set_params(foo=1)


def test_repr_does_not_dump_the_word_list():
    assert repr(JiebaTokenizer(user_words=["a" + str(i) for i in range(1000)])) == (
        "JiebaTokenizer(user_words=<1000 words>, hmm=True)"
    )


@pytest.mark.parametrize("bad", [None, 42, b"bytes"])
def test_tokenize_refuses_non_str(bad):
    with pytest.raises(InputError, match="text must be str"):
        JiebaTokenizer().tokenize(bad)


@pytest.mark.parametrize(
    ("user_words", "match"),
    [
        ("运费险", "single str"),
        ([42], "must be str or"),
        (["运 费险"], "white space"),
        ([""], "empty"),
    ],
)
def test_bad_user_words(user_words, match):
    tok = JiebaTokenizer(user_words=user_words)  # __init__ only stores
    with pytest.raises(InputError, match=match):
        tok.tokenize("退货")


def test_read_user_dict(tmp_path):
    path = tmp_path / "user.txt"
    path.write_text("\ufeff# product names\n运费险 1000 n\n\n七天无理由\n京东白条 50\n", encoding="utf-8")
    words = read_user_dict(path)
    assert words == [("运费险", 1000, "n"), ("七天无理由", None, None), ("京东白条", 50, None)]
    tok = JiebaTokenizer(user_words=words)
    assert tok.tokenize("运费险") == ["运费险"]


def test_read_user_dict_error_names_file_and_line(tmp_path):
    path = tmp_path / "user.txt"
    path.write_text("运费险 1000 n\n七天无理由 10\n京东白条 lots n\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"user\.txt line 3: frequency 'lots' is not a whole number"):
        read_user_dict(path)


def test_read_user_dict_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_user_dict(tmp_path / "nope.txt")


def test_first_use_prints_nothing_in_process(capfd, caplog):
    # unique user words force a new jieba dictionary to be built in this process
    caplog.set_level(logging.DEBUG)
    word = "测试词" + uuid.uuid4().hex[:6]
    tok = JiebaTokenizer(user_words=[word])
    assert tok.tokenize(f"我要{word}") == ["我要", word]
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""
    # jieba's handler may hold a stream captured earlier; its records would also reach the root logger
    assert [r.getMessage() for r in caplog.records if r.name.startswith("jieba")] == []


def test_first_use_in_a_fresh_process_prints_nothing(tmp_path):
    # an empty cache directory: jieba builds its dictionary and writes its cache, the chattiest path
    cache = tmp_path / "cache"
    result = _run_python(
        """
        from csnlp import JiebaTokenizer
        print("|".join(JiebaTokenizer().tokenize("我要退货")))
        """,
        {"CSNLP_CACHE_DIR": str(cache)},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "我要|退货\n"
    assert result.stderr == ""
    assert any(cache.iterdir())  # the cache was written where it was told


def test_read_only_cache_dir_still_works(tmp_path):
    read_only = tmp_path / "ro-cache"
    read_only.mkdir()
    read_only.chmod(stat.S_IRUSR | stat.S_IXUSR)
    fallback = tmp_path / "xdg"  # where the per-user cache falls back to; kept out of the real home
    try:
        result = _run_python(
            """
            from csnlp import JiebaTokenizer
            print("|".join(JiebaTokenizer().tokenize("运费险怎么赔")))
            """,
            {"CSNLP_CACHE_DIR": str(read_only), "XDG_CACHE_HOME": str(fallback)},
            tmp_path,
        )
    finally:
        read_only.chmod(stat.S_IRWXU)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "运费|险|怎么|赔\n"
    assert result.stderr == ""
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root may write into a read-only directory
        assert list(read_only.iterdir()) == []


def test_unusable_cache_dir_still_works(tmp_path):
    # CSNLP_CACHE_DIR below a regular file can never be created
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = _run_python(
        """
        from csnlp import JiebaTokenizer
        print("|".join(JiebaTokenizer().tokenize("我要退货")))
        """,
        {"CSNLP_CACHE_DIR": str(blocker / "cache"), "XDG_CACHE_HOME": str(tmp_path / "xdg")},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "我要|退货\n"
    assert result.stderr == ""


def test_unwritable_cache_dir_that_passes_access_check_is_silent(tmp_path):
    # Simulates a directory that os.access() reports writable but where creating a file fails (EROFS),
    # which is what root sees on some read-only or network file systems.
    cache = tmp_path / "cache"
    result = _run_python(
        f"""
        import errno, tempfile
        _real = tempfile.mkstemp
        def _read_only_fs(*args, dir=None, **kwargs):
            if dir is not None and str(dir).startswith({str(cache)!r}):
                raise OSError(errno.EROFS, "Read-only file system", str(dir))
            return _real(*args, dir=dir, **kwargs)
        tempfile.mkstemp = _read_only_fs
        from csnlp import JiebaTokenizer
        print("|".join(JiebaTokenizer().tokenize("我要退货")))
        """,
        {"CSNLP_CACHE_DIR": str(cache)},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "我要|退货\n"
    assert result.stderr == ""


_CHAT = st.lists(st.sampled_from(list("我要退货快递到哪了在吗你好谢谢ab12 .,!？。[]<>微笑PHONE\t\r\n")
                                 + ["<PHONE>", "[微笑]", "😀", "运费险"]), max_size=20).map("".join)


_MANY_TOKENIZERS = [JiebaTokenizer(user_words=["运费险"], stop_words=["的"], hmm=False), JiebaTokenizer()]


@settings(max_examples=150, deadline=None)
@given(st.lists(_CHAT, max_size=12), st.sampled_from(_MANY_TOKENIZERS))
def test_tokens_many_equals_one_by_one(texts, tok):
    # (module-level tokenizers: a user dictionary is built once, not per example)
    assert tok.tokens_many(texts) == [tok(t) for t in texts]

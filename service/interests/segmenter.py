"""Keywords of a text: jieba's TF-IDF extraction (its own IDF table), nouns and verbs only, then our stop words.

jieba loads its dictionary (about 1 s and 50 MB) on first use, once per process: only the worker extracts, the API
reads the tables the job fills. A text gives at most KEYWORDS_PER_TEXT tags, each 2-12 characters, never a number,
a stop word or punctuation; Latin words are lower-cased. Limits (docs/interests.md): a dictionary tokenizer misses
new slang and splits some names; part-of-speech tags are guesses (HOBBIES below pins common ones); irony and
negation ("不喜欢跑步") still yield the word.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable

KEYWORDS_PER_TEXT = 5
MIN_LENGTH = 2
MAX_LENGTH = 12
# Nouns (common, other proper, place, organisation), verbal nouns, verbs and Latin words.
ALLOW_POS = ("n", "nz", "ns", "nt", "nw", "nr", "vn", "v", "eng")
# Words jieba's dictionary misses or tags as adverbs: kept whole, as nouns.
HOBBIES = (
    "徒步", "骑行", "露营", "撸猫", "手冲", "拿铁", "夜跑", "晨跑", "越野跑", "半马", "全马", "飞盘", "桨板", "攀岩",
    "冲浪", "潜水", "滑板", "剧本杀", "桌游", "烘焙", "插花", "手账", "健身", "普拉提", "瑜伽", "跑步", "咖啡",
)  # fmt: skip
STOP_WORDS = frozenset(
    """
    今天 明天 昨天 现在 时候 大家 我们 你们 他们 她们 自己 什么 怎么 怎么样 为什么 这个 那个 这些 那些 一个 一些
    没有 就是 还是 已经 可以 可能 应该 需要 觉得 知道 感觉 喜欢 希望 看看 看到 来说 出来 起来 开始 发现 时间 问题
    事情 东西 地方 办法 谢谢 哈哈 哈哈哈 好的 真的 其实 然后 但是 因为 所以 如果 虽然 还有 不过 一下 有点 一起
    欢迎 加入 分享 大伙 小伙伴 朋友 群友 社群 社区 帖子 评论 话题 回复 打卡 签到 报名 活动 参加 今天天气 天气
    推荐 请问 有没有 是不是 一点 这样 那样 这么 那么 里面 上面 下面 左右 之后 之前 以后 以前 一直 最近 每天 周末
    早上 晚上 中午 下午 上午 今晚 明晚 小时 分钟 公里 第一 第二 一次 两次 http https www com
    迷上 爱上 入坑 体验 尝试 开心 快乐 不错 带上 好喝 好吃 舒服 交流 学习 支持 参与 讨论 求推荐 感谢
    """.split()
)
_NUMERIC = re.compile(r"^[\d.,%０-９一二三四五六七八九十百千万两几第]+$")

log = logging.getLogger("service.interests")
_lock = threading.Lock()
_extract: Callable[..., list[str]] | None = None


def _load() -> Callable[..., list[str]]:
    """jieba, initialised once per process (the first job run pays for the dictionary)."""
    global _extract
    with _lock:
        if _extract is None:
            import jieba
            import jieba.analyse

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            for word in HOBBIES:
                jieba.add_word(word, freq=20000, tag="n")
            _extract = jieba.analyse.extract_tags
            log.info("jieba dictionary loaded")
    return _extract


def keep(word: str) -> bool:
    return (
        MIN_LENGTH <= len(word) <= MAX_LENGTH
        and word not in STOP_WORDS
        and not _NUMERIC.match(word)
        and any(ch.isalpha() for ch in word)
    )


def keywords(text: str) -> list[str]:
    """The text's keywords, most characteristic first (TF-IDF), at most KEYWORDS_PER_TEXT, without duplicates."""
    if not text or not text.strip():
        return []
    found: list[str] = []
    for word in _load()(text, topK=KEYWORDS_PER_TEXT * 3, allowPOS=ALLOW_POS):
        word = word.strip().lower()
        if keep(word) and word not in found:
            found.append(word)
        if len(found) == KEYWORDS_PER_TEXT:
            break
    return found

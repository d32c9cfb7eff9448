"""Which chat the AI answers on a busy stream: the whole service, on Trio time.

Generates a seeded, busy 10-minute stream (about 20 messages/s over YouTube and
Chzzk, English and Korean): ordinary chat from a few hundred viewers, a paid
message every 20 s on average in bursts of up to five within a minute, 15% spam
and bots (timers, !commands, links, a repeater, character runs, emoji-only) and
a few raids of one text from 30 new authors. The stream is fed through the real
service (router actor, pending buffer, console session speaking 6 s per turn)
by a monitor of its own, on a MockClock, so ten minutes take seconds. What each
event was meant to be (chat, paid or spam) is kept in a side table, and a ledger
listener reports what was dispatched: the share of paid messages, the spam that
got through, the age of messages at dispatch and how many authors were answered.

    python bench/selection.py --seed 1
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
import random
import statistics
import string
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import attrs
import trio
import trio.testing

from actors.app import Service, monitor_backoff
from actors.chat import Amount, Author, ChatEvent, Kind, Platform, Role
from actors.config import Config, parse_config
from actors.ledger import Fate
from actors.statuslog import StatusLog
from supervision import ChildContext, ChildSpec, Restart

REPO = Path(__file__).resolve().parent.parent
EPOCH = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
VTUBER_NAMES = ("Mira", "미라")
VIEWERS = 400
Key = tuple[str, str]  # (platform, message id)

# ---- what the viewers say ---------------------------------------------------------------------

PLACES = ("Manila", "Brazil", "Osaka", "Toronto", "Berlin", "Texas", "Sydney", "London", "Jakarta", "Chile", "Paris")
FOODS = ("ramen", "pizza", "tteokbokki", "sushi", "tacos", "fried chicken", "curry", "dumplings", "ice cream")
GAMES = ("Minecraft", "Tetris", "Mario Kart", "Overcooked", "Phasmophobia", "Stardew", "Apex", "Geoguessr")
EN_REACTIONS = ("lol", "LMAO", "KEKW", "W", "real", "fr", "true", "omg", "HAHAHA", "nooo", "LUL", "pog", "gg")
EN_LINES = (
    "that was so good", "chat is moving so fast", "the new model looks amazing", "love the background music",
    "audio is a bit quiet on my end", "this is my comfort stream", "she's cooking", "first time catching this live",
    "watching from work shh", "brb getting snacks", "ok I'm staying for this", "the timing was perfect",
    "that voice line got me", "best stream this week", "my cat is watching too", "good morning chat",
    "evening everyone", "chat be nice pls", "the AI is faster than me at this", "I can't stop laughing",
    "the lighting looks great today", "just got home from school", "somebody clip that", "the new outfit is so pretty",
    "she really said that", "I'm dying", "that was unexpected", "the music slaps", "my internet is lagging",
    "this is peak content", "I missed the start", "that laugh is contagious", "chat is wild today", "so wholesome",
    "the chat speed is insane", "I have school tomorrow but whatever", "this is better than TV", "ty mods",
    "{game} stream when", "I played {game} all weekend", "eating {food} while watching", "hello from {place}",
    "watching from {place}", "it's 3am in {place} lol", "greetings from {place}", "{food} sounds good right now",
)  # fmt: skip
EN_QUESTIONS = (
    "what game are we playing today?", "can you sing something?", "do you like cats?", "how was your day?",
    "what's your favorite food?", "will there be a karaoke stream?", "how do you remember names?", "do you dream?",
    "is this a new mic?", "what did I miss?", "when is the next collab?", "can you say hi to my sister?",
    "thoughts on pineapple pizza?", "what's your favorite song right now?", "how long have you been streaming?",
    "are you going to play horror games?", "what time is it for you?", "do you read every message?",
    "have you tried {food}?", "can we play {game} next time?", "have you ever been to {place}?",
    "what do you think of {food}?", "is {game} fun?", "do you like {food}", "how many languages do you speak",
)  # fmt: skip
EN_OPENERS = ("", "", "", "ok ", "honestly ", "lol ", "wait ", "ngl ", "omg ", "yo ", "guys ")
EN_TAILS = ("", "", "!", " lol", " 😂", " 💜", " haha", " fr", "!!", " 😭", " ngl")
EN_CALLS = ("Mira ", "mira ", "hi Mira, ", "@Mira ", "MIRA ")
KO_PLACES = ("부산", "대전", "제주", "인천", "광주", "수원", "도쿄", "LA", "캐나다")
KO_FOODS = ("떡볶이", "치킨", "라면", "피자", "김밥", "마라탕", "짜장면", "붕어빵", "삼겹살")
KO_REACTIONS = (
    "ㅋㅋㅋ",
    "ㅋㅋㅋㅋㅋ",
    "ㅎㅎ",
    "ㄹㅇㅋㅋ",
    "ㅠㅠ",
    "헐",
    "와 대박",
    "인정",
    "ㄱㅇㅇ",
    "ㅇㅈ",
    "미쳤다",
    "ㄷㄷ",
)
KO_LINES = (
    "오늘 날씨 추워요", "출근 전에 잠깐 보러 왔어요", "간식 먹으면서 보는 중", "새 의상 예쁘다", "아 귀여워",
    "채팅 빠르다", "퇴근하고 왔습니다", "오늘도 수고해요", "목소리 좋다", "배경음악 좋다", "노래방 컨텐츠 해주세요",
    "첫 방송 보러 왔어요", "우리 고양이도 같이 보는 중", "오늘 텐션 높다", "방송 일찍 켰네", "이거 진짜 웃기네",
    "소리 좀 작아요", "구독 박고 갑니다", "오늘 컨텐츠 좋다", "반응 빠르다", "모델 바뀐 거 같은데", "조명 예쁘다",
    "숙제하면서 보는 중", "방금 들어왔어요", "채팅 너무 빨라서 못 읽겠다", "오늘 방송 길게 해주세요",
    "방금 그거 클립 따야 됨", "웃음소리 중독된다", "오늘 레전드다", "내일 시험인데 보는 중", "{place}에서 보고 있어요",
    "{place} 사람 있나요", "오늘 저녁 {food} 먹었어요", "{food} 먹으면서 보는 중", "{food} 땡긴다",
    "{n}시간째 보는 중", "{n}번째 방송 보는 중", "알람 맞춰놓고 기다렸어요",
)  # fmt: skip
KO_QUESTIONS = (
    "오늘 뭐 해?", "밥 먹었어?", "좋아하는 음식 뭐야?", "MBTI 뭐야?", "영어도 해?", "잠은 자?", "나 기억해?",
    "다음 방송 언제에요?", "게임 언제 해요?", "배경음악 뭐에요?", "노래 불러줄 수 있어?", "오늘 기분 어때?",
    "비 오는 거 좋아해?", "무슨 게임 할 거야?", "{food} 좋아해?", "{place} 가봤어?", "몇 시까지 방송해요?",
    "합방 언제 해요?", "노래 뭐 좋아해?", "어떻게 채팅을 다 읽어?",
)  # fmt: skip
KO_OPENERS = ("", "", "아 ", "와 ", "진짜 ", "근데 ", "오 ", "헐 ")
KO_TAILS = ("", "", " ㅋㅋ", " ㅋㅋㅋ", "!!", "~", " ㅎㅎ", " ㅠㅠ", "ㅋㅋㅋㅋ")
KO_CALLS = ("미라 ", "미라야 ", "미라님 ")

# ---- what the paid messages say ------------------------------------------------------------------

USD = ("1.99", "2.00", "5.00", "5.00", "10.00", "20.00", "50.00", "100.00")
JPY = (200, 500, 1000, 2000, 10000)
KRW = (1000, 1000, 2000, 5000, 10000, 30000, 50000)
EN_PAID = (
    "hi Mira! first superchat, how's your day going?", "love the stream 💜", "greetings from {place}!",
    "small one but love the stream", "for the snack fund, buy some {food}", "Mira what's your favorite {food}?",
    "", "keep it up!", "Mira I've been watching since your debut, thank you for everything",
    "happy birthday Mira!!", "can you play {game} next week?", "sorry I missed last stream",
)  # fmt: skip
JP_PAID = ("ミラちゃんかわいい！", "がんばって！", "大阪から応援してます 🌸", "")
KO_PAID = (
    "미라 안녕하세요! 오늘 첫 후원이에요", "퇴근길에 미라 목소리 들으면서 힐링해요. 늘 고마워요",
    "미라야 생일 축하해!!", "{food} 사 먹어요 ㅋㅋ", "아까 그거 진짜 웃겼어요 ㅋㅋㅋㅋ 한번만 더 해주세요",
    "미라 오늘도 고마워요 💜",
    "노래 한 곡 부탁해요", "", "ㅋㅋㅋㅋㅋ", "{place}에서 응원합니다",
)  # fmt: skip

# ---- spam and bots --------------------------------------------------------------------------------

COMMANDS = ("!uptime", "!discord", "!song", "!followage", "!rules", "!sr never gonna give you up", "!points")
KO_COMMANDS = ("!노래", "!디코", "!업타임", "!규칙")
BOT_REPLIES = {
    "Nightbot": (
        "@{name} Mira has been live for 1 hour {n} minutes",
        "Mira's Discord: https://discord.gg/miraDemoFanClub",
        "@{name} has been following Mira for {n} days",
    ),
    "StreamElements": ("Now playing: Starlight Protocol (Mira original), by request", "@{name} you have {n}00 points"),
}
BOT_TIMERS = (
    ("Nightbot", 150.0, "Follow Mira on X for schedule updates: https://x.com/MiraAIVtuberDemo"),
    (
        "StreamElements",
        200.0,
        "💜 Join the Mira Fan Club for custom emotes → https://youtube.com/@MiraAIVtuberDemo/join",
    ),
    ("Nightbot", 240.0, "Reminder: be kind in chat, no spam or self-promo. Rules: !rules"),
)
LINK_SPAM = (
    ("FREE ROBUX 2026", False, "free robux http://x.example"),
    ("FREE ROBUX 2026", False, "FREE ROBUX at http://free-robux.example/claim 🎁 first 100 only!!"),
    ("moon_signals_vip", False, "earn $500/day with crypto signals 👉 http://moon-signals.example/vip"),
    ("vbucks giveaway", False, "check bit.ly/3mIrAfr33 for free vbucks"),
    ("grow your channel", False, "cheap followers and views at followers-cheap.xyz"),
    ("기프티콘나눔", True, "무료 기프티콘 받기 👉 gift-kr.example/claim"),
    ("부업문의", True, "하루 30만원 부업 문의 open-kakao.example/o/abc"),
)
REPEATS = ("MIRA PLEASE NOTICE ME", "미라 나 좀 봐줘", "read my message pls")
CHAR_RUNS = ("a", "ㅋ", "ㅠ", "w", "8", "?", "ㅎ")
EMOJI_ONLY = (
    "😂😂😂",
    "💜💜💜💜",
    "👏👏👏",
    "🔥🔥",
    "❤️❤️❤️",
    "🤣🤣🤣🤣",
    ":_miraHeart::_miraHeart:",
    "🫶",
    "😭😭",
    "🎉🎉🎉",
)
RAIDS = (  # (platform, texts): the same comparison key in every variant
    (Platform.CHZZK, ("ㅋㅋㅋㅋ", "ㅋㅋㅋㅋㅋㅋ", "ㅋㅋ", "ㅋㅋㅋㅋㅋㅋㅋㅋ", "ㅋㅋㅋ")),
    (Platform.YOUTUBE, ("KEKW", "kekw", "KEKW!!", "Kekw", "KEKW KEKW")),
    (Platform.YOUTUBE, ("PIXEL RAID", "pixel raid!!", "PIXEL RAID!!!", "Pixel raid")),
    (Platform.CHZZK, ("미라 안녕", "미라 안녕!!", "미라 안녕~", "미라안녕")),
)
RAIDERS = 30
NEW_VIEWERS = ((Platform.YOUTUBE, False), (Platform.CHZZK, True))  # (platform, korean) of a first-time payer
EN_HANDLE = (
    ("sleepy", "quiet", "hyper", "luna", "nova", "pixel", "tiny", "salty", "cosmic", "lazy", "happy", "neon", "retro"),
    ("otter", "fern", "byte", "draws", "kid", "fox", "panda", "toast", "wave", "moth", "cat", "bean", "ghost"),
)
KO_HANDLE = (
    ("새벽", "고양이", "감자", "치즈", "밤샘", "노래방", "서울", "딸기", "달빛", "푸딩", "별빛", "구름", "떡볶이"),
    ("세시", "집사", "튀김", "냥", "코더", "요정", "바라기", "토끼", "러버", "마스터", "한입", "곰", "덕후"),
)


@attrs.frozen
class Truth:
    """What the generator meant an event to be, kept beside it (never in it)."""

    category: str  # "chat", "paid" or "spam"
    kind: str  # finer: "chat", "question", "mention", "reaction"; "paid"; "command", "bot", "link", ...


@attrs.frozen
class Viewer:
    author: Author
    platform: Platform
    korean: bool


def bot_viewer(name: str, platform: Platform) -> Viewer:
    """A bot: a moderator of the channel, one account per platform."""
    return Viewer(Author(f"{name}-{platform.value}", name, frozenset({Role.MODERATOR})), platform, False)


@attrs.frozen
class Planned:
    at: float  # seconds from the start of the stream
    viewer: Viewer
    text: str
    truth: Truth
    amount: Amount | None = None


# ---- the stream -------------------------------------------------------------------------------


class StreamMaker:
    """Plans one stream from a seed: the same seed, the same stream."""

    def __init__(self, rng: random.Random, seconds: float) -> None:
        self.rng = rng
        self.seconds = seconds
        self.planned: list[Planned] = []
        self._names: set[str] = set()
        self.viewers = [self._viewer(i) for i in range(VIEWERS)]
        # Some viewers chat much more than others.
        self._weights = [rng.lognormvariate(0.0, 0.5) for _ in self.viewers]

    # ---- people

    def _viewer(self, i: int) -> Viewer:
        """Viewers 0-5 are moderators (the odd ones members too), 6-7 verified, 18% of the rest members."""
        rng = self.rng
        platform = Platform.YOUTUBE if rng.random() < 0.5 else Platform.CHZZK
        korean = rng.random() < (0.95 if platform is Platform.CHZZK else 0.25)
        roles: frozenset[Role] = frozenset()
        if i < 6:
            roles = frozenset({Role.MODERATOR, Role.MEMBER}) if i % 2 else frozenset({Role.MODERATOR})
        elif i < 8:
            roles = frozenset({Role.VERIFIED})
        elif rng.random() < 0.18:
            roles = frozenset({Role.MEMBER})
        return Viewer(Author(self._author_id(platform), self._name(korean), roles), platform, korean)

    def _author_id(self, platform: Platform) -> str:
        if platform is Platform.CHZZK:
            return f"{self.rng.getrandbits(128):032x}"
        return "UC" + "".join(self.rng.choices(string.ascii_letters + string.digits + "_-", k=22))

    def _name(self, korean: bool) -> str:
        first, second = KO_HANDLE if korean else EN_HANDLE
        sep = "" if korean else self.rng.choice(("_", "", "."))
        name = f"{self.rng.choice(first)}{sep}{self.rng.choice(second)}"
        while name in self._names:
            name += str(self.rng.randint(0, 9))
        self._names.add(name)
        return name

    def _someone(self) -> Viewer:
        return self.rng.choices(self.viewers, weights=self._weights)[0]

    def _new_viewer(self, platform: Platform, korean: bool) -> Viewer:
        author = Author(self._author_id(platform), self._name(korean))
        return Viewer(author, platform, korean)

    def _plan(self, at: float, viewer: Viewer, text: str, truth: Truth, amount: Amount | None = None) -> None:
        if 0.0 <= at < self.seconds:
            self.planned.append(Planned(at, viewer, text, truth, amount))

    def _fill(self, template: str, korean: bool) -> str:
        rng = self.rng
        return template.format(
            place=rng.choice(KO_PLACES if korean else PLACES),
            food=rng.choice(KO_FOODS if korean else FOODS),
            game=rng.choice(GAMES),
            n=rng.randint(2, 12),
        )

    # ---- ordinary chat

    def chat_line(self, viewer: Viewer) -> tuple[str, str]:
        """(text, kind): kind is "reaction", "question", "mention" or "chat"."""
        rng = self.rng
        ko = viewer.korean
        roll = rng.random()
        if roll < 0.12:
            return rng.choice(KO_REACTIONS if ko else EN_REACTIONS), "reaction"
        if roll < 0.24:
            call = rng.choice(KO_CALLS if ko else EN_CALLS) if rng.random() < 0.4 else ""
            question = self._fill(rng.choice(KO_QUESTIONS if ko else EN_QUESTIONS), ko)
            return call + question, "question"
        opener = rng.choice(KO_OPENERS if ko else EN_OPENERS)
        line = (
            opener + self._fill(rng.choice(KO_LINES if ko else EN_LINES), ko) + rng.choice(KO_TAILS if ko else EN_TAILS)
        )
        if roll < 0.32:
            return rng.choice(KO_CALLS if ko else EN_CALLS) + line, "mention"
        return line, "chat"

    # ---- the special parts of the stream

    def paid_bursts(self, every: float) -> None:
        """One paid message per `every` seconds on average, in bursts of 1-5 within a minute,
        one burst per slot of the stream, so bursts never overlap."""
        rng = self.rng
        count = round(self.seconds / every)
        sizes: list[int] = []
        while sum(sizes) < count:
            sizes.append(min(rng.randint(1, 5), count - sum(sizes)))
        slot = self.seconds / max(1, len(sizes))
        for i, size in enumerate(sizes):
            spread = rng.uniform(min(10.0, slot), min(60.0, slot))
            start = i * slot + rng.uniform(0.0, slot - spread)
            for _ in range(size):
                self.paid(start + rng.uniform(0.0, spread))

    def paid(self, at: float) -> None:
        rng = self.rng
        viewer = self._someone() if rng.random() < 0.8 else self._new_viewer(*rng.choice(NEW_VIEWERS))
        texts: Sequence[str]
        if viewer.platform is Platform.CHZZK:
            won = rng.choice(KRW)
            amount, texts = Amount(Decimal(won), "KRW", f"₩{won:,}"), KO_PAID
        elif rng.random() < 0.2:
            yen = rng.choice(JPY)
            amount, texts = Amount(Decimal(yen), "JPY", f"¥{yen:,}"), JP_PAID
        else:
            dollars = rng.choice(USD)
            amount, texts = Amount(Decimal(dollars), "USD", f"${dollars}"), EN_PAID
        if viewer.korean and amount.currency != "JPY":
            texts = KO_PAID
        text = self._fill(rng.choice(texts), viewer.korean)
        self._plan(at, viewer, text, Truth("paid", "paid"), amount)

    def raids(self) -> None:
        """Each raid: 30 new authors post variants of one text within a few seconds."""
        rng = self.rng
        for i, (platform, texts) in enumerate(RAIDS):
            start = (i + 0.5) * self.seconds / len(RAIDS) + rng.uniform(-30.0, 30.0)
            length = rng.uniform(3.0, 6.0)
            korean = platform is Platform.CHZZK
            for _ in range(RAIDERS):
                raider = self._new_viewer(platform, korean)
                self._plan(start + rng.uniform(0.0, length), raider, rng.choice(texts), Truth("spam", "raid"))

    def bot_timers(self) -> None:
        for name, period, text in BOT_TIMERS:
            for platform in Platform:
                bot = bot_viewer(name, platform)
                at = self.rng.uniform(0.0, period)
                while at < self.seconds:
                    self._plan(at, bot, text, Truth("spam", "bot"))
                    at += period

    def repeaters(self) -> None:
        """Each repeater posts the same text every 4-8 s for a couple of minutes."""
        rng = self.rng
        for text in REPEATS:
            korean = any("가" <= ch <= "힣" for ch in text)
            viewer = self._new_viewer(Platform.CHZZK if korean else Platform.YOUTUBE, korean)
            at = rng.uniform(0.0, self.seconds - 120.0)
            end = at + rng.uniform(90.0, 150.0)
            while at < end:
                self._plan(at, viewer, text, Truth("spam", "repeat"))
                at += rng.uniform(4.0, 8.0)

    # ---- everything else, at random times

    def spam(self, budget: int) -> None:
        """Commands (half of them answered by a bot), links, character runs, emoji-only."""
        rng = self.rng
        spent = 0
        while spent < budget:
            at = rng.uniform(0.0, self.seconds)
            roll = rng.random()
            if roll < 0.25:
                spent += self._command(at)
            elif roll < 0.45:
                name, korean, text = rng.choice(LINK_SPAM)
                platform = Platform.CHZZK if korean else Platform.YOUTUBE
                spammer = Viewer(Author(f"spam-{name}", name), platform, korean)
                self._plan(at, spammer, text, Truth("spam", "link"))
                spent += 1
            elif roll < 0.72:
                self._plan(at, self._someone(), rng.choice(CHAR_RUNS) * rng.randint(12, 30), Truth("spam", "char_run"))
                spent += 1
            else:
                self._plan(at, self._someone(), rng.choice(EMOJI_ONLY), Truth("spam", "emoji_only"))
                spent += 1

    def _command(self, at: float) -> int:
        rng = self.rng
        viewer = self._someone()
        self._plan(at, viewer, rng.choice(KO_COMMANDS if viewer.korean else COMMANDS), Truth("spam", "command"))
        if rng.random() < 0.5:
            return 1
        name = rng.choice(tuple(BOT_REPLIES))
        bot = bot_viewer(name, viewer.platform)
        text = rng.choice(BOT_REPLIES[name]).format(name=viewer.author.name, n=rng.randint(2, 59))
        self._plan(at + rng.uniform(0.5, 2.0), bot, text, Truth("spam", "bot"))
        return 2

    def chat(self, count: int) -> None:
        for _ in range(count):
            viewer = self._someone()
            text, kind = self.chat_line(viewer)
            self._plan(self.rng.uniform(0.0, self.seconds), viewer, text, Truth("chat", kind))


def make_stream(
    seed: int, *, seconds: float, rate: float, paid_every: float, spam_share: float
) -> tuple[list[tuple[float, ChatEvent]], dict[Key, Truth]]:
    """The stream as (seconds from the start, event), in order, and what each event is."""
    maker = StreamMaker(random.Random(seed), seconds)
    total = round(rate * seconds)
    maker.paid_bursts(paid_every)
    maker.raids()
    maker.bot_timers()
    maker.repeaters()
    special_spam = sum(1 for p in maker.planned if p.truth.category == "spam")
    maker.spam(max(0, round(spam_share * total) - special_spam))
    maker.chat(max(0, total - len(maker.planned)))

    stream: list[tuple[float, ChatEvent]] = []
    truth: dict[Key, Truth] = {}
    for seq, p in enumerate(sorted(maker.planned, key=lambda p: p.at)):
        platform = p.viewer.platform
        message_id = f"LCC.{seq:08d}" if platform is Platform.YOUTUBE else f"chzzk-{seq:08d}"
        event = ChatEvent(
            platform=platform,
            id=message_id,
            kind=Kind.DONATION if p.amount is not None else Kind.CHAT,
            author=p.viewer.author,
            text=p.text,
            amount=p.amount,
            sent_at=EPOCH + timedelta(seconds=p.at),
        )
        stream.append((p.at, event))
        truth[(platform.value, message_id)] = p.truth
    return stream, truth


# ---- the monitor that plays it ----------------------------------------------------------------


@attrs.define
class Feed:
    """The stream as a monitor: each event at its time; a restart resumes where it stopped."""

    stream: list[tuple[float, ChatEvent]]
    sent: int = 0
    start: float | None = None

    async def run(self, ctx: ChildContext, outbox: trio.MemorySendChannel[ChatEvent]) -> None:
        outbox = ctx.hold(outbox.clone())
        ctx.started()
        if self.start is None:
            self.start = trio.current_time()
        with ctx.cancel_on_stop():
            while self.sent < len(self.stream):
                at, event = self.stream[self.sent]
                await trio.sleep_until(self.start + at)
                await outbox.send(attrs.evolve(event, received_at=trio.current_time()))
                self.sent += 1
        ctx.set_status(f"{self.sent}/{len(self.stream)} sent")

    def monitors(self, service: Service) -> list[ChildSpec]:
        """The `monitors=` factory: this feed alone, significant, so its end ends the run."""
        return [
            ChildSpec(
                id="selection",
                target=functools.partial(self.run, outbox=service.chat_send),
                restart=Restart.TRANSIENT,
                significant=True,
                backoff=monitor_backoff(service.config.monitors.backoff),
                shutdown=2.0,
            )
        ]


# ---- what happened ----------------------------------------------------------------------------


@attrs.frozen
class Dispatch:
    event: ChatEvent
    truth: Truth
    age: float  # seconds from received to dispatched
    score: Mapping[str, Any]


@attrs.define
class Tally:
    """A ledger listener: every fate, against what the event was meant to be."""

    truth: Mapping[Key, Truth]
    dispatched: list[Dispatch] = attrs.field(factory=list)
    fates: dict[str, Counter[str]] = attrs.field(factory=lambda: defaultdict(Counter))  # kind -> fate[:reason]
    missed_paid: list[tuple[ChatEvent, str]] = attrs.field(factory=list)  # (event, fate:reason)

    def __call__(self, event: ChatEvent, fate: Fate, reason: str | None, detail: Mapping[str, Any]) -> None:
        truth = self.truth[(event.platform.value, event.id)]
        outcome = fate.value if reason is None else f"{fate.value}:{reason}"
        self.fates[truth.kind][outcome] += 1
        if fate is Fate.DISPATCHED:
            # Dispatch happens inside the session's pull: now is the dispatch time.
            self.dispatched.append(Dispatch(event, truth, trio.current_time() - event.received_at, dict(detail)))
        elif truth.category == "paid":
            self.missed_paid.append((event, outcome))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# ---- the run ----------------------------------------------------------------------------------


def bench_config(path: Path, *, speaking_time: float, capacity: int | None) -> Config:
    """The shipped config's router, filters and weights; the session speaks `speaking_time` s per turn."""
    config = parse_config(path.read_text(encoding="utf-8"), name=path.name, base_dir=path.parent, env={})
    router = attrs.evolve(config.router, vtuber_names=VTUBER_NAMES)
    if capacity is not None:
        router = attrs.evolve(router, capacity=capacity)
    return attrs.evolve(config, router=router, session=attrs.evolve(config.session, speaking_time=speaking_time))


@attrs.frozen
class Run:
    exit_code: int
    counts: dict[str, Any]  # the ledger's to_dict()
    virtual_seconds: float
    wall_seconds: float


def run_service(config: Config, feed: Feed, tally: Tally, log: TextIO) -> Run:
    """Run the whole service on a MockClock until the feed has ended and the session has spoken everything."""

    def virtual_wall() -> datetime:
        return EPOCH + timedelta(seconds=trio.current_time())

    service = Service(config, StatusLog(log, fmt="json", wall_clock=virtual_wall), monitors=feed.monitors)
    service.ledger.listeners.append(tally)
    ended: list[float] = []

    async def main() -> int:
        code = await service.run()
        ended.append(trio.current_time())
        return code

    began = time.perf_counter()
    code = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    wall = time.perf_counter() - began
    ledger = service.ledger
    if not ledger.balanced or ledger.pending:
        raise RuntimeError(f"the books do not balance: {ledger.summary()}")
    return Run(code, ledger.to_dict(), ended[0], wall)


def figures(
    args: argparse.Namespace, config: Config, truth: Mapping[Key, Truth], tally: Tally, ledger_counts: dict[str, Any]
) -> dict[str, Any]:
    sent = Counter(t.category for t in truth.values())
    spam_sent = Counter(t.kind for t in truth.values() if t.category == "spam")
    dispatched = tally.dispatched
    ages = [d.age for d in dispatched]
    paid = [d for d in dispatched if d.truth.category == "paid"]
    spam = [d for d in dispatched if d.truth.category == "spam"]
    paid_share = len(paid) / sent["paid"] if sent["paid"] else None
    median = statistics.median(ages) if ages else None
    score_parts = Counter(part for d in dispatched for part in d.score if part != "total")
    turns_per_author = Counter(d.event.author.id for d in dispatched)
    return {
        "bench": "selection",
        "seed": args.seed,
        "events": len(truth),
        "sent": dict(sorted(sent.items())),
        "spam_sent_by_kind": dict(sorted(spam_sent.items())),
        "turns": len(dispatched),
        "paid_sent": sent["paid"],
        "paid_dispatched": len(paid),
        "paid_dispatched_share": rounded(paid_share, 4),
        "spam_dispatched": len(spam),
        "spam_dispatched_by_kind": dict(sorted(Counter(d.truth.kind for d in spam).items())),
        "age_median_s": rounded(median),
        "age_p95_s": rounded(percentile(ages, 0.95)),
        "age_max_s": rounded(max(ages, default=None)),
        "paid_age_median_s": rounded(statistics.median([d.age for d in paid]) if paid else None),
        "paid_age_max_s": rounded(max((d.age for d in paid), default=None)),
        "distinct_authors_dispatched": len(turns_per_author),
        "most_turns_one_author": max(turns_per_author.values(), default=0),
        "dispatched_by_kind": dict(sorted(Counter(d.truth.kind for d in dispatched).items())),
        "dispatched_with_score_part": dict(sorted(score_parts.items())),
        "fates": ledger_counts,
        "fates_by_kind": {kind: dict(sorted(c.items())) for kind, c in sorted(tally.fates.items())},
        "paid_not_dispatched": [
            {"id": e.id, "fate": fate, "amount": e.amount.display if e.amount else None, "text": e.text}
            for e, fate in tally.missed_paid
        ],
        "spam_dispatched_detail": [
            {"id": d.event.id, "kind": d.truth.kind, "author": d.event.author.name, "text": d.event.text}
            | {"age_s": round(d.age, 2), "score": d.score}
            for d in spam
        ],
        "goals": {
            "every_paid_dispatched": paid_share == 1.0,
            "zero_spam_dispatched": not spam,
            "median_age_under_10s": median is not None and median < 10.0,
        },
        "settings": {
            "capacity": config.router.capacity,
            "max_age": config.router.max_age,
            "paid_max_age": config.router.paid_max_age,
            "speaking_time": config.session.speaking_time,
        },
    }


GOALS = {
    "every_paid_dispatched": "every paid message dispatched",
    "zero_spam_dispatched": "zero spam dispatched",
    "median_age_under_10s": "median age at dispatch under 10 s",
}


def goal_lines(out: Mapping[str, Any]) -> list[str]:
    """One line per goal; a goal not met names the events that missed it."""
    why = {
        "every_paid_dispatched": "; ".join(
            f"{m['amount']} {m['text']!r} {m['fate']}" for m in out["paid_not_dispatched"][:5]
        ),
        "zero_spam_dispatched": "; ".join(f"{d['kind']} {d['text']!r}" for d in out["spam_dispatched_detail"][:5]),
        "median_age_under_10s": f"median {out['age_median_s']} s",
    }
    return [
        f"  goal: {GOALS[goal]}: met" if met else f"  goal: {GOALS[goal]}: NOT met ({why[goal]})"
        for goal, met in out["goals"].items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second, all kinds")
    parser.add_argument("--paid-every", type=float, default=20.0, help="seconds between paid messages, on average")
    parser.add_argument("--spam-share", type=float, default=0.15)
    parser.add_argument("--speaking-time", type=float, default=6.0, help="seconds the session takes per turn")
    parser.add_argument("--capacity", type=int, default=None, help="pending buffer size (default: the config's)")
    parser.add_argument("--config", type=Path, default=REPO / "config.toml")
    parser.add_argument("--log", type=Path, default=None, help="write the service's JSON log here")
    args = parser.parse_args()

    config = bench_config(args.config, speaking_time=args.speaking_time, capacity=args.capacity)
    stream, truth = make_stream(
        args.seed, seconds=args.minutes * 60, rate=args.rate, paid_every=args.paid_every, spam_share=args.spam_share
    )
    feed, tally = Feed(stream), Tally(truth)
    log: TextIO = args.log.open("w", encoding="utf-8") if args.log else io.StringIO()
    with log:
        run = run_service(config, feed, tally, log)
    virtual, wall = run.virtual_seconds, run.wall_seconds
    out = figures(args, config, truth, tally, run.counts)
    out |= {"exit_code": run.exit_code, "virtual_seconds": round(virtual, 1), "wall_seconds": round(wall, 2)}

    share = out["paid_dispatched_share"]
    print(
        f"selection: {out['events']} events ({out['sent'].get('paid', 0)} paid, {out['sent'].get('spam', 0)} spam)"
        f" over {virtual:.0f} s of Trio time in {wall:.1f} s wall -> {out['turns']} turns;"
        f" paid dispatched {out['paid_dispatched']}/{out['paid_sent']}"
        f" ({'-' if share is None else f'{share:.0%}'}), spam dispatched {out['spam_dispatched']},"
        f" age at dispatch median {out['age_median_s']} s / p95 {out['age_p95_s']} s,"
        f" {out['distinct_authors_dispatched']} distinct authors"
    )
    for line in goal_lines(out):
        print(line)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Generate actors/data/demo_chat.jsonl: two minutes of mixed YouTube + Chzzk live chat for the AI VTuber "Mira".

The file is the service's replay input (and has the shape of its archive output), so it deliberately contains the
awkward cases the pipeline must survive: a spam burst, a duplicate flood, platform resends with repeated ids, bots,
links, commands, moderation, paid messages in four currencies, very long messages and invisible control characters.

Deterministic: fixed seeds, stdlib only, no network. Run from anywhere: `python tools/make_demo_chat.py`.
Everything here is fictional; spam links use the reserved `.example` TLD so nothing in the file resolves.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

SEED = 20261124
START = datetime(2026, 11, 24, 1, 0, 0, tzinfo=UTC)
DURATION_MS = 120_000
OUT = Path(__file__).resolve().parent.parent / "actors" / "data" / "demo_chat.jsonl"

# --- cast ------------------------------------------------------------------------------------------------------------
# key, platform, display name, roles at the start, language of their free chat, weight in background chat.
# Weight 0 means the person only appears where the script below puts them (owner, bots, spammers, mods).
PEOPLE = [
    ("owner", "youtube", "Mira Ch. 미라", ["owner"], "en", 0),
    ("kai", "youtube", "Kai", ["moderator", "member"], "en", 0),
    ("nightbot", "youtube", "Nightbot", ["moderator"], "en", 0),
    ("streamelements", "youtube", "StreamElements", ["moderator"], "en", 0),
    ("pixel", "youtube", "Pixel Lantern Games", ["verified"], "en", 0),
    ("spammer", "youtube", "FREE ROBUX 2026", [], "en", 0),
    ("crypto", "youtube", "moon_signals_vip", [], "en", 0),
    ("otter", "youtube", "sleepy_otter", ["member"], "en", 3),
    ("luna", "youtube", "luna_draws", ["member"], "en", 3),
    ("kenji", "youtube", "Kenji M.", [], "en", 2),
    ("tomas", "youtube", "Tomás R", [], "en", 2),
    ("hyper", "youtube", "hyperbyte", [], "en", 3),
    ("fern", "youtube", "quietfern", [], "en", 2),
    ("aiko", "youtube", "Aiko 🌸", ["member"], "en", 2),
    ("nova", "youtube", "nova_kid", [], "en", 3),
    ("marco", "youtube", "marco.p", [], "en", 2),
    ("jiwoo", "youtube", "jiwoo_lee", ["member"], "ko", 2),
    ("seoulcat", "youtube", "서울사는 고양이", [], "ko", 2),
    ("minsu", "chzzk", "민수", [], "ko", 3),
    ("fries", "chzzk", "감자튀김", ["member"], "ko", 3),
    ("dawn", "chzzk", "새벽세시", [], "ko", 2),
    ("catbutler", "chzzk", "고양이집사", [], "ko", 3),
    ("miralover", "chzzk", "미라바라기", ["member"], "ko", 2),
    ("cheesecat", "chzzk", "치즈냥", [], "ko", 2),
    ("karaoke", "chzzk", "노래방요정", [], "ko", 2),
    ("nightcoder", "chzzk", "밤샘코더", [], "ko", 2),
    ("chatkeeper", "chzzk", "채팅지기", ["moderator"], "ko", 1),
]

# --- background chat pools: one message per line -----------------------------------------------------------------
EN_CHAT = """
hi Mira!
hello from Brazil 🇧🇷
good morning chat
just got here, what did I miss?
evening everyone
hi chat 👋
first time catching this live!
Mira what's your favorite food?
mira can you sing something?
Mira do you dream?
what game are we playing today?
Mira how was your day?
do you remember me from last stream?
Mira thoughts on pineapple pizza?
mira cat or dog person?
can you say hi to my sister? she's watching too
is the new outfit coming this week?
Mira rate my username 1-10
will there be a karaoke stream?
how do you feel about rain?
mira say something in korean
lol
LMAO
that was so good
she's cooking
W
the timing 😂
nooo
HAHAHA
I can't 😭
true
real
ok that was cute
mira pls
she really said that
chat is wild today
audio is a bit quiet on my end
the new model looks amazing
love the background music
is this a new mic? sounds clean
watching from work shh
10/10 stream
chat is moving so fast
brb getting snacks
Mira what's 2+2 😏
wait is she actually reading everything??
mira you're so smart
how does Mira remember names?
the AI is faster than me at this
ok I'm staying for this
omg yes
Mira do you like cats
can we get a Q&A segment?
good luck today Mira!
this is my comfort stream
mira what's your favorite song right now?
chat be nice pls
fr
that voice line 😭
Mira say goodnight to the EU people
hello from Manila!
she's so polite lmao
""".strip().splitlines()

KO_CHAT = """
안녕하세요 미라님!
미라 안녕~
하이하이
ㅎㅇㅎㅇ
오늘 방송 일찍 켰네
미라야 밥 먹었어?
미라 오늘 뭐 해?
노래 불러주세요!!
ㅋㅋㅋㅋㅋ
ㅋㅋㅋㅋㅋㅋㅋ 미쳤다
아 귀여워
미라 목소리 좋다
방금 뭐라고 했어요?
오늘 컨텐츠 뭐에요?
ㄹㅇㅋㅋ
인정
와 대박
이게 AI라고?
미라 한국어 잘하네
미라는 좋아하는 음식 뭐야?
출근 전에 잠깐 보러 왔어요
퇴근하고 왔습니다
첫 방송 보러 왔어요
배경음악 뭐에요?
ㅠㅠㅠ
헐
미라 오늘 텐션 높다
소리 좀 작아요
채팅 빠르다 ㄷㄷ
미라야 잠은 자?
게임 언제 해요?
ㄱㅇㅇ
ㅇㅈ
미라 최고
오 이거 좋다
아니 ㅋㅋㅋㅋ 그걸 왜 해
미라 오늘 머리 바뀜?
새 의상 예쁘다
다음 방송 언제에요?
노래방 컨텐츠 해주세요
미라 영어도 해?
ㅋㅋㅋ 진짜 웃기네
오늘도 수고해요
구독 박고 갑니다
미라야 나 기억해?
우리 고양이도 같이 보는 중
ㅎㅎㅎ
와 반응 빠르다
미라 질문 있어요!
미라는 비 오는 거 좋아해?
오늘 날씨 추워요
간식 먹으면서 보는 중
미라 귀엽다 진짜
미라 오늘 기분 어때?
헉 대답해줬다
미라 MBTI 뭐야?
""".strip().splitlines()

# Short reactions for the duplicate flood, by language; every flood author posts one of these within ~4 s.
FLOOD_TEXT = {
    "ko": ["ㅋㅋㅋㅋㅋㅋ", "ㅋㅋㅋ", "ㅋㅋㅋㅋㅋㅋㅋㅋ", "ㅋㅋㅋㅋㅋㅋ", "ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ"],
    "en": ["KEKW", "lol", "LOL", "lmaooo", "KEKW", "LMAO", "😂😂😂"],
}

# Background chat rate (messages per second) over time, so the recording has quieter and busier stretches.
ACTIVITY = [(0, 15, 0.9), (15, 28, 1.5), (28, 40, 1.0), (40, 55, 2.1), (55, 80, 1.2), (80, 100, 0.7), (100, 119, 1.8)]

CRYPTO_SPAM = "earn $500/day with crypto signals 👉 http://moon-signals.example/vip"
JOIN_TIMER = "💜 Join the Mira Fan Club for custom emotes → https://youtube.com/@MiraAIVtuberDemo/join"
CLIP_LINK = "clip of yesterday's karaoke if anyone missed it https://www.youtube.com/watch?v=mIrAdEmO01x"
SPAM_TEXT = "FREE ROBUX at http://free-robux.example/claim 🎁 first 100 only!!"
LONG_SUPERCHAT = (
    "Mira I've been watching since your debut and honestly these streams got me through a really rough semester. "
    "Thank you for always being so kind to chat, even to the weird people. Never change! 💜"
)
LONG_QUESTION = (
    "question for Mira: if you could design your own stream for a day, no limits, what would it be? like a "
    "cooking stream where you describe food you can't taste, or a horror game you narrate? 👀"
)
LONG_KO = (
    "미라야 오늘 처음 방송 봤는데 진짜 사람이랑 대화하는 것 같아서 깜짝 놀랐어 ㅋㅋ 앞으로 자주 올게! "
    "다음에는 노래 방송도 해줬으면 좋겠다 응원해 💜"
)
# Zero-width spaces split the name (dodges naive filters) and RLO/PDF reverse a span when rendered.
SNEAKY_TEXT = "M\u200bi\u200bra can you read this? \u202etxet sdrawkcab\u202c"

# --- script ----------------------------------------------------------------------------------------------------------
# seconds, who, kind, text, money ("USD 5.00") or None, options.
# Options: label=<name> lets moderation refer to the record; delete=<label> / ban=<person> make moderation records;
# resend=True emits an exact copy right after the record (see add_resends for why "right after").
SCRIPT = [
    (0.0, "owner", "chat", "we're live! say hi to Mira 💜 (AI VTuber: Mira reads chat, so be nice)", None, {}),
    (1.2, "otter", "chat", "MIRA!!! 💜", None, {}),
    (2.0, "minsu", "chat", "미라 안녕하세요!!", None, {}),
    (5.7, "nightbot", "chat", "Follow Mira on X for schedule updates: https://x.com/MiraAIVtuberDemo", None, {}),
    (9.8, "luna", "chat", "💜💜💜💜", None, {}),
    (15.2, "otter", "donation", "hi Mira! first superchat, how's your day going?", "USD 5.00", {}),
    (19.0, "minsu", "donation", "미라 안녕하세요! 오늘 첫 후원이에요", "KRW 1000", {}),
    (22.3, "crypto", "chat", CRYPTO_SPAM, None, {"label": "crypto"}),
    (24.1, "nova", "chat", "lmao who clicks those", None, {}),
    (25.8, "kai", "moderation", "", None, {"delete": "crypto"}),
    (28.1, "spammer", "spam", SPAM_TEXT, None, {}),
    (29.0, "fern", "chat", "mods??", None, {}),
    (30.4, "pixel", "chat", "Mira the collab last week was so fun, come back anytime! 🎮", None, {}),
    (31.5, "catbutler", "chat", "스팸 뭐냐 ㅋㅋ", None, {}),
    (33.6, "kai", "chat", "pls don't click random links chat", None, {}),
    (34.2, "kai", "moderation", "", None, {"ban": "spammer"}),
    (35.0, "hyper", "chat", "ty mods 🙏", None, {}),
    (37.5, "aiko", "donation", "greetings from Osaka! 大好き 🌸", "JPY 500", {}),
    (41.9, "tomas", "chat", "Mira tell us the robot joke again", None, {}),
    (44.0, "*", "flood", "", None, {}),
    (47.3, "luna", "sticker", "Mira heart hands", "USD 1.99", {}),
    (52.1, "fries", "donation", "아까 그거 진짜 웃겼어요 ㅋㅋㅋㅋ 한번만 더 해주세요", "KRW 5000", {}),
    (54.6, "nova", "donation", "", "USD 2.00", {}),
    (58.0, "marco", "donation", "small one but love the stream", "EUR 2.00", {}),
    (61.0, "hyper", "membership", "Welcome to Mira Fan Club!", None, {}),
    (63.3, "fern", "membership", "", None, {}),
    (65.2, "streamelements", "chat", JOIN_TIMER, None, {}),
    (67.0, "miralover", "membership", "구독 3개월째! 앞으로도 잘 부탁해 미라야", None, {}),
    (69.1, "otter", "gift", "gifted 5 Mira Fan Club memberships", None, {}),
    (70.1, "tomas", "membership", "received a gift membership from sleepy_otter", None, {}),
    (70.4, "nova", "membership", "received a gift membership from sleepy_otter", None, {}),
    (72.4, "dawn", "chat", "와 방금 끊겼다 다시 들어옴", None, {"resend": True}),
    (73.0, "cheesecat", "chat", "렉 걸렸나?", None, {"resend": True}),
    (73.9, "minsu", "chat", "미라 계속 말해줘", None, {"resend": True}),
    (76.0, "luna", "membership", "6 months of Mira! still my favorite stream 💜", None, {}),
    (78.5, "kenji", "chat", LONG_QUESTION, None, {}),
    (82.0, "fern", "chat", "!uptime", None, {}),
    (82.9, "nightbot", "chat", "@quietfern Mira has been live for 1 hour 22 minutes 43 seconds", None, {}),
    (85.4, "nightcoder", "chat", LONG_KO, None, {}),
    (87.7, "luna", "chat", "!song", None, {}),
    (88.3, "streamelements", "chat", "Now playing: Starlight Protocol (Mira original), by request", None, {}),
    (90.0, "dawn", "donation", "퇴근길에 미라 목소리 들으면서 힐링해요. 늘 고마워요", "KRW 10000", {}),
    (91.3, "marco", "chat", "is anyone else's stream buffering?", None, {"resend": True}),
    (93.6, "karaoke", "chat", "!discord", None, {}),
    (94.8, "hyper", "chat", "!discord", None, {}),
    (95.5, "nightbot", "chat", "Mira's Discord: https://discord.gg/miraDemoFanClub", None, {}),
    (97.0, "kenji", "chat", CLIP_LINK, None, {}),
    (98.2, "owner", "chat", "reminder: Mira reads superchats and donations first, then regular questions!", None, {}),
    (99.4, "seoulcat", "chat", SNEAKY_TEXT, None, {}),
    (101.2, "jiwoo", "donation", "미라 오늘도 고마워요 💜", "KRW 10000", {}),
    (103.8, "kenji", "sticker", "Dancing penguin", "JPY 250", {}),
    (105.5, "nightbot", "chat", "Reminder: be kind in chat, no spam or self-promo. Rules: !rules", None, {}),
    (108.0, "chatkeeper", "chat", "도배 및 홍보 링크는 제재됩니다~", None, {}),
    (111.0, "aiko", "donation", LONG_SUPERCHAT, "USD 20.00", {}),
    (113.4, "catbutler", "donation", "ㅋㅋㅋㅋㅋ", "KRW 1000", {}),
    (115.9, "nova", "chat", "🎉🎉🎉", None, {}),
    (119.6, "otter", "chat", "best stream this week, ty Mira 💜", None, {}),
]

CURRENCY = {"USD": ("$", 2), "EUR": ("€", 2), "JPY": ("¥", 0), "KRW": ("₩", 0)}
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass
class Person:
    key: str
    platform: str
    name: str
    roles: list[str]
    lang: str
    weight: int
    author_id: str = ""


@dataclass
class Event:
    ms: int
    who: str
    kind: str
    text: str
    money: str | None = None
    opts: dict[str, object] = field(default_factory=dict)


# --- building events -------------------------------------------------------------------------------------------------
def make_people() -> dict[str, Person]:
    # Own RNG stream so adding a chat line never changes anyone's id.
    rng = random.Random(f"{SEED}-ids")
    people = {}
    for key, platform, name, roles, lang, weight in PEOPLE:
        person = Person(key, platform, name, list(roles), lang, weight)
        if platform == "youtube":
            person.author_id = "UC" + "".join(rng.choices(B64URL, k=22))
        else:
            person.author_id = f"{rng.getrandbits(128):032x}"
        people[key] = person
    return people


def scripted_events(rng: random.Random, people: dict[str, Person]) -> list[Event]:
    events = []
    for sec, who, kind, text, money, opts in SCRIPT:
        ms = round(sec * 1000)
        if kind == "spam":
            events += spam_burst(rng, ms, who, text)
        elif kind == "flood":
            events += flood(rng, ms, people)
        else:
            events.append(Event(ms, who, kind, text, money, dict(opts)))
    return events


def spam_burst(rng: random.Random, ms: int, who: str, text: str) -> list[Event]:
    # 7 identical posts, 0.55-0.8 s apart: ~4.5 s in all, fast enough for any rate limiter to notice.
    burst = []
    for _ in range(7):
        burst.append(Event(ms, who, "chat", text))
        ms += rng.randint(550, 800)
    return burst


def flood(rng: random.Random, ms: int, people: dict[str, Person]) -> list[Event]:
    # 13 different people on both platforms laugh at the same moment, within ~4 s.
    authors = rng.sample([p for p in people.values() if p.weight > 0], 13)
    events = []
    for person in authors:
        events.append(Event(ms, person.key, "chat", rng.choice(FLOOD_TEXT[person.lang])))
        ms += rng.randint(180, 330)
    return events


def background_events(rng: random.Random, people: dict[str, Person]) -> list[Event]:
    talkers = [p for p in people.values() if p.weight > 0]
    weights = [p.weight for p in talkers]
    pools = {"en": [], "ko": []}
    events = []
    for start, end, rate in ACTIVITY:
        t = start + rng.expovariate(rate)
        while t < end:
            person = rng.choices(talkers, weights)[0]
            events.append(Event(round(t * 1000), person.key, "chat", next_line(rng, pools, person.lang)))
            t += rng.expovariate(rate)
    return events


def next_line(rng: random.Random, pools: dict[str, list[str]], lang: str) -> str:
    # Deal from a shuffled deck so a line repeats only after the whole pool is used, like a real varied chat.
    if not pools[lang]:
        pools[lang] = rng.sample(EN_CHAT if lang == "en" else KO_CHAT, k=len(EN_CHAT if lang == "en" else KO_CHAT))
    return pools[lang].pop()


# --- turning events into records -------------------------------------------------------------------------------------
def sent_at(ms: int) -> str:
    moment = START + timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def amount(money: str | None) -> dict[str, str] | None:
    if money is None:
        return None
    currency, raw = money.split()
    symbol, places = CURRENCY[currency]
    value = f"{Decimal(raw):.{places}f}"
    return {"value": value, "currency": currency, "display": f"{symbol}{Decimal(raw):,.{places}f}"}


def message_id(rng: random.Random, person: Person, stamp: str, text: str) -> str:
    if person.platform == "youtube":
        return "LCC.Cj" + "".join(rng.choices(B64URL, k=rng.randint(20, 26)))
    # Chzzk sends no message id; derive one from what identifies the message so a resend hashes to the same id.
    digest = hashlib.sha1(f"{person.author_id}|{stamp}|{text}".encode()).hexdigest()
    return f"chzzk-{digest[:12]}"


def to_record(rng: random.Random, event: Event, person: Person) -> dict[str, object]:
    if event.kind == "membership" and "member" not in person.roles:
        person.roles.append("member")  # from now on the badge shows on their messages too
    stamp = sent_at(event.ms)
    return {
        "platform": person.platform,
        "id": message_id(rng, person, stamp, event.text),
        "kind": event.kind,
        "author": {"id": person.author_id, "name": person.name, "roles": list(person.roles)},
        "text": event.text,
        "amount": amount(event.money),
        "sent_at": stamp,
    }


def build_records(rng: random.Random, events: list[Event], people: dict[str, Person]) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    labelled: dict[str, dict[str, object]] = {}
    for event in sorted(events, key=lambda e: e.ms):  # sorted() is stable: same-ms events keep script order
        record = to_record(rng, event, people[event.who])
        if "delete" in event.opts:
            record["target"] = {"id": labelled[str(event.opts["delete"])]["id"]}
        elif "ban" in event.opts:
            record["target"] = {"author_id": people[str(event.opts["ban"])].author_id}
        label = event.opts.get("label")
        if label:
            labelled[str(label)] = record
        records.append(record)
        if event.opts.get("resend"):
            add_resends(records, record)
    return records


def add_resends(records: list[dict[str, object]], record: dict[str, object]) -> None:
    # After a reconnect the platform delivers this message a second time: same id, same content. The copy sits right
    # after the original because the file must keep sent_at non-decreasing; a backlog replayed after newer messages
    # would go back in time.
    records.append(dict(record))


def main() -> None:
    rng = random.Random(SEED)
    people = make_people()
    events = scripted_events(rng, people) + background_events(rng, people)
    records = build_records(rng, events, people)
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    print(f"wrote {len(records)} records to {OUT}")


if __name__ == "__main__":
    main()

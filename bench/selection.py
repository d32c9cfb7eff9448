"""Which chat the AI answers on a busy stream: the whole service, on Trio time.

Generates a seeded, busy 10-minute stream (about 20 messages/s over YouTube and
Chzzk, English and Korean) from a wide vocabulary of templates with slots:
ordinary chat from a few hundred viewers; popular questions that 2-6 regulars
ask within 5-40 s, each in their own words (crowds); greeting waves of 10-25
regulars; conversations between viewers ("@name ...", "name님 ..."); emotes
(YouTube member shortcodes, Chzzk placeholders, emoji); a paid message every
20 s on average in bursts of up to five within a minute; 15% spam and bots
(timers, !commands, links, promotion and scams without links, a repeater,
character runs, emote-only) and a few raids of one text from 30 new authors.

Every message is labelled beside the stream, never in it (a Truth): its
category (chat, paid or spam), its kind, and its topic, the template it came
from and its slot fills, without openers, tails or calls of the VTuber's
name, and which of its phrasings was said. Two messages with the same topic
and phrasing say the same text; the same topic in another phrasing is the
same thing in other words (a paraphrase).

The stream is fed through the real service (router actor, pending buffer,
console session speaking 6 s per turn) by a monitor of its own, on a
MockClock, so ten minutes take seconds. A ledger listener reports what was
dispatched: the share of paid messages, the spam that got through (askers
merged into a turn included), the age at dispatch, the turns and the askers
credited in them, chat texts answered again within 120 s (and, apart,
topics answered again in other words),
legitimate chat filtered as spam, and how many authors were answered.

    python bench/selection.py --seed 1      # one stream (the figures quoted are for seed 1)
    python bench/selection.py --seeds 20    # seeds 1..20: the goals over many streams

Either ends with exactly one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
import multiprocessing
import random
import statistics
import string
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
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
CROWDS_PER_MINUTE = 3.0  # popular questions
CONVERSATIONS_PER_MINUTE = 2.0
LATER_GREETING_WAVES = 2  # besides the one at the start
REPEAT_WINDOW = 120.0  # seconds: the same topic answered twice within this is a repeat
Key = tuple[str, str]  # (platform, message id)

# A template is one phrasing, or several phrasings of one thing said (the first names it). Slots in
# braces ({food}) are filled from SLOTS; every phrasing of a template has the same slots.
Template = str | tuple[str, ...]

# ---- what fills the slots --------------------------------------------------------------------------

PLACES = (
    "Manila", "Brazil", "Osaka", "Toronto", "Berlin", "Texas", "Sydney", "London", "Jakarta", "Chile", "Paris",
    "Seoul", "Mexico City", "Warsaw", "Cairo", "Vancouver", "Singapore", "Lagos", "Dublin", "Ohio",
)  # fmt: skip
FOODS = (
    "ramen", "pizza", "tteokbokki", "sushi", "tacos", "fried chicken", "curry", "dumplings", "ice cream", "pho",
    "burgers", "kimchi stew", "pancakes", "lasagna", "onigiri", "bibimbap", "mac and cheese", "croissants",
)  # fmt: skip
GAMES = (
    "Minecraft", "Tetris", "Mario Kart", "Overcooked", "Phasmophobia", "Stardew", "Apex", "Geoguessr", "Valorant",
    "League", "Pokemon", "Elden Ring", "Among Us", "Fall Guys", "Animal Crossing", "Portal 2",
)  # fmt: skip
DRINKS = ("coffee", "bubble tea", "energy drinks", "hot chocolate", "matcha latte", "cola", "green tea", "lemonade")
ANIMALS = ("cats", "dogs", "hamsters", "penguins", "capybaras", "foxes", "otters", "rabbits")
KO_PLACES = (
    "부산", "대전", "제주", "인천", "광주", "수원", "도쿄", "LA", "캐나다", "대구", "울산", "전주", "강릉",
    "오사카", "호주",
)  # fmt: skip
KO_FOODS = (
    "떡볶이", "치킨", "라면", "피자", "김밥", "마라탕", "짜장면", "붕어빵", "삼겹살", "국밥", "초밥", "햄버거", "냉면",
    "족발", "탕후루", "김치찌개", "돈까스", "편의점 도시락",
)  # fmt: skip
KO_GAMES = (
    "마크", "롤", "발로란트", "메이플", "테트리스", "마리오카트", "오버쿡", "스타듀밸리", "배그", "포켓몬", "엘든링",
)  # fmt: skip
KO_DRINKS = ("커피", "버블티", "콜라", "아아", "딸기우유", "녹차", "핫초코", "바나나우유")
KO_ANIMALS = ("고양이", "강아지", "햄스터", "펭귄", "토끼", "여우", "수달", "카피바라")
NUMBERS = tuple(str(n) for n in range(2, 13))
SLOTS: Mapping[bool, Mapping[str, Sequence[str]]] = {  # korean -> slot -> values
    False: {"place": PLACES, "food": FOODS, "game": GAMES, "drink": DRINKS, "animal": ANIMALS, "n": NUMBERS},
    True: {"place": KO_PLACES, "food": KO_FOODS, "game": KO_GAMES, "drink": KO_DRINKS, "animal": KO_ANIMALS}
    | {"n": NUMBERS},
}

# ---- what the viewers say ---------------------------------------------------------------------

EN_REACTIONS = (
    "lol", "LMAO", "KEKW", "W", "real", "fr", "true", "omg", "HAHAHA", "nooo", "LUL", "pog", "gg", "L", "based",
    "lmaooo", "no way", "WHAT", "OMEGALUL", "poggers", "ez", "cute", "so cute", "aww", "bruh", "YES", "facts",
    "lets goooo", "LETS GO", "wow", "damn", "ayo", "hahaha", "rip", "F", "xD", "monkaS", "sadge", "classic", "ICANT",
)  # fmt: skip
EN_LINES = (
    "that was so good", "chat is moving so fast", "the new model looks amazing", "love the background music",
    "audio is a bit quiet on my end", "this is my comfort stream", "she's cooking", "first time catching this live",
    "watching from work shh", "brb getting snacks", "ok I'm staying for this", "the timing was perfect",
    "that voice line got me", "best stream this week", "my cat is watching too", "chat be nice pls",
    "the AI is faster than me at this", "I can't stop laughing", "the lighting looks great today",
    "just got home from school", "somebody clip that", "the new outfit is so pretty", "she really said that",
    "I'm dying", "that was unexpected", "the music slaps", "my internet is lagging", "this is peak content",
    "I missed the start", "that laugh is contagious", "chat is wild today", "so wholesome", "the chat speed is insane",
    "I have school tomorrow but whatever", "this is better than TV", "ty mods", "the chat is so nice today",
    "this stream is so cozy", "my day just got better", "I needed this today", "she sounds so happy today",
    "that was a clean save", "the reaction time lol", "I'm crying that was so funny",
    "can't believe she pulled that off",
    "the vibes are immaculate", "new sub here", "just became a member", "the art on the wall is cute",
    "her laugh makes my day", "chat we are so back", "this bgm is a banger", "mods are doing great work",
    "my mom asked who I'm talking to lol", "volume is perfect now", "mic sounds much better today",
    "the stream looks so crisp", "I love this segment", "this is my favorite part", "please never change",
    "whoever made the model did a great job", "I was waiting all week for this", "that pun was terrible and I love it",
    "ok that was actually smart", "she's too powerful", "we need a clip channel", "I've been here for two hours",
    "stayed up late for this", "lunch break stream", "watching on my phone in bed", "on the bus watching this",
    "tuned in from the vod", "the chat moves too fast to read", "hi to everyone new", "what a comeback",
    "we lost but it was fun", "not the jumpscare", "that was a close one", "skill issue lol", "speedrun strats",
    "chat is carrying", "she's so focused", "the calm before the storm", "plot twist", "I can't handle this cuteness",
    "the outfit colors are perfect", "the hair physics are amazing", "ears twitching lol", "the eyes follow you",
    "the mouth sync is so good today", "she's glitching lol", "the model froze for a sec",
    "stream is a bit laggy for me",
    "it's fine now", "reloaded and it's good", "I'm learning English from this stream",
    "I'm learning Korean from this stream", "love the bilingual chat", "Korean chat is so fast", "hi Korean chat",
    "this game looks hard", "I'd be so bad at this", "my heart can't take this", "one more round pls",
    "I have work in 5 hours", "my coffee is cold now", "I should sleep but no", "the thumbnail got me here",
    "found this stream from a clip", "my friend told me about this stream", "the schedule post was so cute",
    "the last stream was legendary", "she remembered the lore", "canon event", "this is going in the highlights",
    "{game} stream when", "I played {game} all weekend", "I want to try {game} now", "{game} brings back memories",
    "I used to play {game} every day", "{game} is so hard", "I'm so bad at {game}", "my brother plays {game}",
    "the {game} music is the best", "eating {food} while watching", "{food} sounds good right now",
    "I had {food} for lunch", "now I'm craving {food}", "{food} is my comfort food", "{food} hits different at night",
    "nobody makes {food} like my grandma", "drinking {drink} while watching", "third {drink} today", "{drink} gang",
    "spilled my {drink} lol", "I love {animal} so much", "{animal} are the best", "watching from {place}",
    "it's 3am in {place} lol", "it's snowing in {place}", "it's so hot in {place} today", "late night in {place}",
    "lunch time in {place}", "{place} chat where you at", "{n} hours in and still going",
    "day {n} of asking for karaoke", "I've watched {n} vods this week",
)  # fmt: skip
EN_QUESTIONS: tuple[Template, ...] = (
    ("what game are we playing today?", "what are we playing today?", "what game today?"),
    ("what game is next?", "what's the next game?", "which game is next?"),
    ("can you sing something?", "can you sing a song?", "could you sing something?"),
    ("do you like {animal}?", "do you like {animal}??", "are you a fan of {animal}?"),
    ("how was your day?", "how's your day going?", "how was your day today?"),
    ("what's your favorite food?", "what is your favorite food?", "what's your fav food?"),
    ("will there be a karaoke stream?", "when is the next karaoke stream?", "karaoke stream soon?"),
    "how do you remember names?",
    ("do you dream?", "do you ever dream?"),
    ("is this a new mic?", "new mic?", "did you get a new mic?"),
    ("what did I miss?", "what did I miss??", "did I miss anything?"),
    ("when is the next collab?", "when's the next collab?", "any collabs coming up?"),
    ("can you say hi to my sister?", "can you say hi to my little sister?"),
    ("thoughts on pineapple pizza?", "what do you think of pineapple pizza?", "pineapple on pizza yes or no?"),
    ("what's your favorite song right now?", "what song are you into right now?"),
    ("how long have you been streaming?", "how long have you been streaming for?"),
    ("are you going to play horror games?", "will you play a horror game?", "horror game when?"),
    ("what time is it for you?", "what time is it there?"),
    ("do you read every message?", "do you read all the messages?", "can you read every message?"),
    ("have you tried {food}?", "have you ever tried {food}?", "did you ever try {food}?"),
    ("can we play {game} next time?", "can you play {game} next time?", "play {game} next time?"),
    ("have you ever been to {place}?", "have you been to {place}?", "ever been to {place}?"),
    ("what do you think of {food}?", "what do you think about {food}?", "thoughts on {food}?"),
    ("is {game} fun?", "is {game} any fun?"),
    ("do you like {food}?", "do you like {food}", "you like {food}?"),
    ("how many languages do you speak?", "how many languages can you speak?"),
    ("when is the next stream?", "when's the next stream?", "when do you stream next?"),
    ("what's the song in the background?", "what's this background song?", "what's the bgm?"),
    ("are you a cat person or a dog person?", "cat person or dog person?"),
    ("what's your favorite game?", "what is your favorite game?", "fav game?"),
    ("do you sleep?", "do you ever sleep?"),
    ("what's your favorite color?", "what is your favorite color?", "fav color?"),
    ("who made your model?", "who drew your model?", "who is your model artist?"),
    ("can you speak Korean?", "do you speak Korean?", "can you say something in Korean?"),
    ("can you speak Japanese?", "do you speak Japanese?"),
    "how tall are you?",
    ("how old are you?", "what's your age?"),
    ("do you have a pet?", "do you have any pets?"),
    ("do you drink {drink}?", "do you like {drink}?"),
    ("coffee or tea?", "tea or coffee?"),
    ("what's your MBTI?", "what is your MBTI?", "MBTI?"),
    ("are you real?", "are you a real person?", "are you actually an AI?"),
    ("do you remember me?", "can you remember me?", "will you remember me?"),
    ("what are you doing after stream?", "what will you do after stream?"),
    ("how is the weather there?", "how's the weather where you are?"),
    ("what's your favorite anime?", "what anime do you like?", "fav anime?"),
    ("would you play {game} with chat?", "can chat play {game} with you?"),
    ("what's your rank in {game}?", "what rank are you in {game}?"),
    ("is it hard to stream every day?", "isn't streaming every day tiring?"),
    ("can you do an impression?", "can you do a voice impression?"),
    ("can you say my name?", "can you say my name pls?"),
    ("will you do a 3D debut?", "when is the 3D debut?", "3D debut when?"),
    ("what's the schedule this week?", "what's this week's schedule?"),
    ("can you rap?", "can you rap something?"),
    ("do you like {place}?", "what do you think of {place}?"),
    ("what would you eat in {place}?", "what food would you try in {place}?"),
    ("do you play {game}?", "have you played {game}?", "ever played {game}?"),
    ("how are you today?", "how are you?", "how are you doing today?"),
    ("did you eat yet?", "have you eaten yet?", "did you eat?"),
    ("what's your dream?", "what is your dream?"),
    ("can you do that laugh again?", "can you laugh again?"),
    ("what's your favorite emote?", "which emote is your favorite?"),
    ("do you get nervous on stream?", "do you ever get nervous?"),
    ("what keyboard do you use?", "which keyboard is that?"),
    ("is there merch?", "where is the merch?", "when is merch coming?"),
    ("can you sing happy birthday?", "can you sing happy birthday for my friend?"),
    ("do you like rain?", "do you like rainy days?"),
    ("what's your favorite season?", "what is your favorite season?", "fav season?"),
    ("summer or winter?", "winter or summer?"),
    ("are you tired?", "are you tired today?"),
    ("who is your favorite vtuber?", "which vtuber do you watch?", "fav vtuber?"),
    "what's the best {food} you ever had?",
    ("can we get a {animal} emote?", "{animal} emote when?"),
    ("what's your favorite movie?", "fav movie?"),
    ("how do you read chat so fast?", "how are you reading chat this fast?"),
    ("will you stream tomorrow?", "are you streaming tomorrow?", "stream tomorrow?"),
)
EN_GREETINGS: tuple[Template, ...] = (
    ("hi", "hii", "hiii", "hi hi"),
    ("hello", "hello!", "helloo", "hellooo"),
    ("hey", "heyy", "hey hey"),
    ("good evening", "good evening!", "evening"),
    ("good morning", "good morning!", "gm"),
    ("good evening chat", "evening chat", "good evening everyone"),
    ("hi chat", "hi everyone", "hi all"),
    ("yo", "yooo"),
    ("hiya", "heya"),
    ("I'm here", "I'm here!!", "made it"),
    ("I'm back", "back again", "back for another stream"),
    "howdy",
    ("hi from {place}", "hello from {place}", "greetings from {place}"),
)
EN_OPENERS = ("", "", "", "ok ", "honestly ", "lol ", "wait ", "ngl ", "omg ", "yo ", "guys ", "bro ", "literally ")
EN_TAILS = ("", "", "", "!", " lol", " 😂", " 💜", " haha", " fr", "!!", " 😭", " ngl", " lmao", " tbh", "...")
EN_CALLS = ("Mira ", "mira ", "hi Mira, ", "@Mira ", "MIRA ", "Mira, ", "hey Mira ", "mira~ ")
EN_CALLS_AFTER = (" Mira", " mira", " MIRA", " @Mira", " Mira!")  # "hi Mira"
KO_REACTIONS = (
    "ㅋㅋㅋ", "ㅋㅋㅋㅋㅋ", "ㅎㅎ", "ㄹㅇㅋㅋ", "ㅠㅠ", "헐", "와 대박", "인정", "ㄱㅇㅇ", "ㅇㅈ", "미쳤다",
    "ㄷㄷ", "ㄷㄷㄷ",
    "오", "오오", "와", "와우", "대박", "레전드", "ㄹㅇ", "킹받네", "개웃기네", "아 진짜ㅋㅋ", "귀여워", "귀엽다", "굿",
    "ㄱㄱ", "가보자", "ㅇㅇ", "헉", "엥", "에바", "ㅜㅜ", "짝짝짝", "나이스", "캬",
)  # fmt: skip
KO_LINES = (
    "오늘 날씨 추워요", "출근 전에 잠깐 보러 왔어요", "간식 먹으면서 보는 중", "새 의상 예쁘다", "아 귀여워",
    "채팅 빠르다", "퇴근하고 왔습니다", "오늘도 수고해요", "목소리 좋다", "배경음악 좋다", "노래방 컨텐츠 해주세요",
    "첫 방송 보러 왔어요", "우리 고양이도 같이 보는 중", "오늘 텐션 높다", "방송 일찍 켰네", "이거 진짜 웃기네",
    "소리 좀 작아요", "구독 박고 갑니다", "오늘 컨텐츠 좋다", "반응 빠르다", "모델 바뀐 거 같은데", "조명 예쁘다",
    "숙제하면서 보는 중", "방금 들어왔어요", "채팅 너무 빨라서 못 읽겠다", "오늘 방송 길게 해주세요",
    "방금 그거 클립 따야 됨", "웃음소리 중독된다", "오늘 레전드다", "내일 시험인데 보는 중", "알람 맞춰놓고 기다렸어요",
    "오늘 분위기 좋다", "힐링된다", "오늘 목소리 컨디션 좋네", "방금 개웃겼음", "클립 각이다", "이 부분 레전드",
    "오늘 왜 이렇게 귀여움", "모델 움직임 자연스럽다", "표정 너무 좋다", "머리카락 물리 미쳤다",
    "눈 깜빡이는 거 귀여워", "입모양 싱크 좋아졌다", "잠깐 렉 걸렸어요", "화면 멈춘 줄", "이제 괜찮아요",
    "새로고침 하니까 돼요", "폰으로 보는 중",
    "버스에서 보는 중", "침대에서 보는 중", "점심시간에 보는 중", "야근하면서 보는 중", "과제 해야 되는데",
    "내일 출근인데 못 끄겠다", "잠 다 깼다", "알림 보고 바로 왔어요", "클립 보고 왔어요", "친구 추천으로 왔어요",
    "썸네일 보고 들어왔어요", "드디어 라이브로 본다", "다시보기로만 보다가 처음 왔어요", "멤버십 가입했어요",
    "구독 눌렀어요", "오늘 방송 최고", "이 게임 어려워 보인다", "나였으면 벌써 포기함", "한 판만 더", "심장 떨려",
    "아 아깝다", "거의 다 왔는데", "실력 무엇", "천재인가", "이걸 이기네", "운 좋다 ㅋㅋ", "반전이다",
    "채팅창 평화롭다",
    "매니저님들 수고하세요", "오늘 채팅 착하다", "영어 채팅 많네", "외국인 분들 반가워요", "영어 공부 되는 방송",
    "오늘 배경 바뀌었네", "의상 색감 너무 좋다", "오늘 컨셉 좋다", "웃음소리 너무 좋아", "이 노래 좋다",
    "{place}에서 보고 있어요", "{place} 사람 있나요", "{place} 눈 와요", "{place} 오늘 덥다", "{place} 비 와요",
    "{place} 새벽이에요", "{place}에서 출근 중", "오늘 저녁 {food} 먹었어요", "{food} 먹으면서 보는 중",
    "{food} 땡긴다",
    "지금 {food} 먹는 중", "{food} 시켰어요", "점심에 {food} 먹었는데 또 땡김", "{food} 최고", "야식은 {food} 국룰",
    "{game} 하고 싶어진다", "{game} 추억이다", "{game} 어렵던데", "{game} 진짜 오랜만에 본다", "요즘 {game} 빠져있어요",
    "{game} 방송 기다렸어요", "{drink} 마시면서 보는 중", "오늘만 {drink} 세 잔째", "{drink} 쏟았다 ㅋㅋ",
    "우리 {animal} 자는 중", "{animal} 너무 좋아", "{animal} 키우고 싶다", "{n}시간째 보는 중", "{n}번째 방송 보는 중",
    "{n}번째 다시보기 중", "{n}일째 노래방 요청 중", "{n}분 전에 들어왔어요",
)  # fmt: skip
KO_QUESTIONS: tuple[Template, ...] = (
    ("오늘 뭐 해?", "오늘 뭐 해요?", "오늘 뭐 함?"),
    ("밥 먹었어?", "밥 먹었어요?", "밥은 먹었어?"),
    ("좋아하는 음식 뭐야?", "좋아하는 음식 뭐예요?", "최애 음식 뭐야?"),
    ("MBTI 뭐야?", "MBTI 뭐예요?", "엠비티아이 뭐야?"),
    ("영어도 해?", "영어도 할 줄 알아요?"),
    ("잠은 자?", "잠은 자요?", "잠 안 자?"),
    ("나 기억해?", "저 기억해요?", "나 기억나?"),
    ("다음 방송 언제에요?", "다음 방송 언제야?", "다음 방송 언제 해요?"),
    ("게임 언제 해요?", "게임 언제 해?"),
    ("배경음악 뭐에요?", "배경음악 뭐야?", "브금 뭐에요?"),
    ("노래 불러줄 수 있어?", "노래 불러줄 수 있어요?", "노래 한 곡 불러줄래?"),
    ("오늘 기분 어때?", "오늘 기분 어때요?"),
    ("비 오는 거 좋아해?", "비 오는 날 좋아해요?"),
    ("무슨 게임 할 거야?", "무슨 게임 할 거예요?", "무슨 게임 해요?"),
    ("다음 게임 뭐야?", "다음 게임 뭐예요?", "다음 겜 뭐임?"),
    ("{food} 좋아해?", "{food} 좋아해요?", "{food} 좋아함?"),
    ("{place} 가봤어?", "{place} 가봤어요?", "{place} 가본 적 있어요?"),
    ("몇 시까지 방송해요?", "몇 시까지 방송해?", "오늘 몇 시까지 해요?"),
    ("합방 언제 해요?", "합방 언제 해?", "합방 계획 있어요?"),
    ("노래 뭐 좋아해?", "좋아하는 노래 뭐예요?"),
    ("어떻게 채팅을 다 읽어?", "채팅 어떻게 다 읽어요?", "채팅 다 읽어요?"),
    ("{game} 해봤어?", "{game} 해봤어요?", "{game} 해본 적 있어?"),
    ("{game} 언제 해요?", "{game} 언제 해?"),
    ("{drink} 좋아해?", "{drink} 좋아해요?"),
    ("{animal} 좋아해?", "{animal} 좋아해요?"),
    ("고양이파야 강아지파야?", "고양이파예요 강아지파예요?"),
    ("한국어 어디서 배웠어?", "한국어 어떻게 배웠어요?"),
    ("일본어도 해요?", "일본어도 할 줄 알아?"),
    ("몇 살이에요?", "나이가 어떻게 돼요?"),
    ("키 몇이에요?", "키 몇이야?"),
    ("모델 누가 그렸어요?", "모델 작가님 누구예요?"),
    ("새 마이크에요?", "마이크 바꿨어요?", "마이크 새로 샀어?"),
    ("뭐 놓쳤어요?", "방금 무슨 일 있었어요?", "무슨 일이에요?"),
    ("노래방 언제 해요?", "오늘 노래방 해요?", "노래 방송 언제 해?"),
    ("3D 언제 나와요?", "3D 데뷔 언제예요?"),
    ("이번 주 스케줄 어떻게 돼요?", "이번 주 방송 일정 뭐예요?"),
    ("굿즈 나와요?", "굿즈 언제 나와요?"),
    ("최애 버튜버 누구예요?", "좋아하는 버튜버 있어요?"),
    ("좋아하는 애니 뭐예요?", "애니 좋아해요?"),
    ("여름이 좋아 겨울이 좋아?", "여름파예요 겨울파예요?"),
    ("방송 끝나고 뭐 해요?", "방송 끝나고 뭐 해?"),
    ("피곤해요?", "오늘 피곤해?"),
    ("꿈이 뭐예요?", "꿈이 뭐야?"),
    ("제 이름 불러줄 수 있어요?", "내 이름 불러줄 수 있어?", "제 닉네임 읽어줄 수 있어요?"),
    ("방금 그거 한 번 더 해줄래요?", "아까 그거 다시 해줄 수 있어?"),
    ("거기 날씨 어때요?", "오늘 날씨 어때?"),
    ("{place} 어때요?", "{place} 좋아해요?"),
    ("{place} 가면 뭐 먹어요?", "{place} 가면 뭐 먹을 거야?"),
    ("{food} 먹어봤어?", "{food} 먹어봤어요?", "{food} 먹어본 적 있어?"),
    ("진짜 AI에요?", "진짜 AI야?", "사람 아니에요?"),
    ("왜 이렇게 귀여워요?", "왜 이렇게 귀여워?"),
    ("생일 언제에요?", "생일 언제야?"),
    ("좋아하는 계절 뭐예요?", "무슨 계절 좋아해?"),
    ("오늘 컨텐츠 뭐예요?", "오늘 컨텐츠 뭐야?"),
    ("내일도 방송해요?", "내일도 방송해?", "내일 방송 있어요?"),
    ("방송할 때 긴장 돼요?", "긴장 안 돼요?"),
    ("키보드 뭐 써요?", "키보드 뭐 써?"),
    ("{animal} 이모티콘 언제 나와요?", "{animal} 이모티콘 언제 나와?"),
    ("공포 게임 할 거예요?", "공포 게임 언제 해요?"),
    ("방송한 지 얼마나 됐어요?", "방송 몇 년 했어요?"),
)
KO_GREETINGS: tuple[Template, ...] = (
    ("안녕하세요", "안녕하세요!", "안녕하세용", "안녕하세여"),
    ("안녕", "안녕~", "안뇽", "안녕안녕"),
    ("하이", "하이하이", "ㅎㅇ", "ㅎㅇㅎㅇ"),
    ("방가방가", "반가워요", "반가워"),
    ("왔다", "왔어요", "나 왔어"),
    ("출석", "출석합니다", "출첵"),
    ("좋은 저녁", "좋은 저녁이에요"),
    ("오늘도 왔어요", "오늘도 왔습니다"),
    ("굿이브닝", "굿밤"),
    ("{place}에서 인사드려요", "{place}에서 왔어요"),
)
KO_OPENERS = ("", "", "", "아 ", "와 ", "진짜 ", "근데 ", "오 ", "헐 ", "아니 ", "ㄹㅇ ", "솔직히 ")
KO_TAILS = ("", "", "", " ㅋㅋ", " ㅋㅋㅋ", "!!", "~", " ㅎㅎ", " ㅠㅠ", "ㅋㅋㅋㅋ", "ㅋㅋ", " ㄹㅇ", "..")
KO_CALLS = ("미라 ", "미라야 ", "미라님 ", "미라 님 ")

# Conversations between viewers: (the opening, the follow-ups), about one slot.
EN_THREADS: tuple[tuple[Template, tuple[Template, ...]], ...] = (
    (
        ("anyone else playing {game} lately?", "who else plays {game} here?"),
        ("yes! {game} is so fun", "me, I'm addicted to {game}", "I tried {game} last week",
         "same, {game} ate my weekend", "we should play {game} together", "what rank are you?",
         "I'm so bad at {game} lol", "nice!"),
    ),
    (
        ("anyone here from {place}?", "{place} people where you at"),
        ("me!! {place} gang", "hi neighbour", "no but I visited {place} once", "what part?", "the north side",
         "small world lol"),
    ),
    (
        ("who else is eating {food} rn", "anyone else having {food} for dinner"),
        ("me lol", "now I want {food} too", "{food} is the best", "what kind?", "the spicy one",
         "stop making me hungry"),
    ),
    (
        ("what's the song in the background?", "does anyone know this bgm?"),
        ("I think it's Starlight Protocol", "it's her original I think", "no idea but it slaps",
         "check the description", "thanks!", "np"),
    ),
    (
        ("my {animal} is watching with me", "anyone else watching with their {animal}?"),
        ("aww what's its name?", "mine too lol", "{animal} gang", "pics or it didn't happen", "so cute",
         "mine is asleep"),
    ),
    (
        ("I have an exam tomorrow and I'm here", "should be studying rn lol"),
        ("same lol", "good luck!!", "you got this", "what subject?", "math...", "rip"),
    ),
    (
        ("did you see the last stream?", "anyone catch yesterday's stream?"),
        ("yes it was so funny", "I missed it, was it good?", "the ending was the best part",
         "there's a clip on the channel", "I need to watch the vod", "it was legendary"),
    ),
    (
        ("what time is it for you guys?", "what time is it where you are?"),
        ("2am lol", "just after lunch here", "morning here", "way too late", "go to sleep lol",
         "sleep is for the weak"),
    ),
    (
        ("drinking {drink} rn", "anyone else on their third {drink}"),
        ("{drink} is life", "same lol", "that's a lot of {drink}", "I'm more of a tea person", "respect",
         "hydrate chat"),
    ),
    (
        ("who's been here since debut?", "debut gang where are you"),
        ("me!!", "since the second stream", "I found her last month", "welcome to the club", "OG here",
         "same here"),
    ),
)  # fmt: skip
KO_THREADS: tuple[tuple[Template, tuple[Template, ...]], ...] = (
    (
        ("{game} 하는 사람 있어요?", "요즘 {game} 하는 사람?"),
        ("저요!", "저도 {game} 해요", "{game} 재밌죠", "같이 해요", "티어 어디세요?", "저는 완전 뉴비에요 ㅋㅋ"),
    ),
    (
        ("{place} 사는 사람 있나요?", "{place} 사람 손"),
        ("저요!!", "저도 {place}요", "반가워요 ㅋㅋ", "어디쪽이세요?", "{place} 좋죠", "와 동네 주민"),
    ),
    (
        ("지금 {food} 먹는 사람?", "저녁 {food} 먹은 사람?"),
        ("저도요 ㅋㅋ", "배고파지잖아요", "{food} 맛있죠", "어디 거요?", "부럽다", "저도 시켜야겠다"),
    ),
    (
        ("이 노래 제목 아시는 분?", "배경음악 뭔지 아세요?"),
        ("미라 오리지널곡이에요", "Starlight Protocol 같아요", "저도 궁금했어요", "설명란에 있어요", "감사합니다!",
         "ㄱㅅㄱㅅ"),
    ),
    (
        ("내일 시험인데 여기 있음", "공부해야 되는데 보는 중"),
        ("저도요 ㅋㅋ", "화이팅!!", "무슨 시험이에요?", "수학이요..", "같이 망해요 ㅋㅋ", "힘내세요"),
    ),
    (
        ("{animal} 키우는 사람?", "우리 {animal} 같이 보는 중"),
        ("저요 ㅋㅋ", "이름 뭐에요?", "귀엽겠다", "사진 보고 싶다", "저희 {animal} 자요", "부럽다"),
    ),
    (
        ("어제 방송 보신 분?", "지난 방송 봤어요?"),
        ("봤어요 레전드", "못 봤어요 ㅠㅠ", "다시보기 있어요", "마지막 부분 웃겼음", "클립 올라왔어요", "ㅇㅈ"),
    ),
    (
        ("데뷔 때부터 본 사람?", "데뷔부터 본 분 계세요?"),
        ("저요!", "저는 두 번째 방송부터", "저는 최근에 입덕", "고인물 ㅋㅋ", "반가워요", "환영해요"),
    ),
    (
        ("다들 지금 몇 시에요?", "거기 몇 시에요?"),
        ("새벽 2시요 ㅋㅋ", "여기는 점심이요", "아침이에요", "주무세요 ㅋㅋ", "저도 자야 되는데", "ㅋㅋㅋ 동지"),
    ),
)  # fmt: skip

# Emotes: YouTube member emoji reach us as shortcodes, Chzzk emoticons as placeholders.
YOUTUBE_EMOTES = (
    ":_miraHeart:", ":_miraWave:", ":_miraLaugh:", ":_miraCry:", ":_miraHype:", ":_miraPat:", ":face-blue-smiling:",
    ":hand-pink-waving:", ":face-purple-crying:", ":yougotthis:",
)  # fmt: skip
CHZZK_EMOTES = ("{:d_47:}", "{:d_12:}", "{:d_3:}", "{:d_88:}", "{:mira_love:}", "{:mira_wave:}", "{:mira_lol:}")
EMOJI = ("😂", "💜", "👏", "🔥", "❤️", "🤣", "🫶", "😭", "🎉", "🥺", "✨", "👋", "😍", "🙏", "💀")

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
# First-message spam without a link, from new accounts: (kind, korean, account names, texts).
CONTENT_SPAM = (
    ("promo", False, ("FreeVbucksHub", "GrowthPro", "StreamBoost", "SubBackFast"), (
        "FREE V BUCKS CLICK MY PROFILE", "free robux giveaway check my channel", "cheap followers dm me",
        "want more viewers? I can promote your stream, dm me", "sub4sub anyone? I sub back instantly",
        "get 1000 real followers in 24h, message me on discord", "check out my channel for free skins 🎁",
        "best viewers for streamers, dm me for prices",
    )),
    ("promo", True, ("무료충전소", "홍보대행", "팔로워센터"), (
        "무료 충전 프로필 클릭", "무료 다이아 받는 법 프로필 확인", "팔로워 구매 싸게 해드려요 카톡 문의",
        "방송 홍보 대행 문의 주세요", "구독자 늘려드립니다 오픈채팅 문의",
    )),
    ("scam", False, ("CryptoKing", "TradeWithMe", "BTCdaily"), (
        "crypto signals group, guaranteed daily profit, join my telegram",
        "I turned $100 into $5000 with my bitcoin trading group dm me", "double your crypto in 24h, ask me how",
        "hot singles in your area, check my bio", "best casino bonus code in my profile",
    )),
    ("scam", True, ("코인리딩", "부업천국", "재테크고수"), (
        "코인 리딩방 수익 보장 문의", "하루 30만원 고수익 알바 카톡 주세요", "주식 리딩방 무료 입장 원금 보장",
        "카지노 사이트 가입 코드 드려요", "재택 부업 문의 주세요 텔레 연락",
    )),
)  # fmt: skip
REPEATS = ("MIRA PLEASE NOTICE ME", "미라 나 좀 봐줘", "read my message pls")
CHAR_RUNS = ("a", "ㅋ", "ㅠ", "w", "8", "?", "ㅎ")
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


# ---- templates ------------------------------------------------------------------------------------


def variants(template: Template) -> tuple[str, ...]:
    return (template,) if isinstance(template, str) else template


@functools.cache
def slot_names(phrasing: str) -> tuple[str, ...]:
    """The slots of a phrasing, in order, each once: "{food} or {game}?" -> ("food", "game")."""
    names = (name for _, name, _, _ in string.Formatter().parse(phrasing) if name)
    return tuple(dict.fromkeys(names))


def topic_of(prefix: str, template: Template, fills: Mapping[str, str]) -> str:
    """What a message says: "q:have you tried {food}?|food=ramen" (its template's first phrasing)."""
    first = variants(template)[0]
    return f"{prefix}:{first}" + "".join(f"|{name}={fills[name]}" for name in slot_names(first))


def check_templates() -> None:
    """Every phrasing of a template has the same slots, and every slot has values."""
    threads = [t for pair in (*EN_THREADS, *KO_THREADS) for t in (pair[0], *pair[1])]
    groups = (EN_QUESTIONS, KO_QUESTIONS, EN_GREETINGS, KO_GREETINGS, threads, EN_LINES, KO_LINES)
    for template in (t for group in groups for t in group):
        slots = {frozenset(slot_names(p)) for p in variants(template)}
        if len(slots) != 1 or not all(name in SLOTS[False] for name in next(iter(slots))):
            raise ValueError(f"template {template!r}: phrasings with different or unknown slots")


@attrs.frozen
class Truth:
    """What the generator meant an event to be, kept beside it (never in it)."""

    category: str  # "chat", "paid" or "spam"
    # finer: "chat", "question", "mention", "reaction", "greeting", "crowd", "conversation"; "paid";
    # "command", "bot", "link", "promo", "scam", "repeat", "char_run", "emote_only", "raid"
    kind: str
    topic: str  # what it says: template and slot fills ("q:do you like {food}?|food=ramen"), or "reaction:lol"


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

    def _regulars(self, count: int, korean: bool | None) -> list[Viewer]:
        """`count` different regular viewers (of that language, unless None), the chattier more likely."""
        pool = [i for i, v in enumerate(self.viewers) if korean is None or v.korean == korean]
        weights = [self._weights[i] for i in pool]
        chosen: dict[int, Viewer] = {}
        while len(chosen) < min(count, len(pool)):
            i = self.rng.choices(pool, weights=weights)[0]
            chosen.setdefault(i, self.viewers[i])
        return list(chosen.values())

    def _new_viewer(self, platform: Platform, korean: bool) -> Viewer:
        author = Author(self._author_id(platform), self._name(korean))
        return Viewer(author, platform, korean)

    def _plan(self, at: float, viewer: Viewer, text: str, truth: Truth, amount: Amount | None = None) -> None:
        if 0.0 <= at < self.seconds:
            self.planned.append(Planned(at, viewer, text, truth, amount))

    # ---- words

    def _fills(self, template: Template, korean: bool) -> dict[str, str]:
        values = SLOTS[korean]
        return {name: self.rng.choice(values[name]) for name in slot_names(variants(template)[0])}

    def _say(
        self, prefix: str, template: Template, korean: bool, fills: Mapping[str, str] | None = None
    ) -> tuple[str, str]:
        """(text, topic): one phrasing of `template`, its slots filled (with `fills` if given)."""
        if fills is None:
            fills = self._fills(template, korean)
        phrasings = variants(template)
        index = self.rng.randrange(len(phrasings))
        # The topic ends with which phrasing was said ("~1"): the same text is
        # the whole topic, a paraphrase the same topic before the "~".
        return phrasings[index].format(**fills), f"{topic_of(prefix, template, fills)}~{index}"

    def _emote(self, viewer: Viewer) -> str:
        """One emote: the viewer's platform's (a YouTube shortcode, a Chzzk placeholder) or an emoji."""
        if self.rng.random() < 0.6:
            return self.rng.choice(CHZZK_EMOTES if viewer.platform is Platform.CHZZK else YOUTUBE_EMOTES)
        return self.rng.choice(EMOJI)

    def _tail(self, viewer: Viewer) -> str:
        if self.rng.random() < 0.1:
            return " " + self._emote(viewer)
        return self.rng.choice(KO_TAILS if viewer.korean else EN_TAILS)

    def _opener(self, viewer: Viewer) -> str:
        return self.rng.choice(KO_OPENERS if viewer.korean else EN_OPENERS)

    def _call(self, viewer: Viewer) -> str:
        return self.rng.choice(KO_CALLS if viewer.korean else EN_CALLS)

    def question(self, viewer: Viewer, template: Template, fills: Mapping[str, str] | None = None) -> tuple[str, str]:
        """(text, topic): sometimes a call of her name and an opener before it, a tail after it."""
        rng = self.rng
        phrase, topic = self._say("q", template, viewer.korean, fills)
        call = self._call(viewer) if rng.random() < 0.4 else ""
        opener = self._opener(viewer) if rng.random() < 0.3 else ""
        tail = self._tail(viewer) if rng.random() < 0.35 else ""
        return call + opener + phrase + tail, topic

    def greeting(self, viewer: Viewer) -> tuple[str, str]:
        """(text, topic): "hi Mira", "미라 안녕~", "good evening chat"."""
        rng = self.rng
        korean = viewer.korean
        phrase, topic = self._say("greeting", rng.choice(KO_GREETINGS if korean else EN_GREETINGS), korean)
        if rng.random() < 0.5:
            phrase = rng.choice(KO_CALLS) + phrase if korean else phrase + rng.choice(EN_CALLS_AFTER)
        return phrase + self._tail(viewer), topic

    def emote_only(self, viewer: Viewer) -> str:
        """A run of emotes: the platform's codes, emoji or both, one repeated or mixed, with or without spaces."""
        rng = self.rng
        codes = CHZZK_EMOTES if viewer.platform is Platform.CHZZK else YOUTUBE_EMOTES
        roll = rng.random()
        pool = codes if roll < 0.45 else EMOJI if roll < 0.9 else (*codes, *EMOJI)
        count = rng.randint(1, 5)
        run = [rng.choice(pool)] * count if rng.random() < 0.6 else [rng.choice(pool) for _ in range(count)]
        return rng.choice(("", "", " ")).join(run)

    # ---- ordinary chat

    def chat_line(self, viewer: Viewer) -> tuple[str, str, str]:
        """(text, kind, topic): kind is "reaction", "question", "greeting", "mention" or "chat"."""
        rng = self.rng
        ko = viewer.korean
        roll = rng.random()
        if roll < 0.12:
            text = rng.choice(KO_REACTIONS if ko else EN_REACTIONS)
            return text, "reaction", f"reaction:{text}"
        if roll < 0.24:
            text, topic = self.question(viewer, rng.choice(KO_QUESTIONS if ko else EN_QUESTIONS))
            return text, "question", topic
        if roll < 0.26:
            text, topic = self.greeting(viewer)
            return text, "greeting", topic
        phrase, topic = self._say("line", rng.choice(KO_LINES if ko else EN_LINES), ko)
        line = self._opener(viewer) + phrase + self._tail(viewer)
        if roll < 0.34:
            return self._call(viewer) + line, "mention", topic
        return line, "chat", topic

    def chat(self, count: int) -> None:
        for _ in range(count):
            viewer = self._someone()
            text, kind, topic = self.chat_line(viewer)
            self._plan(self.rng.uniform(0.0, self.seconds), viewer, text, Truth("chat", kind, topic))

    def crowds(self, per_minute: float) -> None:
        """Popular questions: one question asked by 2-6 regulars within 5-40 s, each in their own words."""
        rng = self.rng
        for _ in range(round(self.seconds / 60.0 * per_minute)):
            korean = rng.random() < 0.5
            template = rng.choice(KO_QUESTIONS if korean else EN_QUESTIONS)
            fills = self._fills(template, korean)
            span = rng.uniform(5.0, 40.0)
            start = rng.uniform(0.0, self.seconds - span)
            for viewer in self._regulars(rng.randint(2, 6), korean):
                text, topic = self.question(viewer, template, fills)
                self._plan(start + rng.uniform(0.0, span), viewer, text, Truth("chat", "crowd", topic))

    def greeting_waves(self, later: int) -> None:
        """At the start, and `later` times after (regulars coming back from elsewhere), 10-25 regulars greet
        over 20-60 s."""
        rng = self.rng
        starts = [rng.uniform(0.0, 5.0)] + [rng.uniform(0.15, 0.9) * self.seconds for _ in range(later)]
        for start in starts:
            span = rng.uniform(20.0, 60.0)
            for viewer in self._regulars(rng.randint(10, 25), None):
                text, topic = self.greeting(viewer)
                self._plan(start + rng.uniform(0.0, span), viewer, text, Truth("chat", "greeting", topic))

    def conversations(self, per_minute: float) -> None:
        """Viewers talking to each other: an opening, then 2-4 replies, each to the one who spoke before
        ("@name ..." in English, "name님 ..." in Korean), between two or three regulars."""
        rng = self.rng
        for _ in range(round(self.seconds / 60.0 * per_minute)):
            korean = rng.random() < 0.5
            opening, follow_ups = rng.choice(KO_THREADS if korean else EN_THREADS)
            values = SLOTS[korean]
            slots = dict.fromkeys(n for t in (opening, *follow_ups) for n in slot_names(variants(t)[0]))
            fills = {name: rng.choice(values[name]) for name in slots}
            people = self._regulars(rng.randint(2, 3), korean)
            at = rng.uniform(0.0, self.seconds - 30.0)
            speaker = people[0]
            text, topic = self._say("conv", opening, korean, fills)
            self._plan(at, speaker, text + self._tail(speaker), Truth("chat", "conversation", topic))
            for reply in rng.sample(follow_ups, rng.randint(2, 4)):
                at += rng.uniform(3.0, 15.0)
                to, speaker = speaker, rng.choice([p for p in people if p is not speaker])
                text, topic = self._say("conv", reply, korean, fills)
                address = f"{to.author.name}님 " if korean else f"@{to.author.name} "
                self._plan(at, speaker, address + text + self._tail(speaker), Truth("chat", "conversation", topic))

    # ---- paid

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
        text, topic = self._say("paid", rng.choice(texts), viewer.korean)
        self._plan(at, viewer, text, Truth("paid", "paid", topic), amount)

    # ---- spam and bots

    def raids(self) -> None:
        """Each raid: 30 new authors post variants of one text within a few seconds."""
        rng = self.rng
        for i, (platform, texts) in enumerate(RAIDS):
            start = (i + 0.5) * self.seconds / len(RAIDS) + rng.uniform(-30.0, 30.0)
            length = rng.uniform(3.0, 6.0)
            korean = platform is Platform.CHZZK
            truth = Truth("spam", "raid", f"raid:{texts[0]}")
            for _ in range(RAIDERS):
                raider = self._new_viewer(platform, korean)
                self._plan(start + rng.uniform(0.0, length), raider, rng.choice(texts), truth)

    def bot_timers(self) -> None:
        for name, period, text in BOT_TIMERS:
            for platform in Platform:
                bot = bot_viewer(name, platform)
                at = self.rng.uniform(0.0, period)
                while at < self.seconds:
                    self._plan(at, bot, text, Truth("spam", "bot", f"bot:{text}"))
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
                self._plan(at, viewer, text, Truth("spam", "repeat", f"repeat:{text}"))
                at += rng.uniform(4.0, 8.0)

    def spam(self, budget: int) -> None:
        """Commands (half of them answered by a bot), links, promotion and scams, character runs, emote-only."""
        rng = self.rng
        spent = 0
        while spent < budget:
            at = rng.uniform(0.0, self.seconds)
            roll = rng.random()
            if roll < 0.22:
                spent += self._command(at)
            elif roll < 0.36:
                name, korean, text = rng.choice(LINK_SPAM)
                platform = Platform.CHZZK if korean else Platform.YOUTUBE
                spammer = Viewer(Author(f"spam-{name}", name), platform, korean)
                self._plan(at, spammer, text, Truth("spam", "link", f"link:{text}"))
                spent += 1
            elif roll < 0.46:
                spent += self._content_spam(at)
            elif roll < 0.70:
                text = rng.choice(CHAR_RUNS) * rng.randint(12, 30)
                self._plan(at, self._someone(), text, Truth("spam", "char_run", f"char_run:{text}"))
                spent += 1
            else:
                viewer = self._someone()
                text = self.emote_only(viewer)
                self._plan(at, viewer, text, Truth("spam", "emote_only", f"emote:{text}"))
                spent += 1

    def _command(self, at: float) -> int:
        rng = self.rng
        viewer = self._someone()
        text = rng.choice(KO_COMMANDS if viewer.korean else COMMANDS)
        self._plan(at, viewer, text, Truth("spam", "command", f"command:{text}"))
        if rng.random() < 0.5:
            return 1
        name = rng.choice(tuple(BOT_REPLIES))
        bot = bot_viewer(name, viewer.platform)
        template = rng.choice(BOT_REPLIES[name])
        text = template.format(name=viewer.author.name, n=rng.randint(2, 59))
        self._plan(at + rng.uniform(0.5, 2.0), bot, text, Truth("spam", "bot", f"bot:{template}"))
        return 2

    def _content_spam(self, at: float) -> int:
        """A new account posts promotion or a scam, without a link, once or twice."""
        rng = self.rng
        kind, korean, names, texts = rng.choice(CONTENT_SPAM)
        home = Platform.CHZZK if korean else Platform.YOUTUBE
        platform = home if rng.random() < 0.8 else rng.choice(tuple(Platform))
        author = Author(self._author_id(platform), f"{rng.choice(names)}{rng.randint(1, 9999)}")
        spammer = Viewer(author, platform, korean)
        text = rng.choice(texts)
        truth = Truth("spam", kind, f"{kind}:{text}")
        self._plan(at, spammer, text, truth)
        if rng.random() < 0.6:
            return 1
        self._plan(at + rng.uniform(10.0, 90.0), spammer, text + rng.choice(("", "!!", " 🎁", "!")), truth)
        return 2


def make_stream(
    seed: int, *, seconds: float, rate: float, paid_every: float, spam_share: float
) -> tuple[list[tuple[float, ChatEvent]], dict[Key, Truth]]:
    """The stream as (seconds from the start, event), in order, and what each event is."""
    check_templates()
    maker = StreamMaker(random.Random(seed), seconds)
    total = round(rate * seconds)
    maker.paid_bursts(paid_every)
    maker.raids()
    maker.bot_timers()
    maker.repeaters()
    special_spam = sum(1 for p in maker.planned if p.truth.category == "spam")
    maker.spam(max(0, round(spam_share * total) - special_spam))
    maker.crowds(CROWDS_PER_MINUTE)
    maker.greeting_waves(LATER_GREETING_WAVES)
    maker.conversations(CONVERSATIONS_PER_MINUTE)
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
    at: float  # Trio time of the dispatch
    age: float  # seconds from received to dispatched
    score: Mapping[str, Any]  # a turn's score parts; {} for an asker merged into a turn
    merged_into: str | None  # an asker merged into a turn: the id of the turn's leader


@attrs.define
class Tally:
    """A ledger listener: every fate, against what the event was meant to be.

    A turn is one dispatched event (its leader) with its score as detail; when
    several viewers said the same thing, each other asker is dispatched in the
    same turn with detail {"merged_into": <leader id>} and no score."""

    truth: Mapping[Key, Truth]
    dispatched: list[Dispatch] = attrs.field(factory=list)
    fates: dict[str, Counter[str]] = attrs.field(factory=lambda: defaultdict(Counter))  # kind -> fate[:reason]
    by_category: dict[str, Counter[str]] = attrs.field(factory=lambda: defaultdict(Counter))  # category -> ...
    missed_paid: list[tuple[ChatEvent, str]] = attrs.field(factory=list)  # (event, fate:reason)

    def __call__(self, event: ChatEvent, fate: Fate, reason: str | None, detail: Mapping[str, Any]) -> None:
        truth = self.truth[(event.platform.value, event.id)]
        outcome = fate.value if reason is None else f"{fate.value}:{reason}"
        self.fates[truth.kind][outcome] += 1
        self.by_category[truth.category][outcome] += 1
        if fate is Fate.DISPATCHED:
            # Dispatch happens inside the session's pull: now is the dispatch time.
            now = trio.current_time()
            leader = detail.get("merged_into")
            merged_into = None if leader is None else str(leader)
            score = {} if merged_into is not None else dict(detail)
            self.dispatched.append(Dispatch(event, truth, now, now - event.received_at, score, merged_into))
        elif truth.category == "paid":
            self.missed_paid.append((event, outcome))


def same_text(truth: Truth) -> str:
    """The same thing in the same words (openers, tails, name calls and emotes aside)."""
    return truth.topic


def same_topic(truth: Truth) -> str:
    """The same thing in any of its phrasings (a paraphrase too)."""
    return truth.topic.rsplit("~", 1)[0]


def repeated_answers(
    turns: Sequence[Dispatch], window: float, key: Callable[[Truth], str] = same_text
) -> list[tuple[Dispatch, Dispatch]]:
    """(earlier, later) for every turn whose `key` the nearest earlier turn with that key had
    less than `window` seconds before: three turns on one text within the window are two repeats."""
    last: dict[str, Dispatch] = {}
    pairs: list[tuple[Dispatch, Dispatch]] = []
    for turn in sorted(turns, key=lambda d: d.at):
        earlier = last.get(key(turn.truth))
        if earlier is not None and turn.at - earlier.at < window:
            pairs.append((earlier, turn))
        last[key(turn.truth)] = turn
    return pairs


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


class Unbalanced(RuntimeError):
    """The run ended with events that have no fate, or the ledger's law broken."""


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
        raise Unbalanced(f"the books do not balance: {ledger.summary()}")
    return Run(code, ledger.to_dict(), ended[0], wall)


def figures(
    seed: int, config: Config, truth: Mapping[Key, Truth], tally: Tally, ledger_counts: dict[str, Any]
) -> dict[str, Any]:
    sent = Counter(t.category for t in truth.values())
    spam_sent = Counter(t.kind for t in truth.values() if t.category == "spam")
    chat_sent = Counter(t.kind for t in truth.values() if t.category == "chat")
    dispatched = tally.dispatched  # turns and the askers merged into them
    turns = [d for d in dispatched if d.merged_into is None]
    askers = Counter(d.merged_into for d in dispatched if d.merged_into is not None)  # leader id -> followers
    leader_ids = {d.event.id for d in turns}
    chat_turns = [d for d in turns if d.truth.category == "chat"]
    repeats = repeated_answers(chat_turns, REPEAT_WINDOW)
    paraphrases = repeated_answers(chat_turns, REPEAT_WINDOW, key=same_topic)
    ages = [d.age for d in dispatched]
    turn_ages = [d.age for d in turns]
    paid = [d for d in dispatched if d.truth.category == "paid"]
    spam = [d for d in dispatched if d.truth.category == "spam"]
    paid_share = len(paid) / sent["paid"] if sent["paid"] else None
    turn_median = statistics.median(turn_ages) if turn_ages else None
    score_parts = Counter(part for d in turns for part in d.score if part != "total")
    turns_per_author = Counter((d.event.platform, d.event.author.id) for d in dispatched)
    chat_authors = {(d.event.platform, d.event.author.id) for d in chat_turns}
    distinct_share = len(chat_authors) / len(chat_turns) if chat_turns else None
    # Chat the router turned away: filtered for any reason but "answered" (said again after its answer)
    # counts as taken for spam; drops (overflow, flood purges, expiry, answered while waiting) apart.
    chat_fates = tally.by_category["chat"]
    chat_filtered = Counter({o.partition(":")[2]: n for o, n in chat_fates.items() if o.startswith("filtered:")})
    chat_dropped = Counter({o.partition(":")[2]: n for o, n in chat_fates.items() if o.startswith("dropped:")})
    as_spam = sum(n for reason, n in chat_filtered.items() if reason != "answered")
    as_spam_pct = 100.0 * as_spam / sent["chat"] if sent["chat"] else None
    return {
        "bench": "selection",
        "seed": seed,
        "events": len(truth),
        "sent": dict(sorted(sent.items())),
        "chat_sent_by_kind": dict(sorted(chat_sent.items())),
        "spam_sent_by_kind": dict(sorted(spam_sent.items())),
        "dispatched": len(dispatched),
        "turns": len(turns),
        "merged_turns": sum(1 for leader in askers if leader in leader_ids),
        "askers_credited": askers.total(),
        "askers_of_unknown_leader": sum(n for leader, n in askers.items() if leader not in leader_ids),
        "chat_turns": len(chat_turns),
        "paid_sent": sent["paid"],
        "paid_dispatched": len(paid),
        "paid_dispatched_share": rounded(paid_share, 4),
        "spam_dispatched": len(spam),
        "spam_dispatched_by_kind": dict(sorted(Counter(d.truth.kind for d in spam).items())),
        "answers_repeated_within_120s": len(repeats),
        # the same topic in other words ("진짜 AI야?" after "사람 아니에요?"): words in common cannot
        # tell these, so they are shown, not a goal
        "topics_repeated_within_120s": len(paraphrases),
        "answers_repeated_detail": [
            {"topic": b.truth.topic, "texts": [a.event.text, b.event.text], "seconds_apart": round(b.at - a.at, 1)}
            for a, b in repeats[:8]
        ],
        "legit_chat_filtered_as_spam": as_spam,
        "legit_chat_filtered_as_spam_pct": rounded(as_spam_pct),
        "legit_chat_filtered_by_reason": dict(chat_filtered.most_common()),
        "legit_chat_dropped_by_reason": dict(chat_dropped.most_common()),
        "legit_chat_dropped_flood": chat_dropped["flood"],
        "distinct_author_share_chat_turns": rounded(distinct_share, 4),
        "age_median_s": rounded(statistics.median(ages) if ages else None),
        "age_p95_s": rounded(percentile(ages, 0.95)),
        "age_max_s": rounded(max(ages, default=None)),
        "turn_age_median_s": rounded(turn_median),
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
            | ({"merged_into": d.merged_into} if d.merged_into else {})
            for d in spam
        ],
        "goals": {
            "every_paid_dispatched": paid_share == 1.0,
            "zero_spam_dispatched": not spam,
            "zero_chat_answers_repeated_within_120s": not repeats,
            "median_age_under_10s": turn_median is not None and turn_median < 10.0,
            "distinct_authors_at_least_90pct": distinct_share is not None and distinct_share >= 0.9,
            "legit_chat_filtered_under_25pct": as_spam_pct is not None and as_spam_pct < 25.0,
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
    "zero_spam_dispatched": "zero spam dispatched (merged askers included)",
    "zero_chat_answers_repeated_within_120s": "zero chat answers repeated within 120 s",
    "median_age_under_10s": "median age at dispatch (turns) under 10 s",
    "distinct_authors_at_least_90pct": "at least 90% distinct authors among chat turns",
    "legit_chat_filtered_under_25pct": "legit chat filtered as spam under 25%",
}


def goal_lines(out: Mapping[str, Any]) -> list[str]:
    """One line per goal; a goal not met names the events that missed it."""
    top = ", ".join(f"{reason} {n}" for reason, n in list(out["legit_chat_filtered_by_reason"].items())[:4])
    repeats = "; ".join(
        f"{' / '.join(map(repr, r['texts']))} {r['seconds_apart']} s apart" for r in out["answers_repeated_detail"][:3]
    )
    share = out["distinct_author_share_chat_turns"]
    why = {
        "every_paid_dispatched": "; ".join(
            f"{m['amount']} {m['text']!r} {m['fate']}" for m in out["paid_not_dispatched"][:5]
        ),
        "zero_spam_dispatched": "; ".join(f"{d['kind']} {d['text']!r}" for d in out["spam_dispatched_detail"][:5]),
        "zero_chat_answers_repeated_within_120s": f"{out['answers_repeated_within_120s']}, e.g. {repeats}",
        "median_age_under_10s": f"median {out['turn_age_median_s']} s",
        "distinct_authors_at_least_90pct": f"{share} of {out['chat_turns']} chat turns",
        "legit_chat_filtered_under_25pct": f"{out['legit_chat_filtered_as_spam_pct']}%: {top}",
    }
    return [
        f"  goal: {GOALS[goal]}: met" if met else f"  goal: {GOALS[goal]}: NOT met ({why[goal]})"
        for goal, met in out["goals"].items()
    ]


def run_one(seed: int, args: argparse.Namespace, log: TextIO | None = None) -> dict[str, Any]:
    """One stream through the service: its figures, or {"error": ...} if its books do not balance."""
    config = bench_config(args.config, speaking_time=args.speaking_time, capacity=args.capacity)
    stream, truth = make_stream(
        seed, seconds=args.minutes * 60, rate=args.rate, paid_every=args.paid_every, spam_share=args.spam_share
    )
    feed, tally = Feed(stream), Tally(truth)
    try:
        run = run_service(config, feed, tally, log if log is not None else io.StringIO())
    except Unbalanced as error:
        return {"bench": "selection", "seed": seed, "error": str(error)}
    out = figures(seed, config, truth, tally, run.counts)
    return out | {
        "exit_code": run.exit_code,
        "virtual_seconds": round(run.virtual_seconds, 1),
        "wall_seconds": round(run.wall_seconds, 2),
    }


def seed_line(out: Mapping[str, Any]) -> str:
    """One short line per seed: goals met, and the figures behind them."""
    if "error" in out:
        return f"seed {out['seed']}: ERROR {out['error']}"
    goals = out["goals"]
    missed = [goal for goal, met in goals.items() if not met]
    share = out["distinct_author_share_chat_turns"]
    return (
        f"seed {out['seed']}: {len(goals) - len(missed)}/{len(goals)} goals met;"
        f" turns {out['turns']} ({out['merged_turns']} merged, {out['askers_credited']} askers credited),"
        f" paid {out['paid_dispatched']}/{out['paid_sent']}, spam dispatched {out['spam_dispatched']},"
        f" repeats within 120 s {out['answers_repeated_within_120s']},"
        f" legit chat filtered {out['legit_chat_filtered_as_spam_pct']}%,"
        f" turn age median {out['turn_age_median_s']} s,"
        f" distinct authors {'-' if share is None else f'{share:.0%}'}"
        + (f"; not met: {', '.join(missed)}" if missed else "")
    )


def summarize(results: Sequence[Mapping[str, Any]], wall: float) -> dict[str, Any]:
    """Per figure (every number at the top level of a run's figures), min/median/max over the seeds;
    per goal, how many seeds met it (a seed whose run failed meets none)."""
    outs = [out for out in results if "error" not in out]
    first: Mapping[str, Any] = outs[0] if outs else {"goals": dict.fromkeys(GOALS, False), "settings": None}
    names = dict.fromkeys(
        name
        for out in outs
        for name, value in out.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and name != "seed"
    )
    spread: dict[str, dict[str, float] | None] = {}
    for name in names:
        values = [out[name] for out in outs if out.get(name) is not None]
        spread[name] = (
            {"min": min(values), "median": round(statistics.median(values), 4), "max": max(values)} if values else None
        )
    goals = {goal: sum(1 for out in outs if out["goals"][goal]) for goal in first["goals"]}
    return {
        "bench": "selection",
        "seeds": [out["seed"] for out in results],
        "goals_met": goals,
        "all_goals_met": sum(1 for out in outs if all(out["goals"].values())),
        "errors": {str(out["seed"]): out["error"] for out in results if "error" in out},
        "figures": spread,
        "settings": first["settings"],
        "wall_seconds": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=None, help="run seeds 1..N and summarise the goals over them")
    parser.add_argument("--jobs", type=int, default=2, help="processes for --seeds")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second, all kinds")
    parser.add_argument("--paid-every", type=float, default=20.0, help="seconds between paid messages, on average")
    parser.add_argument("--spam-share", type=float, default=0.15)
    parser.add_argument("--speaking-time", type=float, default=6.0, help="seconds the session takes per turn")
    parser.add_argument("--capacity", type=int, default=None, help="pending buffer size (default: the config's)")
    parser.add_argument("--config", type=Path, default=REPO / "config.toml")
    parser.add_argument("--log", type=Path, default=None, help="write the service's JSON log here (one seed)")
    args = parser.parse_args()
    if args.seeds is not None:
        if args.seeds < 1 or args.jobs < 1:
            parser.error("--seeds and --jobs must be at least 1")
        if args.log is not None:
            parser.error("--log is for one seed")
        many_seeds(args)
        return

    log: TextIO = args.log.open("w", encoding="utf-8") if args.log else io.StringIO()
    with log:
        out = run_one(args.seed, args, log)
    if "error" in out:
        print(f"selection: seed {args.seed}: {out['error']}")
        print(json.dumps(out, ensure_ascii=False))
        raise SystemExit(1)
    share = out["paid_dispatched_share"]
    print(
        f"selection: {out['events']} events ({out['sent'].get('paid', 0)} paid, {out['sent'].get('spam', 0)} spam)"
        f" over {out['virtual_seconds']:.0f} s of Trio time in {out['wall_seconds']:.1f} s wall ->"
        f" {out['turns']} turns ({out['merged_turns']} merged, {out['askers_credited']} askers credited);"
        f" paid dispatched {out['paid_dispatched']}/{out['paid_sent']}"
        f" ({'-' if share is None else f'{share:.0%}'}), spam dispatched {out['spam_dispatched']},"
        f" age at dispatch median {out['age_median_s']} s / p95 {out['age_p95_s']} s"
        f" (turns: median {out['turn_age_median_s']} s), {out['distinct_authors_dispatched']} distinct authors"
    )
    print(
        f"  chat: {out['chat_turns']} turns, {out['answers_repeated_within_120s']} answers repeated within 120 s,"
        f" {out['legit_chat_filtered_as_spam']}/{out['sent'].get('chat', 0)} filtered as spam"
        f" ({out['legit_chat_filtered_as_spam_pct']}%), {out['legit_chat_dropped_flood']} dropped as a flood,"
        f" distinct authors {out['distinct_author_share_chat_turns']} of turns"
    )
    for line in goal_lines(out):
        print(line)
    print(json.dumps(out, ensure_ascii=False))


def many_seeds(args: argparse.Namespace) -> None:
    """Seeds 1..N, each a separate run of the service, `args.jobs` at a time."""
    began = time.perf_counter()
    seeds = range(1, args.seeds + 1)
    outs: list[dict[str, Any]] = []
    with multiprocessing.Pool(min(args.jobs, len(seeds))) as pool:
        for out in pool.imap(functools.partial(run_one, args=args), seeds):
            print(seed_line(out), flush=True)
            outs.append(out)
    summary = summarize(outs, time.perf_counter() - began)
    for goal, met in summary["goals_met"].items():
        print(f"  goal: {GOALS[goal]}: met in {met}/{len(outs)} seeds")
    if summary["errors"]:
        print(f"  {len(summary['errors'])} seeds failed: their books do not balance")
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""What one caller turn means: intents, day, time, name, yes/no, a pick from offered times.

Rules, not a model: every phrase here was chosen for what callers say to a
receptionist, and the reading depends on what they were just asked (`expect`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from pipelines.receptionist import replies
from pipelines.receptionist.names import COMMON_WORDS, spelled_words
from pipelines.receptionist.when import (
    TimeMention,
    find_day,
    find_part_of_day,
    find_time,
    normalize,
)


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


_GOODBYE = _rx(r"bye", r"goodbye", r"good bye", r"bye bye", r"see you", r"talk to you later",
               r"bye now", r"by now", r"by by", r"buh bye", r"good by", r"goodnight",
               r"i'll call (?:you )?back(?: later)?", r"call back later",
               r"have a (?:good|nice|great|lovely) (?:day|one|night|evening|afternoon|weekend)",
               r"take care", r"hang up")
_DONE = _rx(r"that's all", r"that is all", r"that'll be all", r"that will be all",
            r"that's it", r"that is it", r"nothing else", r"i'm all set", r"all set",
            r"i'm good", r"i am good", r"no thanks", r"no thank you", r"that's everything",
            r"i'm done", r"we're done", r"that's all i needed")
_THANKS = _rx(r"thanks", r"thank you", r"cheers", r"appreciate it")
_GREETING = re.compile(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening)|hiya)\b")
_YES = _rx(r"yes", r"yeah", r"yep", r"yup", r"yea", r"sure", r"correct", r"right", r"ok",
           r"okay", r"alright", r"all right", r"sounds good", r"sounds great", r"perfect",
           r"great", r"absolutely", r"definitely", r"of course", r"please do", r"go ahead",
           r"do it", r"book it", r"that works", r"works for me", r"fine", r"uh huh", r"mhm",
           r"exactly", r"please", r"that's it", r"that is it", r"yes please", r"yes sir",
           r"you bet", r"sure thing", r"affirmative", r"that's right", r"that's correct",
           r"that's fine", r"that's perfect", r"ya", r"yah", r"yas", r"yeh")
# Whole answers recognition makes of a short "yep" or "yes" on a phone line.
_MISHEARD_YES = re.compile(r"^(?:work|yet|yup|yap|jep|yes+|yeah+|yip|ep|yo|yay|sure)[.!?]*$")
_MISHEARD_NO = re.compile(r"^(?:know|now|nah|nope|no+|naw)[.!?]*$")
_NO = _rx(r"no", r"nope", r"nah", r"not really", r"wrong", r"incorrect", r"not right",
          r"not quite", r"negative", r"that's not it")
_CANCEL = _rx(r"never ?mind", r"cancel (?:that|it|this|the request)",
              r"forget (?:it|that|about it)", r"scratch that", r"don't book", r"do not book",
              r"don't bother", r"changed my mind", r"no longer need")
_CORRECTION = _rx(r"actually", r"instead", r"make it", r"change (?:it|that|the)", r"switch",
                  r"rather", r"no wait", r"move it", r"i meant", r"i mean", r"oh wait",
                  r"sorry,? (?:it's|its|i)")
# "the day after (that)", "the next day": a day relative to the one being discussed.
_DAY_SHIFT = re.compile(r"\b(?:the\s+)?(?:day after(?: that)?|next day|following day|a day later)\b"
                        r"|\b(?P<back>(?:the\s+)?day before(?: that)?)\b")
_BOOK = _rx(r"book", r"booking", r"appointments?", r"appt", r"schedule", r"reserve",
            r"reservation", r"come in", r"stop by", r"drop by", r"set up",
            r"make an? (?:time|date)",
            r"see (?:the|a) (?:doctor|dentist|someone)", r"get in", r"visit", r"consultation",
            r"check ?up", r"cleaning", r"haircut", r"session")
_AVAILABILITY = _rx(r"available", r"availability", r"free", r"openings?",
                    r"anything (?:on|for|at|in|available|open|free|left)", r"any time",
                    r"anytime", r"spots?", r"slots?", r"what times", r"when can", r"do you have",
                    r"fit me in", r"is .{1,20} (?:free|possible)")
# Questions answered from what the receptionist knows: opening hours, who and where-to-call.
_HOURS = _rx(r"hours", r"opening times", r"open until",
             r"(?:what|which) time do you (?:open|close)",
             r"when do you (?:open|close)", r"when are you open", r"closing time",
             r"(?:are|is) (?:you|the office|the practice|the clinic|the shop|it|your office)"
             r" open", r"you open", r"open (?:today|tomorrow|on)", r"do you close",
             r"time (?:do|does) (?:you|it|the office) (?:open|close)",
             r"what time you (?:open|close)")
_CLOSE = _rx(r"close", r"closing", r"open until", r"shut")
_OPEN = _rx(r"(?:do|does) (?:you|it|the office) open", r"you open", r"opening time",
            r"time .{0,12}open\b")
_WHO = _rx(r"(?:what's|what is|whats) (?:the |your )?name", r"name of (?:your|the|this)",
           r"who (?:is this|am i (?:talking|speaking) (?:to|with)|are you)",
           r"is this (?:the |a )?(?:dentist|doctor|clinic|office|practice|salon|shop)",
           r"what (?:place|business|office|company) is this", r"have i reached")
_NUMBER = _rx(r"(?:your|the|office|business) (?:phone )?number", r"number (?:to|i can) call",
              r"how (?:can|do) i (?:call|reach) you")
_PERSON = (r"(?:a |an |the |your )?(?:real |live )?(?:receptionist|front desk|office manager"
           r"|manager|person|human|agent|operator|representative)")
_CANCEL_BOOKING = _rx(r"cancel", r"can(?:'t|not|t) make")
_MOVE_BOOKING = _rx(r"reschedule", r"move", r"change", r"another (?:day|time)",
                    r"push (?:it )?back")
# Checked in order; the first match names what we cannot do.
_OUT_OF_SCOPE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("existing", _rx(r"(?:cancel|reschedule|move|change|confirm|check on) "
                     r"(?:my|our|an|the|his|her) (?:existing )?(?:appointment|booking|reservation)",
                     r"reschedule", r"existing appointment", r"my appointment (?:is|was)",
                     r"can(?:'t|not|t) make (?:my|the|our|it to my|it to the) "
                     r"(?:appointment|booking)")),
    # "Are you a real person?" asks what we are; it is not a request to be transferred.
    ("bot", _rx(r"are you (?:a |an )?(?:real|human|robot|bot|machine|computer|recording|ai"
                r"|person|automated)",
                r"am i (?:talking|speaking) (?:to|with) (?:a |an )?(?:real|human|robot|bot"
                r"|machine|computer|recording|ai|person)",
                r"is this (?:a |an )?(?:real person|human|robot|bot|machine|computer|recording"
                r"|automated)")),
    ("human", _rx(r"(?:speak|talk) (?:to|with) (?:a|an|the|someone|somebody|your|real|dr"
                  r"|doctor|mr|mrs|ms)",
                  r"real person", r"live (?:person|agent)", r"human(?! resources)", r"operator",
                  r"representative", r"someone else",
                  r"(?:someone|somebody|anyone|anybody) (?:i|we) (?:can|could) (?:speak|talk)",
                  # "my manager" alone is not a request: "book it for my manager".
                  r"(?:get|want|need|like|reach|give me|is there) (?:me )?(?:to )?" + _PERSON,
                  r"^" + _PERSON + r"(?=\W*(?:please)?\W*$)",
                  r"transfer (?:me|us|my call|the call|this call)", r"(?:be|get) transferred",
                  r"transferred to", r"transfer(?=\W*(?:please|now|thanks|thank you)?\W*$)",
                  r"put me through", r"(?:connect|put) me (?:to|with|through)")),
    ("messages", _rx(r"leave (?:a |him a |her a |them a )?message", r"take a message",
                     r"message for", r"call me back", r"callback", r"pass (?:on )?a message",
                     r"give (?:him|her|them) a message")),
    ("prices", _rx(r"price", r"prices", r"pricing", r"cost", r"costs", r"how much", r"fee", r"fees",
                   r"charge", r"charges", r"rates?", r"payment", r"pay", r"insurance", r"quote",
                   r"deposit")),
    ("location", _rx(r"address", r"where are you", r"where is", r"located", r"location",
                     r"directions", r"parking", r"how do i get", r"how to get")),
    ("services", _rx(r"services", r"do you (?:do|offer|accept|take|treat)", r"treatments?",
                     r"menu", r"walk[ -]?ins?")),
    ("weather", _rx(r"weather", r"raining", r"sunny")),
)
_CHOICE = re.compile(r"\b(?:the\s+)?(?P<c>1st|2nd|3rd|first|second|third|last|earlier|earliest"
                     r"|later|latest)(?:\s+(?:one|option|slot|time))?\b")
_CHOICE_INDEX = {"1st": 0, "first": 0, "earlier": 0, "earliest": 0, "2nd": 1, "second": 1,
                 "3rd": 2, "third": 2, "last": -1, "later": -1, "latest": -1}
# Key presses as Pipecat's DTMFAggregator writes them into the context: "DTMF: 123#".
_DTMF = re.compile(r"\bDTMF:\s*([0-9A-D*#]+)", re.I)
_NOISE = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*")  # "[inaudible]", "(coughs)"
_FILLERS = {"uh", "um", "umm", "uhm", "er", "erm", "hmm", "mm", "ah", "oh", "so", "well", "like"}

# --- names ----------------------------------------------------------------------------------

_TITLES = {"dr": "Dr.", "doctor": "Dr.", "mr": "Mr.", "mrs": "Mrs.", "ms": "Ms.",
           "miss": "Miss", "mx": "Mx.", "prof": "Prof."}
_STRONG_CUE = re.compile(r"\b(?:my name is|my name's|my names|name is|the name is|name's|call me"
                         r"|under the name(?: of)?|book it under|put it under)\s+", re.I)
_NAME_IS = re.compile(r"\b(?:my name is|my name's|the name is|name is|under the name)\b", re.I)
_WEAK_CUE = re.compile(r"\b(?:this is|it's|it is|its|i'm|i am|im|for)\s+", re.I)
_NAME_SPAN = re.compile(r"(?:(?:dr|doctor|mr|mrs|ms|miss|mx|prof)\.?\s+)?"
                        r"[A-Za-z][A-Za-z'\-]*(?:\s+[A-Za-z][A-Za-z'\-]*){0,2}", re.I)
_NOT_NAMES_TEXT = """
a an the and or but to for from with at on in of about just calling looking trying wondering
hoping going gonna wanna want wanted need needing like would could can will shall should i me
my you your we us it its that this there here so very really well yes yeah yep no not nope sure
ok okay fine good great sorry thanks thank please hi hello hey interested available free busy
done all set actually also still again booking book appointment schedule make change cancel
today tomorrow tonight morning afternoon evening noon next last correct right wrong afraid new
back speaking is be glad happy calling ringing phoning what who how why when where around out
waiting late early calling a.m p.m am pm one two three four five six seven eight nine ten eleven
twelve half quarter past oclock o'clock first second third available after before nobody none
anything something nothing everyone someone monday tuesday wednesday thursday friday saturday
sunday january february march april may june july august september october november december
week weekend day time fine perfect exactly true yours mine hers his him her them they
bye goodbye nope yep sounds noon midday okay alright office dentist doctor
"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())


def _cap(token: str) -> str:
    parts = token.split("-")
    out = []
    for part in parts:
        if "'" in part and part.index("'") == 1:  # O'brien → O'Brien
            out.append(part[0].upper() + "'" + part[2:3].upper() + part[3:])
        else:
            out.append(part[:1].upper() + part[1:])
    return "-".join(out)


def _name_after(text: str, start: int, *, strict: bool) -> str | None:
    m = _NAME_SPAN.match(text, start)
    if not m:
        return None
    tokens = m[0].split()
    title = None
    if tokens and tokens[0].rstrip(".").lower() in _TITLES:
        title = _TITLES[tokens.pop(0).rstrip(".").lower()]
    words = []
    for token in tokens:
        low = token.lower()
        if low in _NOT_NAMES or (strict and low.endswith("ing")):
            break
        words.append(token)
    if not words:
        return None
    if strict and title is None and not words[0][0].isupper():
        return None  # "i'm looking": only a capitalised word after a weak cue is a name
    return " ".join(([title] if title else []) + [_cap(w) for w in words])


def find_name(text: str, *, expecting_name: bool) -> str | None:
    """The caller's name when they give it ("my name is Ana Lopez", "it's John")."""
    for m in _STRONG_CUE.finditer(text):
        name = _name_after(text, m.end(), strict=False)
        if name:
            return name
    for m in _WEAK_CUE.finditer(text):
        name = _name_after(text, m.end(), strict=not expecting_name)
        if name:
            return name
    if expecting_name:
        # The name is the first phrase that is not "yes" or "um": "Yes, Bob.", and
        # "Ana Lopez, L-O-P-E-Z".
        for phrase in _PHRASE_END.split(text.strip()):
            words = [w for w in phrase.split() if w.lower() not in _LEAD_INS]
            name = _bare_name(words) if words else None
            if name:
                return name
        return None
    # Asked for something else, a phrase of capitalised words that are not words we know
    # is still a name given early or late: "Laura Martinez. I'd like Tuesday at 2".
    for phrase in _PHRASE_END.split(text.strip()):
        low = phrase.lower()
        if any(rx.search(low) for rx in (_YES, _NO, _GOODBYE, _THANKS, _GREETING, _DONE)):
            continue  # "Yup!", "Bye now", "Hello": answers, not names
        words = [w for w in phrase.split() if w.lower() not in _LEAD_INS]
        while words and words[-1].lower().strip(".!?") in _NAME_TAILS:
            words.pop()
        # Two or three words: one capitalised word alone ("Banana.") is too weak a sign.
        if 2 <= len(words) <= 3 and all(w[:1].isupper() and w.lower().strip(".!?") not in _NOT_NAMES
                         and w.lower().strip(".!?") not in COMMON_WORDS for w in words):
            name = _bare_name(words)
            if name:
                return name
    return None


_NAME_TAILS = {"here", "calling", "speaking", "again"}


_PHRASE_END = re.compile(r"[,;!?]|(?<!\bdr)(?<!\bmr)(?<!\bmrs)(?<!\bms)(?<!\bprof)\.(?:\s|$)",
                         re.I)
_LEAD_INS = _FILLERS | {"yes", "yeah", "sure", "ok", "okay", "it's", "its", "sorry", "please",
                        "thanks", "the"}


def _bare_name(words: list[str]) -> str | None:
    if not 1 <= len(words) <= 3:
        return None
    name = _name_after(" ".join(words), 0, strict=False)
    return name if name and len(name.split()) == len(words) else None


# --- one turn -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Understanding:
    """Everything the engine reads from one caller turn."""

    text: str
    day: date | None = None
    time: TimeMention | None = None
    part_of_day: str | None = None
    name: str | None = None
    choice: int | None = None  # index into the times we just offered
    yes: bool = False
    no: bool = False
    book: bool = False
    availability: bool = False
    goodbye: bool = False
    done: bool = False
    thanks: bool = False
    greeting: bool = False
    cancel: bool = False
    correction: bool = False
    out_of_scope: str | None = None
    empty: bool = False
    dtmf: str | None = None  # keys the caller pressed in this turn, e.g. "1" or "123#"
    day_shift: int = 0  # "the day after": +1 from the day being discussed
    question: str | None = None  # "hours", "open", "close", "who", "number": we can answer
    spelled: tuple[str, ...] = ()  # words the caller spelled out
    message: bool = False  # wants to leave a message
    name_unclear: bool = False  # "my name is ..." with no name we could read after it
    # What the caller wants done with a booking they already have: "cancel", "reschedule"
    # or "check" (set with out_of_scope "existing", for a line that cannot do it).
    manage: str | None = None

    @property
    def transfer(self) -> bool:
        """The caller asks for a person, or pressed 0 (the operator) and said nothing."""
        return self.out_of_scope == "human" or (self.keys_only and self.dtmf in ("0", "0#"))

    @property
    def keys_only(self) -> bool:
        """The caller pressed keys and said nothing we could use."""
        return self.dtmf is not None and not self.understood

    @property
    def has_details(self) -> bool:
        return bool(self.day or self.time or self.part_of_day or self.choice is not None
                    or self.day_shift)

    @property
    def asks_nothing(self) -> bool:
        """Only "yes", "please", "thanks", "okay", a greeting or a filler: nothing that
        moves the call on by itself (it may still answer a question the caller heard)."""
        return not (self.has_details or self.name or self.no or self.book or self.availability
                    or self.goodbye or self.done or self.cancel or self.correction
                    or self.out_of_scope or self.dtmf or self.question or self.spelled
                    or self.message)

    @property
    def understood(self) -> bool:
        return bool(self.has_details or self.name or self.yes or self.no or self.book
                    or self.availability or self.goodbye or self.done or self.thanks
                    or self.greeting or self.cancel or self.out_of_scope or self.question
                    or self.spelled or self.message or self.name_unclear)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", _NOISE.sub(" ", text)).strip()


@lru_cache(maxsize=4096)
def understand(text: str, *, today: date, expect: str | None = None,
               offered: int = 0) -> Understanding:
    """Read one caller turn. `offered` is how many times we just offered ("the first one")."""
    keys = "".join(m[1] for m in _DTMF.finditer(text)).upper() or None
    raw = _clean(_DTMF.sub(" ", text))
    words = [w for w in re.findall(r"[a-z0-9']+", raw.lower()) if w not in _FILLERS]
    if not words:
        return Understanding(text=text, empty=keys is None, dtmf=keys)
    s = normalize(raw)

    choice = None
    if offered:
        m = _CHOICE.search(s)
        if m:
            index = _CHOICE_INDEX[m["c"]]
            choice = index if index < offered else None
            if choice is not None:
                s = s[: m.start()] + " " * (m.end() - m.start()) + s[m.end():]

    day, blanked = find_day(s, today)
    shift = _DAY_SHIFT.search(blanked)
    day_shift = (-1 if shift["back"] else 1) if shift else 0
    if shift:
        blanked = blanked[:shift.start()] + " " * (shift.end() - shift.start()) + \
            blanked[shift.end():]
    part = find_part_of_day(blanked)
    clock = find_time(blanked, part)

    out_of_scope = next((key for key, rx in _OUT_OF_SCOPE if rx.search(s)), None)
    availability = bool(_AVAILABILITY.search(s))
    question = _question(s, has_time=clock is not None)
    message = out_of_scope == "messages"
    if message:
        out_of_scope = None

    no = bool(_NO.search(s)) or bool(_MISHEARD_NO.match(s))
    yes = (bool(_YES.search(s)) or bool(_MISHEARD_YES.match(s) and expect in _YES_NO_ASKED)) \
        and not re.search(r"\bnot (?:right|correct|fine|ok|okay)\b", s)
    spelled = tuple(spelled_words(raw))
    name = find_name(raw, expecting_name=expect in (replies.ASK_NAME, replies.ASK_SPELL))
    if name and spelled and expect != replies.ASK_NAME and name.replace(" ", "").lower() in {
            w.lower() for w in spelled}:
        name = None  # the spelling itself, not a name given beside it
    existing = out_of_scope == "existing"
    manage = None
    if existing:
        manage = ("cancel" if _CANCEL_BOOKING.search(s) else
                  "reschedule" if _MOVE_BOOKING.search(s) else "check")
    name_unclear = name is None and not spelled and bool(_NAME_IS.search(raw))
    return Understanding(
        text=text, day=day, time=clock, part_of_day=part, name=name, choice=choice,
        yes=yes, no=no,
        book=bool(_BOOK.search(s)) and not existing,
        availability=availability and not existing and question is None,
        goodbye=bool(_GOODBYE.search(s)) or bool(re.fullmatch(r"by[.!]*", s)),
        done=bool(_DONE.search(s)),
        thanks=bool(_THANKS.search(s)), greeting=bool(_GREETING.search(s)),
        cancel=bool(_CANCEL.search(s)) and not existing,
        correction=bool(_CORRECTION.search(s)) or no, out_of_scope=out_of_scope, dtmf=keys,
        day_shift=day_shift, question=question, spelled=spelled, message=message,
        name_unclear=name_unclear, manage=manage,
    )


_YES_NO_ASKED = (replies.ASK_CONFIRM, replies.ASK_ANYTHING_ELSE, replies.ASK_CALLBACK,
                 replies.ASK_TAKE_MESSAGE, replies.ASK_WANT_BOOKING, replies.ASK_CONFIRM_CANCEL,
                 replies.ASK_CONFIRM_MOVE)


def _question(s: str, *, has_time: bool) -> str | None:
    """Which question about the business the caller asks, if one we can answer."""
    if _WHO.search(s):
        return "who"
    if _NUMBER.search(s) and not re.search(r"\b(?:my|this) (?:phone )?number\b", s):
        return "number"
    if _HOURS.search(s) and not has_time:
        if _CLOSE.search(s):
            return "close"
        if _OPEN.search(s) and re.search(r"\bwhat time|\bwhen\b", s):
            return "open"
        return "hours"
    return None

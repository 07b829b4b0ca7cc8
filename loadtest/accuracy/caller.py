"""The benchmark's caller: says the dialogue's lines in order, and does what a person does
when the agent asks them to spell their name or to say something again."""

from __future__ import annotations

from dataclasses import dataclass, field

from loadtest.accuracy.dialogues import Dialogue

MAX_REPEATS = 2
MAX_SPELLINGS = 2


def spelled(name: str) -> str:
    """"Zoe Hart. Z O E, H A R T." """
    return f"{name}. " + ", ".join(" ".join(word.upper()) for word in name.split()) + "."


@dataclass
class Caller:
    dialogue: Dialogue
    position: int = 0
    repeats: int = 0
    spellings: int = 0
    last: str | None = None
    said: list[str] = field(default_factory=list)

    def next_line(self, agent_said: str) -> str | None:
        """What to say after the agent said ``agent_said``; None: nothing left to say."""
        heard = agent_said.lower()
        line: str | None
        if "spell" in heard and self.spellings < MAX_SPELLINGS and self.dialogue.book:
            self.spellings += 1
            line = self.dialogue.spell or spelled(self.dialogue.book.name)
        elif (self.last is not None and self.repeats < MAX_REPEATS
              and ("say that again" in heard or "was that a yes" in heard)):
            self.repeats += 1
            line = self.last
        elif self.position < len(self.dialogue.say):
            line = self.dialogue.say[self.position]
            self.position += 1
            self.repeats = 0
        else:
            return None
        self.last = line
        self.said.append(line)
        return line

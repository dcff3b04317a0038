"""Text normalisation that keeps character offsets intact, without the NLU stack.

Traditional characters become Simplified (OpenCC), full-width ASCII becomes
half-width, numbers that speech-to-text spells digit by digit (幺二三七八,
一一零) become digits, and a regulator's name misheard by a sound-alike
character (银保间) becomes the name (deescalate/homophones.py). Each maps one character to one character, so a span
found in the normalised text is the same span in the original text. The NLU pipeline
(deescalate/nlu/normalizer.py) and the taboo check both use these functions.
"""

from opencc import OpenCC

from deescalate.digits import spoken_digits
from deescalate.homophones import fix_sound_alikes

_T2S = OpenCC("t2s")
_FULLWIDTH_OFFSET = 0xFEE0
_IDEOGRAPHIC_SPACE = "\u3000"
_COMMAND_PREFIX = "/"  # Rasa's INTENT_MESSAGE_PREFIX
_FULLWIDTH_SOLIDUS = "\uff0f"


def to_halfwidth(text: str) -> str:
    """Map full-width ASCII (！ＡＴＭ１２３) and the ideographic space to ASCII."""
    out = []
    for char in text:
        code = ord(char)
        if char == _IDEOGRAPHIC_SPACE:
            out.append(" ")
        elif 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - _FULLWIDTH_OFFSET))
        else:
            out.append(char)
    return "".join(out)


def to_simplified(text: str) -> str:
    """Convert Traditional to Simplified Chinese without changing the length.

    OpenCC converts whole phrases, which is more accurate; in the rare case a
    phrase changes length, fall back to character-by-character conversion.
    """
    converted = _T2S.convert(text)
    if len(converted) == len(text):
        return converted
    return "".join(_T2S.convert(char) if len(_T2S.convert(char)) == 1 else char for char in text)


def not_a_command(text: str) -> str:
    """`text` with a leading slash in its full-width form (one character for one).

    Rasa reads a message that starts with "/" as an intent given by hand, with
    entities in JSON after it: "/restart" would restart the case. A customer's
    words are never that, so they never start with a half-width slash: not when
    a channel hands them to Rasa, and not after the NLU's own normalisation."""
    if text.startswith(_COMMAND_PREFIX):
        return _FULLWIDTH_SOLIDUS + text[1:]
    return text


def normalize_text(text: str) -> str:
    """The normalisation every utterance goes through before tokenising."""
    return not_a_command(fix_sound_alikes(spoken_digits(to_simplified(to_halfwidth(text)))))

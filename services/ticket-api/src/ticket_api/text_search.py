"""Full-text terms for the ticket list: one normalization on both stores.

Clients search Spanish and English, with or without accents: "facturacion" must find
"facturación" and "facturas". Neither store does that alone: PostgreSQL's Spanish Snowball
stemmer stems only accented endings (``facturación`` → ``factur``, but ``facturacion`` stays
whole, so ``unaccent`` before it breaks stemming and after it breaks accent-insensitivity), and
SQLite's FTS5 stems English only (porter). So words are folded (case, accents) and stemmed here,
once, with Snowball's Spanish algorithm written for unaccented letters (snowballstem.org; no
Snowball library is in the lock file); each store then applies its English stemmer on top
(PostgreSQL's ``english`` configuration, FTS5's ``porter`` tokenizer) to the same terms, when
indexing and when querying, so both sides of a match went through the same steps.

The query language is a small, documented subset of web search: words (all must appear),
``"quoted phrases"``, ``or`` between words, ``-word`` to exclude.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_LENGTH = 200
_VOWELS = frozenset("aeiou")
_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r'"([^"]*)"?|(-?)([^\s"]+)')


def fold(text: str) -> str:
    """Lower case without accents: ``Facturación`` → ``facturacion``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stems(text: str) -> list[str]:
    """The Spanish stems of the text's words, in order."""
    return [spanish_stem(word) for word in _WORD.findall(fold(text))]


def terms(text: str) -> str:
    """What the ticket list stores for a ticket's searchable text."""
    return " ".join(stems(text))


# -- the query --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A parsed ``q``: alternatives (``or``) of phrases that must all appear, and phrases that
    must not. A phrase is a list of stems (one stem: a word)."""

    alternatives: list[list[list[str]]]
    excluded: list[list[str]]

    @classmethod
    def parse(cls, q: str) -> Query | None:
        """None when ``q`` names nothing to look for (only exclusions or punctuation)."""
        alternatives: list[list[list[str]]] = [[]]
        excluded: list[list[str]] = []
        for phrase, minus, word in _TOKEN.findall(q):
            if not phrase and word.casefold() == "or" and not minus:
                alternatives.append([])
                continue
            found = stems(phrase or word)
            if found:
                (excluded if minus else alternatives[-1]).append(found)
        alternatives = [a for a in alternatives if a]
        return cls(alternatives, excluded) if alternatives else None

    def for_postgres(self) -> str:
        """A ``to_tsquery`` expression (stems are word characters only: nothing to escape)."""

        def phrase(words: list[str]) -> str:
            return "(" + " <-> ".join(words) + ")"

        found = " | ".join(
            "(" + " & ".join(phrase(p) for p in alt) + ")" for alt in self.alternatives
        )
        return "(" + found + ")" + "".join(f" & !{phrase(p)}" for p in self.excluded)

    def for_fts5(self) -> str:
        """An FTS5 ``MATCH`` expression; each phrase is quoted, so it is tokenized (porter)."""

        def phrase(words: list[str]) -> str:
            return '"' + " ".join(words) + '"'

        found = " OR ".join(
            "(" + " AND ".join(phrase(p) for p in alt) + ")" for alt in self.alternatives
        )
        return "(" + found + ")" + "".join(f" NOT {phrase(p)}" for p in self.excluded)


# -- Snowball's Spanish stemmer, over unaccented letters -------------------------------------


def _words(listed: str) -> tuple[str, ...]:
    return tuple(listed.split())


_PRONOUNS = _words("selas selos sela selo las les los nos me se la le lo")
_STEP1 = {
    **dict.fromkeys(
        _words(
            "anza anzas ico ica icos icas ismo ismos able ables ible ibles ista istas oso osa "
            "osos osas amiento amientos imiento imientos"
        ),
        "delete",
    ),
    **dict.fromkeys(_words("adora ador acion adoras adores aciones ante antes ancia ancias"), "ic"),
    **dict.fromkeys(("logia", "logias"), "log"),
    **dict.fromkeys(("ucion", "uciones"), "u"),
    **dict.fromkeys(("encia", "encias"), "ente"),
    "amente": "amente",
    "mente": "mente",
    **dict.fromkeys(("idad", "idades"), "idad"),
    **dict.fromkeys(("iva", "ivo", "ivas", "ivos"), "iv"),
}
_STEP2A = _words("ya ye yan yen yeron yendo yo yas yes yais yamos")
_STEP2B_GU = ("en", "es", "eis", "emos")
_STEP2B = _words(
    "arian arias aran aras ariais aria areis ariamos aremos ara are erian erias eran eras "
    "eriais eria ereis eriamos eremos era ere irian irias iran iras iriais iria ireis iriamos "
    "iremos ira ire aba ada ida ia ara iera ad ed id ase iese aste iste an aban ian aran ieran "
    "asen iesen aron ieron ado ido ando iendo io ar er ir as abas adas idas ias aras ieras ases "
    "ieses is ais abais iais arais ierais aseis ieseis asteis isteis ados idos amos abamos "
    "iamos imos aramos ieramos iesemos asemos"
)


def _longest(word: str, suffixes: object) -> str | None:
    found = [s for s in suffixes if word.endswith(s)]  # type: ignore[attr-defined]
    return max(found, key=len) if found else None


def _region_after_vc(word: str, start: int) -> int:
    """Snowball's R1 (from 0) or R2 (from R1): after the first non-vowel that follows a vowel."""
    for i in range(start + 1, len(word)):
        if word[i] not in _VOWELS and word[i - 1] in _VOWELS:
            return i + 1
    return len(word)


def _rv(word: str) -> int:
    if len(word) < 2:
        return len(word)
    if word[1] not in _VOWELS or (word[0] in _VOWELS and word[1] in _VOWELS):
        wanted_vowel = word[1] not in _VOWELS
        for i in range(2, len(word)):
            if (word[i] in _VOWELS) == wanted_vowel:
                return i + 1
        return len(word)
    return min(3, len(word))


def spanish_stem(word: str) -> str:
    """Snowball's Spanish stem of a folded word (``facturacion``, ``facturas`` → ``factur``)."""
    if len(word) < 3 or not word.isalpha():
        return word
    rv, r1 = _rv(word), _region_after_vc(word, 0)
    r2 = _region_after_vc(word, r1)

    def ends(suffix: str, region: int) -> bool:
        return word.endswith(suffix) and len(word) - len(suffix) >= region

    # Step 0: an attached pronoun after a gerund or infinitive (dándoselo → dando).
    pronoun = _longest(word, _PRONOUNS)
    if pronoun and ends(pronoun, rv):
        before = word[: -len(pronoun)]
        if before.endswith(("iendo", "ando", "ar", "er", "ir", "uyendo")):
            word = before
    # Step 1: standard suffixes.
    suffix: str | None = _longest(word, _STEP1)
    changed = False
    if suffix is not None:
        rule = _STEP1[suffix]
        region = r1 if rule == "amente" else r2
        if ends(suffix, region):
            changed, word = True, word[: -len(suffix)]
            if rule in ("log", "u", "ente"):
                word += rule
            follow = {
                "ic": ("ic",),
                "amente": ("iv", "os", "ic", "ad"),
                "mente": ("ante", "able", "ible"),
                "idad": ("abil", "ic", "iv"),
                "iv": ("at",),
            }.get(rule, ())
            preceding = _longest(word, follow)
            if preceding and ends(preceding, r2):
                word = word[: -len(preceding)]
                if rule == "amente" and preceding == "iv" and ends("at", r2):
                    word = word[:-2]
    if not changed:
        # Step 2a: verb endings starting with y, after a u.
        suffix = _longest(word, _STEP2A)
        if suffix and ends(suffix, rv) and word[: -len(suffix)].endswith("u"):
            word = word[: -len(suffix)]
        else:
            # Step 2b: other verb endings.
            suffix = _longest(word, (*_STEP2B_GU, *_STEP2B))
            if suffix and ends(suffix, rv):
                word = word[: -len(suffix)]
                if suffix in _STEP2B_GU and word.endswith("gu"):
                    word = word[:-1]
    # Step 3: residual suffixes.
    suffix = _longest(word, ("os", "a", "o", "i", "e"))
    if suffix and ends(suffix, rv):
        word = word[: -len(suffix)]
        if suffix == "e" and word.endswith("gu") and len(word) - 1 >= rv:
            word = word[:-1]
    return word

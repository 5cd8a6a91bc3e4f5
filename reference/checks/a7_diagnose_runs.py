"""The visible checks of this assignment: run them from the notebook's test cells.

Generated from tests/autograders/test_a7_diagnose_runs.py by `python -m reference.grading.visible`; do not edit.
The hidden checks that also grade your submission are not included."""

from __future__ import annotations
import re
import unicodedata
from reference.grading import CheckFailure, Partial, StudentError, check, probes
ASSIGNMENT = "a7_diagnose_runs"
RUNS = ("run_a", "run_b", "run_c", "run_d", "run_e")
FAILURES = (  # the keys of the notebook's FAILURES: what can go wrong (lesson 08)
    "d_wins", "mode_collapse", "oscillation", "checkerboard", "nan_log_sigmoid", "unit_range_data",
    "no_detach", "batchnorm_train_mode", "lr_off_by_10",
)
FIXES = (  # the keys of the notebook's FIXES: what can be done about it
    "label_smoothing", "lr_d", "spectral_norm", "ema", "logits_loss", "scale_data", "detach",
    "eval_mode", "lr", "resize_conv",
)


def answers(submission, name: str) -> dict:
    """The student's dict `name` ("diagnosis" or "fix"); AssertionError naming what is wrong with it."""
    try:
        value = submission.get(name)
    except CheckFailure as err:
        raise AssertionError(f'{err}; set {name} = {{"run_a": "...", ...}} in the cell under "Your answers"') from None
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return value
    kind = getattr(value, "type_name", None)  # an object the proxy cannot carry comes back as a handle
    if kind == "builtins.dict" or isinstance(value, dict):  # the proxy carries a dict as data only when its keys are strings
        raise AssertionError(f"`{name}` has keys that are not strings: key each answer by its run's name, a string, "
                             f'e.g. {name} = {{"run_a": "...", ...}}')
    shown = kind.rsplit(".", 1)[-1] if kind else type(value).__name__
    raise AssertionError(f'`{name}` should be a dict {{run name: choice}}, e.g. {name} = {{"run_a": "...", ...}}; got a {shown}')


def run_entry(given: dict, run: str):
    """The key of `given` that names `run`, else None: a run's name is read whatever its case, spaces or
    word separators ("RUN_A", "Run A", "run-a", "runA" are run_a)."""
    if run in given:
        return run
    found = [key for key in given if isinstance(key, str) and compact(key) == compact(run)]
    return found[0] if len(found) == 1 else None


def swapped_note(given: dict, allowed: tuple[str, ...]) -> str:
    """"; its keys are choices and its values runs' names: ..." for a dict written the other way round
    ({choice: run}), else ""."""
    keys_are_choices = any(isinstance(key, str) and as_key(key, allowed) is not None for key in given)
    values_are_runs = any(isinstance(v, str) and any(run_entry({v: None}, r) for r in RUNS) for v in given.values())
    if not (keys_are_choices and values_are_runs):
        return ""
    return "; its keys are choices and its values runs' names: the two are swapped"


def compact(name: str) -> str:
    """A name without case, spaces or word separators: how run names are matched."""
    return re.sub(SEPARATORS, "", bare(name).lower())


def choice(submission, name: str, run: str, allowed: tuple[str, ...], strict: bool = False) -> str:
    """The student's choice for `run` in dict `name`, checked against `allowed`. A list or tuple that
    holds one string is read as that string, unless `strict` (the format check: a choice is a string)."""
    given = answers(submission, name)
    listing = "FAILURES" if allowed is FAILURES else "FIXES"
    spellings = [key for key in given if isinstance(key, str) and compact(key) == compact(run)]
    if len({repr(given[key]) for key in spellings}) > 1:  # "run_c" and "Run C" with other answers: a hedge earns nothing
        shown = ", ".join(f"{name}[{key!r}] = {given[key]!r}" for key in spellings)
        raise AssertionError(f"`{name}` answers {run} {len(spellings)} times, differently ({shown}): give each run one key "
                             f"and one answer, {name}[{run!r}]")
    entry = run_entry(given, run)
    if entry is None and spellings:  # the same answer under two spellings of the run's name
        entry = spellings[0]
    if entry is None:
        others = sorted(str(key) for key in given if not any(run_entry({key: None}, r) for r in RUNS))
        if others:
            raise AssertionError(f"`{name}` has no answer for {run}: its keys {', '.join(others)} name no run"
                                 f"{swapped_note(given, allowed)}; key each answer by its run's name, {name}[{run!r}] = one "
                                 f"of {listing}' keys")
        raise AssertionError(f"`{name}` has no answer for {run}: add {name}[{run!r}] = one of {listing}' keys")
    value = given[entry]
    named = named_entry(value, name)
    if named is not None:  # {"diagnosis": ..., "fix": ...}: a run's two answers given to both dicts
        if strict:
            kind, other_kind, other_name = ("failure", "fix", "fix") if allowed is FAILURES else ("fix", "failure", "diagnosis")
            raise AssertionError(f"{name}[{run!r}] should be a string, one of {listing}' keys; got a dict of {run}'s "
                                 f"answers, {value!r}: `{name}` takes the {kind} alone, {named!r} (the {other_kind} goes "
                                 f"in `{other_name}`)")
        value = named
    container = container_name(value)
    if container is not None:
        value = items(submission, value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value) and value:
        container = container or type(value).__name__
        keys = {read(submission, listing, v, allowed) for v in value} if len(value) <= 4 else {None}  # a key and its description
        one = next(iter(keys)) if len(keys) == 1 and None not in keys else None  # ("d_wins", FAILURES["d_wins"])
        paired = one is None and pair_of_kinds(submission, listing, value, allowed)  # ("d_wins", "label_smoothing")
        one = paired or one
        if len(value) > 1 and one is None:
            shown = ", ".join(repr(v) for v in value)
            raise AssertionError(f"{name}[{run!r}] gives {len(value)} choices, {shown}: choose one, a string, one of {listing}' keys")
        if strict:
            shown = repr(value) if isinstance(value, (list, tuple)) else "{" + ", ".join(map(repr, value)) + "}"
            if paired:
                kind, other_kind, other_name = ("failure", "fix", "fix") if allowed is FAILURES else ("fix", "failure", "diagnosis")
                raise AssertionError(f"{name}[{run!r}] should be a string, one of {listing}' keys; got a {container} of a "
                                     f"failure and a fix, {shown}: `{name}` takes the {kind} alone, {paired!r} (the "
                                     f"{other_kind} goes in `{other_name}`)")
            what = f"a {container} of one, {shown}" if len(value) == 1 else (
                f"a {container} that names one choice {len(value)} times, {shown}")
            raise AssertionError(f"{name}[{run!r}] should be a string, one of {listing}' keys; got {what}: write the "
                                 f"choice itself, {(one or value[0])!r}")
        value = one or value[0]
    if not isinstance(value, str):
        kind = getattr(value, "type_name", None)  # an object the proxy cannot carry (a set...) comes back as a handle
        if isinstance(kind, str):
            got = f"a {kind.rsplit('.', 1)[-1]}"
        elif value is None or type(value) in (bool, int, float, list, tuple, dict):  # what the proxy carries as data
            got = f"{value!r} ({type(value).__name__})"
        else:  # in the student's kernel: named as it is when graded
            got = f"a {type(value).__name__}"
        raise AssertionError(f"{name}[{run!r}] should be a string, one of {listing}' keys; got {got}")
    key = read(submission, listing, value, allowed)
    if key is None:
        other, other_listing = (FIXES, "FIXES") if allowed is FAILURES else (FAILURES, "FAILURES")
        if as_key(value, other) is not None:  # the two dicts confused: a fix given as a failure, or the reverse
            given, wanted = ("a fix", "the failure") if allowed is FAILURES else ("a failure", "a fix for it")
            raise AssertionError(f"{name}[{run!r}] = {value!r} is {given}, one of {other_listing}' keys; {name} names "
                                 f"{wanted}, one of {listing}' keys: {', '.join(allowed)}")
        alone = key_before_note(submission, listing, value, allowed)
        note = ("; write one key alone and give your reasons in the explanation cell: a note or a second choice beside "
                "the key is not read") if alone else ""
        raise AssertionError(f"{name}[{run!r}] = {value!r} is not one of {listing}' keys: {', '.join(allowed)}{note}")
    return key


def read(submission, listing: str, value: str, allowed: tuple[str, ...]) -> str | None:
    """The key in `allowed` that the choice `value` names: spelled loosely, as its description, or labelled with it."""
    return as_key(value, allowed) or described(submission, listing, value, allowed) or labelled(submission, listing, value, allowed)


ENTRY_NAMES = {"diagnosis": ("diagnosis", "failure"), "fix": ("fix",)}  # how a run's dict of answers names each


def named_entry(value, name: str):
    """The entry of a run's dict of answers ({"diagnosis": ..., "fix": ...}) that dict `name` asks for, found by its
    name whatever its case, spaces or word separators; else None."""
    if not isinstance(value, dict):
        return None
    found = [v for key, v in value.items() if isinstance(key, str) and compact(key) in ENTRY_NAMES[name]]
    return found[0] if len(found) == 1 else None


def pair_of_kinds(submission, listing: str, value, allowed: tuple[str, ...]) -> str | None:
    """The key in `allowed` of a pair that holds one failure and one fix (a run's whole answer, ("d_wins",
    "label_smoothing"), given to both dicts), else None: a pair of one kind is a hedge and is not read."""
    if len(value) != 2:
        return None
    other, other_listing = (FIXES, "FIXES") if allowed is FAILURES else (FAILURES, "FAILURES")
    ours = [read(submission, listing, v, allowed) for v in value]
    theirs = [read(submission, other_listing, v, other) for v in value]
    for i in (0, 1):
        if ours[i] is not None and theirs[i] is None and ours[1 - i] is None and theirs[1 - i] is not None:
            return ours[i]
    return None


def container_name(value) -> str | None:
    """"set" or "frozenset" for a set of the student's (in the kernel, or a handle to one across the proxy), else None."""
    kind = getattr(value, "type_name", None)
    if kind in ("builtins.set", "builtins.frozenset"):
        return kind.removeprefix("builtins.")
    return type(value).__name__ if isinstance(value, (set, frozenset)) else None


def items(submission, value):
    """A set's strings as a sorted list (`probes.set_items`, next to the student's object), else the value as it is."""
    try:
        found = submission.run(probes.set_items, value)
    except StudentError:
        return value
    return found if isinstance(found, list) and all(isinstance(v, str) for v in found) else value


def key_before_note(submission, listing: str, value: str, allowed: tuple[str, ...]) -> str | None:
    """The key that `value` opens with before a note or a second choice ("lr_d (TTUR)", "label smoothing
    (one-sided)", "spectral norm, or EMA"), else a key among its words with other words beside it, no mark
    between them ("d_wins mode_collapse", "maybe d_wins", "checkerboard pattern"), else None."""
    for mark in re.finditer(r"\s*(?:[(\[:;,/|+&\u2013\u2014-]|\bor\b|\band\b|\bvs\b\.?|\bversus\b)", value):
        head = value[: mark.start()]
        key = (as_key(head, allowed) or described(submission, listing, head, allowed)) if head.strip() else None
        if key is not None:
            return key
    return key_among_words(submission, listing, value, allowed)


MAX_WORDS = 12  # words of a choice searched for a key among them (a longer text is a sentence, told as it is)


def key_among_words(submission, listing: str, value: str, allowed: tuple[str, ...]) -> str | None:
    """A key that some of `value`'s words spell, with other words before or after them ("d_wins mode_collapse",
    "d_wins\\nmode_collapse", "probably d_wins"), the longest such run of words first; else None."""
    words = value.split()
    if not 1 < len(words) <= MAX_WORDS:
        return None
    spans = sorted(((i, j) for i in range(len(words)) for j in range(i + 1, len(words) + 1) if j - i < len(words)),
                   key=lambda span: (span[0] - span[1], span[0]))
    descriptions = listed(submission, listing)
    for i, j in spans:
        part = " ".join(words[i:j])
        key = as_key(part, allowed) or described_in(descriptions, part, allowed)
        if key is not None:
            return key
    return None


def as_key(value: str, allowed: tuple[str, ...]) -> str | None:
    """The key in `allowed` that `value` spells (loosely: see `canonical`), else None."""
    key = spelled(value)
    if key in allowed:
        return key
    found = [key for key in allowed if canonical(key) == canonical(value)]
    return found[0] if len(found) == 1 else None


QUOTES = "`'\"\u2018\u2019\u201c\u201d"  # straight, back and typographic quotes (a word processor's “d_wins”)
SEPARATORS = r"[\s_\-\u2010-\u2015\u2212]+"  # spaces, underscores, hyphens, typographic dashes and minus signs ("d–wins")
WRAPPERS = (("**", "**"), ("*", "*"), ("(", ")"), ("[", "]"), ("{", "}"), ("<", ">"))  # markdown emphasis, brackets


def bare(value: str) -> str:
    """A choice without what cannot be part of a key: Unicode's compatibility forms read as plain characters
    (full-width letters and underscores), invisible ones dropped (a zero-width space, a byte-order mark), and
    surrounding spaces, quotes, closing punctuation and a markdown emphasis or pair of brackets around the whole
    taken off ("**d_wins**", "(d_wins)", "['d_wins']": a list's repr written into the string). A wrapper that
    holds another of its own marks ("[d_wins] [mode_collapse]") is kept, and so is strikethrough ("~~d_wins~~")."""
    value = "".join(c for c in unicodedata.normalize("NFKC", value) if unicodedata.category(c) != "Cf")
    while True:
        stripped = value.strip().strip(QUOTES).strip().rstrip(".,;:!?").strip()
        for opening, closing in WRAPPERS:
            inner = stripped[len(opening): -len(closing)]
            if (stripped.startswith(opening) and stripped.endswith(closing) and inner.strip()
                    and opening not in inner and closing not in inner):
                stripped = inner
                break
        if stripped == value:
            return value
        value = stripped


def spelled(value: str) -> str:
    """A choice as a key is spelled: case, surrounding spaces, quotes and closing punctuation (". , ; : ! ?"), and the
    separators between words forgiven ("D wins", "d-wins", " D_Wins ", "`d_wins`" and "d_wins." are "d_wins")."""
    return re.sub(SEPARATORS, "_", bare(value).lower().replace("\u00d7", "x"))  # "10×" is "10x"


WRITTEN_OUT = {  # the words a key abbreviates, as students write them out: "learning rate" is lr, "10x" is 10
    "ten": "10",  # first: "a factor of ten" is then "a factor of 10", below
    "learning_rate": "lr", "exponential_moving_average": "ema", "discriminator": "d", "convolution": "conv",
    "convolutions": "conv", "normalisation": "norm", "normalization": "norm", "training": "train", "evaluation": "eval",
    "a_factor_of_10": "10", "a_factor_10": "10", "factor_of_10": "10", "factor_10": "10", "10x": "10", "x10": "10",
    "10_x": "10",  # "10X": the camelCase reading splits a capital X from its 10
}


def singular(word: str) -> str:
    """A word in the singular, British "artefact" as "artifact" ("oscillations", "artefacts", "wins")."""
    word = word.replace("artefact", "artifact")
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def canonical(value: str) -> str:
    """What a choice says, however it is written: `spelled`, without a leading article, its abbreviations
    written out ("learning rate", "discriminator", "spectral normalization", "a factor of 10", "10x" are lr, d,
    spectral norm, 10), each word in the singular, and its words run together or not ("checker board",
    "dWins", "labelSmoothing"), all at once: "discriminator win", "checker board artifacts" and "learning rate
    a factor 10 off" are "d_wins", the description "checkerboard artifacts" and "a learning rate a factor 10 off"."""
    camel = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", value.strip())  # camelCase: its words apart
    words = f"_{spelled(camel)}_"
    for article in ("_a_", "_an_", "_the_"):
        words = words[len(article) - 1:] if words.startswith(article) else words
    for long, short in WRITTEN_OUT.items():
        words = words.replace(f"_{long}_", f"_{short}_")
    return "".join(singular(word) for word in words.split("_") if word)


def described(submission, listing: str, value: str, allowed: tuple[str, ...]) -> str | None:
    """The key whose description in the notebook's FAILURES or FIXES (`listing`) `value` is, else None:
    a choice copied as its description, or as the name that opens it (see `description_forms`), is that choice."""
    return described_in(listed(submission, listing), value, allowed)


def listed(submission, listing: str) -> dict | None:
    """The notebook's FAILURES or FIXES (`listing`), a dict, else None."""
    try:
        descriptions = submission.get(listing)
    except CheckFailure:
        return None
    return descriptions if isinstance(descriptions, dict) else None


def described_in(descriptions: dict | None, value: str, allowed: tuple[str, ...]) -> str | None:
    """The key in `allowed` whose description in `descriptions` (see `described`) `value` is, else None."""
    if descriptions is None:
        return None
    found = [key for key, text in descriptions.items()
             if key in allowed and isinstance(text, str) and canonical(value) in description_forms(text)]
    return found[0] if len(found) == 1 else None


LABEL_SEPARATORS = (":", " - ", " \u2013 ", " \u2014 ")  # "key: ...", "key - ...", with an en or em dash


def labelled(submission, listing: str, value: str, allowed: tuple[str, ...]) -> str | None:
    """The key of a choice written with its own description: "key: description" (a line of
    `for k, v in FAILURES.items(): print(f"{k}: {v}")` copied), "key - description", "key (description)" or
    "description (key)"; the description whole or its opening name, or the key spelled out again ("D wins
    (d_wins)"). Else None: whatever else goes with the
    key (another choice, "or maybe ...", a note such as "(too low)") is not read as the key, so a hedged
    answer does not score."""
    pairs = []
    for separator in LABEL_SEPARATORS:
        head, found, tail = value.partition(separator)
        if found and tail.strip():
            pairs.append((head, tail))
    bracketed = re.fullmatch(r"\s*([^()]+?)\s*\(([^()]+)\)\s*", value)
    if bracketed:
        pairs += [(bracketed[1], bracketed[2]), (bracketed[2], bracketed[1])]
    for head, tail in pairs:
        key = as_key(head, allowed)
        if key is not None and key in (as_key(tail, allowed), described(submission, listing, tail, allowed)):
            return key
    return None


def description_forms(text: str) -> set[str]:
    """A description as a student may copy it, each form `canonical`: whole, the name before its colon
    ("checkerboard artifacts", "NaN", "one-sided label smoothing"), and either without a closing parenthesis
    ("a learning rate a factor 10 off")."""
    forms = {text, text.split(":", 1)[0]}
    return {canonical(form) for form in forms} | {canonical(re.sub(r"\s*\([^()]*\)\s*$", "", form)) for form in forms}


@check(points=2, visible=True)
def test_answers_are_well_formed(submission):
    """diagnosis and fix answer every run with an allowed choice (this says nothing about which is right); the first
    answer that is not is told in full, and every other one is named."""
    problems = []  # (where, what is wrong)
    for name, allowed in (("diagnosis", FAILURES), ("fix", FIXES)):
        given = answers(submission, name)
        unknown = sorted(str(key) for key in given if not any(run_entry({key: None}, run) for run in RUNS))
        if unknown:
            problems.append((f"`{name}`'s keys", f"`{name}` has keys that are no run: {', '.join(unknown)}"
                             f"{swapped_note(given, allowed)}; the runs are {', '.join(RUNS)}"))
            continue
        for run in RUNS:
            try:
                choice(submission, name, run, allowed, strict=True)
            except AssertionError as err:
                problems.append((f"{name}[{run!r}]", str(err)))
    if problems:
        others = [where for where, _ in problems[1:]]
        raise AssertionError(problems[0][1] + (f"; also not well formed: {', '.join(others)}" if others else ""))

"""Which questions the builtin analyzer can answer from its measurements.

A question is answerable only when the whole of it asks about something measured for the
video as a whole: how dark it is, its colours, camera motion, frontal faces, on-screen text,
the audio (sound, silence, loudness, speech-like or music-like), the number of scenes and
cuts, the duration. Matching is deliberately strict: a question must read as one of the
patterns below from start to end, so "What colour is the car?" or "How fast is the runner?"
(about one object in the picture) are not answered with the video's overall colours or
motion. Every other question gets :data:`NOT_ANSWERABLE`.
"""

from __future__ import annotations

import re

NOT_ANSWERABLE = "not answerable without a vision-language model (use --analyzer qwen or api)"

# the video as a whole, as a question names it
_V = (
    r"(?:it|this|this video|the video|this clip|the clip|the footage|the film|the recording|"
    r"the picture|the image|the scene|the shot|the frames?)"
)
_WHOLE = r"(?:it|this|this video|the video|this clip|the clip|the footage|the recording|the film)"
_WHERE = rf"(?: (?:in|on|during|throughout) (?:{_V}|(?:the )?screen))?"
_AUDIO = r"(?:the audio|the sound|the soundtrack|the audio track)"
_PERSON = r"(?:anyone|anybody|someone|somebody|a person|people|any people)"
_TEXT = r"(?:text|writing|words|captions?|lettering|on screen text|written text|a caption)"

_PATTERNS: dict[str, tuple[str, ...]] = {
    "light": (
        rf"(?:is|was) {_V}(?: (?:filmed|shot|recorded|taken))? (?:at night|in the dark|during the night|at night ?time|"
        r"night ?time|dark|too dark|bright|too bright|dim|well lit|poorly lit|underexposed|overexposed|in daylight|"
        r"during the day|in the daytime|daytime|by day|in low light)",
        rf"(?:is|was) {_V} (?:a )?(?:night|night ?time|dark|low light|day ?time|daylight|bright)"
        r"(?: (?:video|scene|shot|footage|clip))?",
        rf"(?:is|was) {_V}(?: (?:filmed|shot|recorded|taken))? (?:at |during the )?(?:day|daytime|day ?time) or "
        r"(?:at )?(?:night|night ?time)",
        rf"(?:is|was) {_V}(?: (?:filmed|shot|recorded|taken))? (?:at )?(?:night|night ?time) or "
        r"(?:during the )?(?:day|daytime|day ?time)",
        rf"how (?:dark|bright) is {_V}",
        r"(?:is|was) there (?:enough|much|good) (?:light|lighting|daylight)",
        rf"(?:what is|how is) the (?:lighting|exposure|brightness)(?: like)?(?: (?:of|in) {_V})?",
    ),
    "text": (
        rf"(?:is|are) there (?:any )?{_TEXT}(?: (?:shown|displayed|visible|written|overlaid))?{_WHERE}",
        rf"(?:does|do) {_V} (?:have|show|contain|display|include) (?:any )?{_TEXT}{_WHERE}",
        rf"what (?:text|words|writing|captions?)(?: (?:is|are))? (?:shown|displayed|visible|written|on (?:the )?screen)"
        rf"{_WHERE}",
        r"what (?:does|do) the (?:on screen text|text|writing|words|captions?) (?:say|read)",
        r"what (?:does it say|is written|is shown|text is there|text is shown) on (?:the )?screen",
        rf"what is written{_WHERE}",
        rf"(?:(?:can|could) you )?read (?:the )?(?:on screen )?text{_WHERE}",
    ),
    "faces": (
        rf"(?:are|is) there (?:any |a |an )?(?:faces?|people|persons?|humans?|human faces?|human beings?|someone|"
        rf"somebody|anyone|anybody)(?: (?:visible|shown|on screen|present|in (?:the )?(?:frame|picture)))?"
        rf"{_WHERE}",
        rf"(?:does|do) (?:{_PERSON}|a face|faces|any faces|a human|humans) (?:appear|show up)(?: on screen)?{_WHERE}",
        r"how many (?:faces|people|persons|humans)(?: (?:are(?: there| visible| shown| on screen)?|appear|can be seen|"
        r"do you see|are shown))?" + _WHERE,
        rf"(?:does|do) {_V} (?:have|show|contain|feature|include) (?:any )?(?:faces?|people|persons?|humans?|"
        r"a person|someone|anyone)",
        r"(?:can you|do you|can i) see (?:a face|any faces|faces|people|anyone|someone|a person)" + _WHERE,
        rf"(?:is|are) {_PERSON} (?:visible|shown|on screen|in {_V})",
    ),
    "camera": (
        r"(?:is|was) the camera (?:moving|static|still|steady|stationary|fixed|panning|tilting|zooming|handheld|"
        r"hand held|shaking|shaky|on a tripod|locked off)(?: or (?:moving|static|still|steady|stationary|"
        r"fixed|handheld|hand held))?",
        r"(?:does|did) the camera (?:move|pan|tilt|zoom|shake)(?: (?:in|out|left|right|up|down))?",
        r"(?:how|in which direction|which way) (?:does|did) the camera (?:move|pan|tilt|zoom)",
        r"(?:is|are) there (?:any |a |much |a lot of |lots of )?(?:camera (?:movement|motion|moves)|pans?|tilts?|"
        r"zooms?|panning|tilting|zooming)" + _WHERE,
        rf"what (?:kind of |type of )?camera (?:movement|motion|moves?|work)(?: (?:is there|is used|does {_V} "
        r"(?:have|use)))?",
        rf"(?:is|was) {_V} (?:static|handheld|hand held|shaky|steady)",
        rf"(?:is|are) there (?:any |much |a lot of |lots of )?(?:motion|movement){_WHERE}",
        rf"how much (?:motion|movement|camera motion|camera movement)(?: is there)?{_WHERE}",
    ),
    "colors": (
        r"what (?:are the |is the )?(?:main |dominant |predominant |prevailing |most common )?colou?rs?"
        rf"(?: (?:dominates?|dominate {_V}|are (?:used|there|dominant|visible|shown)|(?:are|is) (?:in |of )?{_V}|"
        rf"does {_V} (?:have|use)|do you see|stand out|is dominant))?",
        rf"which colou?rs? (?:dominates?|(?:is|are) (?:dominant|most common|used|visible|the main ones?)|stands? out)"
        rf"{_WHERE}",
        rf"(?:is|was) {_V} (?:in )?(?:black and white|grayscale|greyscale|monochrome|colou?r|"
        r"colou?rful|vivid|saturated|muted)",
        rf"how colou?rful is {_V}",
        rf"(?:what is|describe) the colou?r (?:palette|scheme|grading)(?: of {_V})?",
    ),
    "speech": (
        r"(?:is|are) there (?:any )?(?:speech|talking|speaking|dialogue|dialog|narration|a narrator|(?:a )?voice ?over|"
        r"a voice|voices|spoken words|conversation|someone (?:talking|speaking)|anyone (?:talking|speaking)|"
        r"people (?:talking|speaking))" + _WHERE,
        r"(?:does|do) (?:anyone|anybody|someone|somebody|a person|people) (?:talk|speak|say anything)" + _WHERE,
        rf"(?:is|are) {_PERSON} (?:talking|speaking){_WHERE}",
        rf"(?:does|do) {_V} (?:have|contain|include) (?:any )?(?:speech|dialogue|dialog|narration|voice ?over|"
        r"talking|spoken words)",
    ),
    "music": (
        r"(?:is|are) there (?:any )?(?:music|background music|a soundtrack)(?: (?:playing|in the background))?"
        + _WHERE,
        rf"(?:does|do) {_V} (?:have|contain|include|play) (?:any )?(?:music|background music|a soundtrack)",
        r"is (?:any )?music playing" + _WHERE,
    ),
    "sound": (
        r"(?:is|are) there (?:any )?(?:sound|audio|noise|an audio track|audio track|silence)" + _WHERE,
        rf"(?:does|do) {_V} (?:have|contain|include) (?:any )?(?:sound|audio|an audio track|audio track|noise)",
        rf"(?:is|was) (?:{_V}|{_AUDIO}) (?:silent|quiet|loud|noisy|mute|muted)",
        rf"how loud is (?:{_V}|{_AUDIO}|the music)",
        rf"what (?:kind of |type of )?(?:sound|audio)(?: (?:is there|does {_V} have|is in {_V}|can you hear|"
        r"is heard))?",
        r"(?:what is|describe) (?:the audio|the sound)(?: like)?",
    ),
    "scenes": (
        rf"how many (?:scenes|cuts|shots|scene changes|camera cuts|edits|scene cuts)(?: (?:are there|there are|"
        rf"does {_V} have|(?:are )?in {_V}|(?:does|did) {_V} (?:contain|have)))?",
        rf"(?:how fast|how quick|what) is the (?:editing|cutting|pace|pacing|cutting rate|editing pace|cut rate)"
        rf"(?: (?:of|in) {_V})?",
        r"(?:is|was) the (?:editing|cutting|pace|pacing) (?:fast|slow|quick|rapid)",
        rf"what is the (?:pace|pacing)(?: of (?:the editing|the cutting|{_V}))?",
        rf"(?:is|was) {_V} (?:fast|slow) ?paced",
        rf"(?:are|is) there (?:any |many |a lot of |lots of )?(?:cuts|scene changes|edits|scene cuts){_WHERE}",
        r"how often (?:does|do) (?:the )?(?:scenes?|shots?|camera angles?) change",
    ),
    "duration": (
        rf"how long is {_WHOLE}",
        rf"what is the (?:duration|length|running time|runtime)(?: of {_WHOLE})?",
        rf"how many (?:seconds|minutes)(?: long)? is {_WHOLE}",
    ),
}
_COMPILED = {t: [re.compile(p) for p in ps] for t, ps in _PATTERNS.items()}
_POLITE = re.compile(r"^(?:(?:please|tell me|(?:can|could) you (?:please )?tell me) )+")


def normalize(question: str) -> str:
    """Case-folded words of ``question`` without punctuation or a polite opening."""
    q = question.casefold().replace("\u2019", "'")
    q = re.sub(r"[^\w\s']+|[-_]", " ", q)  # "night-time" reads as "night time"
    q = re.sub(r"\s+", " ", q).strip(" '")
    q = re.sub(r" please$", "", q)
    return _POLITE.sub("", q)


def topic(question: str) -> str | None:
    """The measured topic the whole question asks about (``light``, ``text``, ``faces``,
    ``camera``, ``colors``, ``speech``, ``music``, ``sound``, ``scenes``, ``duration``), or None."""
    q = normalize(question)
    for name, patterns in _COMPILED.items():
        if any(p.fullmatch(q) for p in patterns):
            return name
    return None

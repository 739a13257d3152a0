"""The search evaluation set: spoken clips on ten topics, and queries whose right answers are known.

Each clip is a few sentences that ``benchmarks/search_eval.py`` synthesises with espeak-ng into the
audio of a generated video. Each query names the clip and the sentence it should find:

- ``paraphrase`` queries say what a sentence says in other words (no content word in common with
  it: :func:`shared_words` checks), the case full-text search cannot find;
- ``keyword`` queries are a distinctive word or two that the sentence really contains;
- ``OFF_TOPIC`` queries are about nothing the clips say: the right answer is no video.

The sentences use American spellings (what the bundled ``tiny.en`` model writes) and no years, so
that the word error rate measures recognition, not spelling conventions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Clip:
    id: str  # also the file name: it says nothing about the topic (file names are searchable)
    topic: str
    sentences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EvalQuery:
    text: str
    clip: str  # the clip id that holds the answer
    sentence: int  # index of the sentence in that clip
    kind: str  # paraphrase | keyword


CLIPS: tuple[Clip, ...] = (
    Clip(
        "clip01",
        "cooking",
        (
            "Keep the loaf in a cloth bag so it stays fresh for days.",
            "Knead the dough for ten minutes until it feels smooth and elastic.",
            "Let the dough rise in a warm place until it doubles in size.",
            "Bake it at two hundred degrees for about forty minutes.",
        ),
    ),
    Clip(
        "clip02",
        "cooking",
        (
            "Chop the onions finely and fry them gently in olive oil.",
            "Add a pinch of salt to the boiling water before the pasta goes in.",
            "Simmer the tomato sauce slowly so the flavors can blend.",
            "Grate fresh parmesan cheese over the plate just before serving.",
        ),
    ),
    Clip(
        "clip03",
        "cooking",
        (
            "Beat the eggs and sugar together until the mixture is pale.",
            "Fold the flour in gently so the cake stays light.",
            "Test the sponge with a skewer, and if it comes out clean it is done.",
            "Let the cake cool completely before you add the icing.",
        ),
    ),
    Clip(
        "clip04",
        "football",
        (
            "The striker scored a brilliant goal in the final minute of the match.",
            "The referee showed a red card after a dangerous tackle.",
            "The home team won the league title for the third year in a row.",
            "Thousands of fans celebrated in the streets after the game.",
        ),
    ),
    Clip(
        "clip05",
        "football",
        (
            "Players should stretch their legs before every training session.",
            "Practice passing the ball with both feet to become more versatile.",
            "The goalkeeper must dive quickly to stop shots in the corner.",
            "Running short sprints improves your speed on the pitch.",
        ),
    ),
    Clip(
        "clip06",
        "football",
        (
            "Brazil has won the world cup five times, more than any other country.",
            "The final was decided by a penalty shootout.",
            "Video replays now help officials review difficult decisions.",
            "The tournament is watched by billions of people on television.",
        ),
    ),
    Clip(
        "clip07",
        "weather",
        (
            "Heavy rain is expected across the north tomorrow morning.",
            "Strong winds could bring down trees and power lines.",
            "Temperatures will drop below freezing overnight, so watch out for ice on the roads.",
            "The weekend looks sunny and warm with clear skies.",
        ),
    ),
    Clip(
        "clip08",
        "weather",
        (
            "Hurricanes form over warm ocean water near the equator.",
            "Meteorologists use satellites to track storms as they move.",
            "Lightning is caused by the build up of electrical charge inside clouds.",
            "A rainbow appears when sunlight is split by drops of water.",
        ),
    ),
    Clip(
        "clip09",
        "weather",
        (
            "Snow fell heavily in the mountains, closing several roads.",
            "Fog makes it hard for drivers to see far ahead.",
            "Spring brings mild days and frequent showers.",
            "A heat wave can be dangerous for elderly people.",
        ),
    ),
    Clip(
        "clip10",
        "space",
        (
            "The rocket launched from the coast and reached orbit in nine minutes.",
            "Astronauts on the space station grow vegetables in small gardens.",
            "Mars is a cold desert planet with a thin atmosphere.",
            "The telescope captured images of galaxies billions of light years away.",
        ),
    ),
    Clip(
        "clip11",
        "space",
        (
            "The moon has no air, so footprints left there can last for millions of years.",
            "A black hole pulls in everything, even light.",
            "The sun is a star made mostly of hydrogen and helium.",
            "Jupiter is the largest planet in our solar system.",
        ),
    ),
    Clip(
        "clip12",
        "space",
        (
            "Satellites send television signals all around the world.",
            "Your phone uses timing signals from satellites to find your position.",
            "Old satellites become space junk that can hit other spacecraft.",
            "The space station circles the earth every ninety minutes.",
        ),
    ),
    Clip(
        "clip13",
        "gardening",
        (
            "Water tomato plants early in the morning to prevent disease.",
            "Plant the bulbs in autumn about ten centimeters deep.",
            "Add compost to the soil to give your vegetables more nutrients.",
            "Prune the roses in late winter to encourage new growth.",
        ),
    ),
    Clip(
        "clip14",
        "gardening",
        (
            "Slugs and snails can destroy young lettuce overnight.",
            "Mow the lawn regularly but never cut the grass too short.",
            "Bees help pollinate fruit trees in the spring.",
            "Mulch keeps moisture in the ground during hot summers.",
        ),
    ),
    Clip(
        "clip15",
        "finance",
        (
            "Put a small part of every paycheck into a savings account.",
            "Interest rates went up again, so mortgages are more expensive.",
            "Spread your investments across many different companies.",
            "Pay off credit card debt first because it charges the highest interest.",
        ),
    ),
    Clip(
        "clip16",
        "finance",
        (
            "The stock market fell sharply after the announcement.",
            "Inflation means your money buys less than it did last year.",
            "Write down every expense to make a monthly budget.",
            "A pension lets you retire with a regular income.",
        ),
    ),
    Clip(
        "clip17",
        "music lessons",
        (
            "Tune the guitar strings before you start playing.",
            "Press the strings firmly just behind the frets.",
            "Practice the chord changes slowly and then speed up.",
            "Strum downwards with a relaxed wrist.",
        ),
    ),
    Clip(
        "clip18",
        "music lessons",
        (
            "Sit up straight at the piano and keep your fingers curved.",
            "Use a metronome to keep a steady rhythm.",
            "Learn to read the notes on the treble clef.",
            "Breathe from your belly when you sing long phrases.",
        ),
    ),
    Clip(
        "clip19",
        "car repair",
        (
            "Check the tire pressure once a month with a gauge.",
            "Change the engine oil every ten thousand kilometers.",
            "If the battery is flat, use jumper cables from another car.",
            "Replace the brake pads when you hear a squealing noise.",
        ),
    ),
    Clip(
        "clip20",
        "car repair",
        (
            "The check engine light means the computer found a fault.",
            "Top up the coolant when the engine is cold.",
            "Worn wiper blades leave streaks on the windshield.",
            "Rotate the wheels to make the tires wear evenly.",
        ),
    ),
    Clip(
        "clip21",
        "fitness",
        (
            "Drink plenty of water during the day to stay hydrated.",
            "Adults should sleep seven to nine hours every night.",
            "A brisk walk of thirty minutes is good for your heart.",
            "Eat more fruit and vegetables and less sugar.",
        ),
    ),
    Clip(
        "clip22",
        "fitness",
        (
            "Lift weights twice a week to build stronger muscles.",
            "Warm up for five minutes before you go running.",
            "Yoga improves balance and flexibility.",
            "Rest days give your body time to recover.",
        ),
    ),
    Clip(
        "clip23",
        "pets",
        (
            "Reward your puppy with a treat when it sits on command.",
            "Take the dog for a walk at least twice a day.",
            "Brush its coat every week to reduce shedding.",
            "Never leave a dog alone in a hot car.",
        ),
    ),
    Clip(
        "clip24",
        "pets",
        (
            "Cats sleep for up to sixteen hours a day.",
            "Clean the litter box every day to keep it fresh.",
            "A scratching post saves your furniture from claws.",
            "Cats purr when they are content and relaxed.",
        ),
    ),
)


def _p(text: str, clip: str, sentence: int) -> EvalQuery:
    return EvalQuery(text, clip, sentence, "paraphrase")


def _k(text: str, clip: str, sentence: int) -> EvalQuery:
    return EvalQuery(text, clip, sentence, "keyword")


QUERIES: tuple[EvalQuery, ...] = (
    _p("how to stop bread from going stale", "clip01", 0),
    _p("leave the yeast mixture somewhere hot to grow twice as big", "clip01", 2),
    _p("season the pot before cooking noodles", "clip02", 1),
    _p("sprinkle shredded Italian dairy on the dish at the end", "clip02", 3),
    _p("whisk yolks with sweetener until light colored", "clip03", 0),
    _p("wait until it is no longer hot before frosting", "clip03", 3),
    _p("a forward found the net right at the end of the game", "clip04", 0),
    _p("the official sent a player off for a reckless challenge", "clip04", 1),
    _p("loosen up your muscles prior to practice", "clip05", 0),
    _p("the keeper has to leap fast to block attempts", "clip05", 2),
    _p("which nation holds the most international trophies", "clip06", 0),
    _p("referees can watch recordings to check tricky calls", "clip06", 2),
    _p("a downpour is coming to northern areas early next day", "clip07", 0),
    _p("gales may topple branches and cut electricity cables", "clip07", 1),
    _p("where do tropical cyclones develop", "clip08", 0),
    _p("what makes the flashes in a thunderstorm", "clip08", 2),
    _p("mist cuts visibility for motorists", "clip09", 1),
    _p("hot spells put older folks at risk", "clip09", 3),
    _p("crews living aboard the orbiting lab farm their own salad", "clip10", 1),
    _p("the red world is frozen and dry with barely any air", "clip10", 2),
    _p("nothing escapes the gravity of a collapsed star", "clip11", 1),
    _p("the biggest world that goes around our star", "clip11", 3),
    _p("how navigation works out where you are", "clip12", 1),
    _p("debris from dead orbiters is a collision risk", "clip12", 2),
    _p("irrigate the vines at sunrise so they stay healthy", "clip13", 0),
    _p("feed the earth with rotted kitchen scraps for richer crops", "clip13", 2),
    _p("pests with shells eat leafy greens at night", "clip14", 0),
    _p("a layer of bark chips stops the earth drying out in heat", "clip14", 3),
    _p("stash a portion of your wages in the bank", "clip15", 0),
    _p("home loans cost more now that borrowing got pricier", "clip15", 1),
    _p("rising prices shrink what cash can purchase", "clip16", 1),
    _p("how to save for old age and stop working", "clip16", 3),
    _p("adjust the pegs so each note sounds right", "clip17", 0),
    _p("rehearse switching harmonies at a low tempo then go faster", "clip17", 2),
    _p("a ticking device helps you stay in time", "clip18", 1),
    _p("use your diaphragm for air while vocalizing", "clip18", 3),
    _p("how to start a vehicle whose power cell died", "clip19", 2),
    _p("a high pitched squeak when stopping means new friction parts", "clip19", 3),
    _p("refill radiator fluid after the motor has cooled", "clip20", 1),
    _p("an old rubber squeegee on a car smears the front glass", "clip20", 2),
    _p("grown ups need a good amount of rest each evening", "clip21", 1),
    _p("half an hour of fast strolling helps cardiovascular health", "clip21", 2),
    _p("strength training to bulk up", "clip22", 0),
    _p("stretching poses make you more supple and steady", "clip22", 2),
    _p("give the young pup a snack when it obeys", "clip23", 0),
    _p("pets can overheat in a parked vehicle", "clip23", 3),
    _p("give kittens something to sharpen nails on so the sofa survives", "clip24", 2),
    _p("felines rumble when they feel happy", "clip24", 3),
    _k("parmesan", "clip02", 3),
    _k("red card", "clip04", 1),
    _k("penalty shootout", "clip06", 1),
    _k("hurricanes", "clip08", 0),
    _k("rainbow", "clip08", 3),
    _k("telescope", "clip10", 3),
    _k("hydrogen", "clip11", 2),
    _k("compost", "clip13", 2),
    _k("lettuce", "clip14", 0),
    _k("inflation", "clip16", 1),
    _k("metronome", "clip18", 1),
    _k("brake pads", "clip19", 3),
    _k("coolant", "clip20", 1),
    _k("yoga", "clip22", 2),
    _k("litter box", "clip24", 1),
)

# Queries about nothing the clips say: a search should return no video for them.
OFF_TOPIC: tuple[str, ...] = (
    "how to knit a wool scarf",
    "the history of the roman empire",
    "best smartphone camera settings",
    "speaking japanese fluently",
    "painting a bedroom wall",
    "chess opening strategy",
    "choosing a wedding dress",
    "fixing a leaking tap",
)

STOPWORDS = frozenset(
    """a an the and or but if so of in on at to for from by with as is are was were be been it its this that
    these those your you my our their they we he she his her them do does did not no never than then there
    what which who how where when why can could may might must should will would up down out over under
    about into after before until again more most less every each all any some other just very too""".split()
)


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped (apostrophes kept inside words)."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def shared_words(query: str, sentence: str) -> set[str]:
    """Content words (crudely stemmed) that a query and a sentence have in common."""
    q = {_stem(w) for w in words(query) if w not in STOPWORDS}
    return q & {_stem(w) for w in words(sentence) if w not in STOPWORDS}


def clip(clip_id: str) -> Clip:
    return next(c for c in CLIPS if c.id == clip_id)


def check() -> list[str]:
    """Problems with the set itself: a paraphrase sharing a content word with its sentence, a
    keyword its sentence lacks, a keyword spoken in another clip too."""
    problems = []
    for q in QUERIES:
        sentence = clip(q.clip).sentences[q.sentence]
        if q.kind == "paraphrase" and (common := shared_words(q.text, sentence)):
            problems.append(f"paraphrase {q.text!r} shares {sorted(common)} with {sentence!r}")
        if q.kind == "keyword":
            if q.text.lower() not in sentence.lower():
                problems.append(f"keyword {q.text!r} is not in {sentence!r}")
            elsewhere = [c.id for c in CLIPS if c.id != q.clip and q.text.lower() in " ".join(c.sentences).lower()]
            if elsewhere:
                problems.append(f"keyword {q.text!r} is also spoken in {elsewhere}")
    for text in OFF_TOPIC:
        for c in CLIPS:
            if common := shared_words(text, " ".join(c.sentences)):
                problems.append(f"off-topic query {text!r} shares {sorted(common)} with {c.id}")
    return problems


if __name__ == "__main__":
    found = check()
    print("\n".join(found) or f"{len(CLIPS)} clips, {len(QUERIES)} queries: no problem found")

"""The name said aloud: how often the check accepts the right name and rejects another one.

No recording in ../shared/evaldata says a full name (SOURCES.md: the Russian clips are
numbers, "нейронные сети", unknown Tinkoff demos), so the speech is synthesized by two
engines: Festival's Russian voice ``msu_ru_nsh`` (unit selection: pieces of one real
speaker's recordings; at normal speed, and at 1.15x with pink noise 20 dB down) and
espeak-ng (formant synthesis, far rougher: Whisper base unprompted makes little of it).

* ``tune``: 20 names, Festival (both ways) and espeak-ng ru+m1/140, ru+f2/160,
  ru+m3/175 wpm; the matcher's thresholds were chosen on this part only.
* ``held``: 20 other names no threshold saw, Festival (both ways) and espeak-ng
  ru+f4/150 wpm (a voice the tuning did not hear).

Each clip is transcribed by Whisper base (faster-whisper, the settings of the check)
three ways: without a prompt (what the check does), with the roster name as
``initial_prompt``, and with the near impostor's roster name as the prompt (what a
prompt does to another student's speech). ``--collect`` synthesizes and transcribes
what the table lacks and writes the real outputs (words with their probabilities) to
``tests/detection/data/spoken_names.tsv``; without it the table is scored: accept rate
for the right roster name, false accepts for the near name (Иванов/Иваненко,
Петров/Петрова, the same given name) and for an unrelated name, old matcher and new.
Run: ``flock /tmp/proctorbot-heavy.lock .venv/bin/python benchmarks/spoken_names.py [--collect]``
(needs espeak-ng, festival + festvox-ru and sox for ``--collect``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "tests" / "detection" / "data" / "spoken_names.tsv"

# (roster name, near impostor: another student whose name is close)
TUNE_NAMES = [
    ("Иванов Пётр Сергеевич", "Иваненко Пётр Сергеевич"),
    ("Петрова Анна Викторовна", "Петров Антон Викторович"),
    ("Смирнов Алексей Игоревич", "Смирнова Алёна Игоревна"),
    ("Кузнецова Мария Андреевна", "Кузьмина Мария Андреевна"),
    ("Соколов Дмитрий Олегович", "Соловьёв Дмитрий Олегович"),
    ("Попова Екатерина Сергеевна", "Попов Евгений Сергеевич"),
    ("Лебедев Михаил Юрьевич", "Лебедева Мила Юрьевна"),
    ("Козлова Ольга Николаевна", "Козлов Олег Николаевич"),
    ("Новиков Артём Павлович", "Новикова Анна Павловна"),
    ("Морозова Юлия Дмитриевна", "Морозов Юрий Дмитриевич"),
    ("Волков Илья Александрович", "Волкова Ирина Александровна"),
    ("Щербакова Алёна Юрьевна", "Щербаков Алексей Юрьевич"),
    ("Фёдоров Никита Васильевич", "Фролов Никита Васильевич"),
    ("Михайлова Дарья Константиновна", "Михеева Дарья Константиновна"),
    ("Беляев Кирилл Андреевич", "Белов Кирилл Андреевич"),
    ("Тарасова Виктория Игоревна", "Тарасов Виктор Игоревич"),
    ("Жуков Глеб Максимович", "Жукова Галина Максимовна"),
    ("Григорьева Софья Ильинична", "Григорьев Семён Ильич"),
    ("Хабибуллин Тимур Ринатович", "Хабибулин Тимур Ринатович"),
    ("Ким Елизавета Вадимовна", "Ким Елена Вадимовна"),
]
HELD_NAMES = [
    ("Сидоров Андрей Викторович", "Сидоренко Андрей Викторович"),
    ("Орлова Наталья Петровна", "Орлов Николай Петрович"),
    ("Васильев Роман Евгеньевич", "Васильева Римма Евгеньевна"),
    ("Зайцева Полина Олеговна", "Зайцев Павел Олегович"),
    ("Павлов Денис Сергеевич", "Павленко Денис Сергеевич"),
    ("Семёнова Ксения Алексеевна", "Семенова Ксения Андреевна"),
    ("Голубев Станислав Игоревич", "Голубева Светлана Игоревна"),
    ("Виноградова Алиса Романовна", "Виноградов Алексей Романович"),
    ("Богданов Егор Владимирович", "Богданова Ева Владимировна"),
    ("Воробьёва Вера Николаевна", "Воробьёв Вадим Николаевич"),
    ("Макаров Иван Денисович", "Макарова Инна Денисовна"),
    ("Андреева Людмила Геннадьевна", "Андреев Леонид Геннадьевич"),
    ("Ковалёв Максим Аркадьевич", "Ковальчук Максим Аркадьевич"),
    ("Ильина Злата Тимуровна", "Ильин Захар Тимурович"),
    ("Гусев Фёдор Анатольевич", "Гусева Фаина Анатольевна"),
    ("Титова Маргарита Львовна", "Титов Марк Львович"),
    ("Кудрявцев Ярослав Олегович", "Кудрявцева Ярослава Олеговна"),
    ("Баранова Евгения Михайловна", "Баранов Евгений Михайлович"),
    ("Абрамян Давид Артурович", "Абрамов Давид Артурович"),
    ("Шевченко Тарас Богданович", "Шевчук Тарас Богданович"),
]
CARRIERS = ("Меня зовут {}.", "{}.", "Я {}.")
FESTIVAL = (("festival", "msu_ru_nsh", 1.0), ("festival-noisy", "msu_ru_nsh", 1.15))
TUNE_VOICES = (("espeak", "ru+m1", 140), ("espeak", "ru+f2", 160), ("espeak", "ru+m3", 175))
TUNE_VOICES += FESTIVAL
HELD_VOICES = (*FESTIVAL, ("espeak", "ru+f4", 150))
FIELDS = (
    "split",
    "voice",
    "roster",
    "near",
    "other",
    "said",
    "prompt",
    "text",
    "words",
    "seconds",
)


def synthesize(kind: str, voice: str, rate: float, text: str, out: Path) -> None:
    raw = out.with_suffix(".raw.wav")
    if kind == "espeak":
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(raw), text], check=True
        )
    else:
        src = out.with_suffix(".txt")
        src.write_text(text, encoding="utf-8")
        subprocess.run(
            ["text2wave", "-eval", f"(voice_{voice}_clunits)", str(src), "-o", str(raw)],
            check=True,
            capture_output=True,
        )
    effects = ["rate", "16000", "channels", "1"]
    if rate != 1.0 and kind != "espeak":
        effects = ["tempo", str(rate), *effects]
    subprocess.run(["sox", str(raw), "-b", "16", str(out), *effects], check=True)
    if kind == "festival-noisy":  # pink noise 20 dB under the speech
        import numpy as np
        from proctorbot.detection.audio_input import load_audio, write_wav

        samples = load_audio(out).samples
        rng = np.random.default_rng(abs(hash(text)) % 2**32)
        noise = np.cumsum(rng.standard_normal(len(samples))).astype(np.float32)
        noise -= np.convolve(noise, np.ones(400) / 400, mode="same")
        power = float(np.mean(samples**2))
        noise *= np.sqrt(power / 100.0 / max(float(np.mean(noise**2)), 1e-12))
        write_wav(out, samples + noise)


def collect() -> None:
    from proctorbot.config.settings import DetectionSettings
    from proctorbot.detection.audio_input import load_audio
    from proctorbot.detection.model_files import default_cache_dir
    from proctorbot.detection.transcription import build_transcriber

    for tool in ("espeak-ng", "text2wave", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing (apt-get install espeak-ng festival festvox-ru sox)")
    transcriber = build_transcriber(DetectionSettings(), default_cache_dir())
    rows = load_table() if TABLE.is_file() else []
    done = {(r["split"], r["voice"], r["roster"]) for r in rows}
    with tempfile.TemporaryDirectory() as tmp:
        for split, names, voices in (
            ("tune", TUNE_NAMES, TUNE_VOICES),
            ("held", HELD_NAMES, HELD_VOICES),
        ):
            for v, (kind, voice, rate) in enumerate(voices):
                for i, (roster, near) in enumerate(names):
                    other = names[(i + 7) % len(names)][0]
                    if (split, f"{kind}:{voice}:{rate}", roster) in done:
                        continue
                    said = CARRIERS[(i + v) % len(CARRIERS)].format(roster)
                    wav = Path(tmp) / f"{split}-{v}-{i}.wav"
                    synthesize(kind, voice, rate, said, wav)
                    samples = load_audio(wav).samples
                    for prompt in ("", roster, near):
                        start = time.perf_counter()
                        transcript = transcriber.transcribe(
                            samples, "ru", initial_prompt=prompt or None
                        )
                        seconds = time.perf_counter() - start
                        words = [
                            (w.text, float(w.probability))
                            for s in transcript.segments
                            for w in s.words
                        ]
                        rows.append(
                            {
                                "split": split,
                                "voice": f"{kind}:{voice}:{rate}",
                                "roster": roster,
                                "near": near,
                                "other": other,
                                "said": said,
                                "prompt": "none"
                                if not prompt
                                else ("own" if prompt == roster else "near"),
                                "text": transcript.text,
                                "words": json.dumps(words, ensure_ascii=False),
                                "seconds": round(seconds, 2),
                            }
                        )
                        print(
                            split,
                            kind,
                            voice,
                            rows[-1]["prompt"],
                            "|",
                            roster,
                            "->",
                            transcript.text,
                            flush=True,
                        )
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    for row in rows:  # a hallucinated run ("ППППП…") is kept short
        row["text"] = row["text"][:300]
        row["words"] = json.dumps(json.loads(row["words"])[:40], ensure_ascii=False)
    with TABLE.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, FIELDS, delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} rows -> {TABLE}")


def load_table(path: Path = TABLE) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def score(rows: list[dict], matcher) -> dict:  # noqa: ANN001
    """Accept rate (right name) and false accepts (near, other) per split, prompt, engine."""
    out: dict = {}
    for split in ("tune", "held"):
        for prompt in ("none", "own"):
            for engine in ("festival", "espeak"):
                part = [
                    r
                    for r in rows
                    if r["split"] == split
                    and r["prompt"] == prompt
                    and r["voice"].startswith(engine)
                ]
                if not part:
                    continue
                ok = sum(matcher(r, r["roster"]) for r in part)
                # With a prompt, the check would prompt with the name it expects: another
                # student's clip is transcribed with the near name as the prompt (the 'near'
                # rows) and scored against that name. Unrelated names: no prompt only.
                near_rows = [
                    r
                    for r in rows
                    if r["split"] == split
                    and r["prompt"] == ("near" if prompt == "own" else "none")
                    and r["voice"].startswith(engine)
                ]
                near = sum(matcher(r, r["near"]) for r in near_rows)
                out[f"{split}/{prompt}/{engine}"] = {
                    "accepted": f"{ok}/{len(part)}",
                    "accept_rate": round(ok / len(part), 4),
                    "false_accept_near": f"{near}/{len(near_rows)}",
                    "false_accept_other": (
                        f"{sum(matcher(r, r['other']) for r in part)}/{len(part)}"
                        if prompt == "none"
                        else "n/a"
                    ),
                }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--collect", action="store_true", help="synthesize and transcribe anew")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.collect:
        collect()
    from proctorbot.detection.spoken_name import match_spoken_name

    rows = load_table()

    def new(row: dict, expected: str) -> bool:
        words = [(w, p) for w, p in json.loads(row["words"])]
        return match_spoken_name(words, expected).matched

    def old(row: dict, expected: str) -> bool:
        from proctorbot.detection.names import best_name_in_text

        return (
            bool(row["text"].split()) and best_name_in_text(row["text"].split(), expected).matched
        )

    result = {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "rows": len(rows),
        "old_matcher": score(rows, old),
        "new_matcher": score(rows, new),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

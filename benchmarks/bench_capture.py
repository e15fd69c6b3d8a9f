"""Capture benchmark: read rate and time per image of `scan_image` (QR and MRZ, both generations) beside plain
pyzbar on the same images, and the portrait pipeline's time per image.

Images: the two VN_CARD.md specimens rendered by issuance.card_face at 600 dpi (front and back of both
generations), and the same faces "photographed" by reader.capture.synth (perspective, blur, noise, glare,
JPEG; seeded), at the default strength and a harsh one. A read counts only when the personal ID (QR) or
the whole MRZ (check digits verified) is right.

Run: .venv/bin/python benchmarks/bench_capture.py [--seeds N]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from pyzbar import pyzbar

from issuance.card_face import CardFaceData, render_back, render_front
from issuance.portrait import load_portrait, process_portrait, sample_portrait_bytes
from reader.capture import QRGeneration, scan_image
from reader.capture.ocrb import glyph_model
from reader.capture.synth import PhotoParams, photograph

ROOT = Path(__file__).resolve().parents[1]
SPECIMENS = json.loads((ROOT / "tests/vectors/capture/specimens.json").read_text("utf-8"))["specimens"]
HARSH = PhotoParams(tilt=0.16, rotation=12, blur_sigma=1.8, noise_sigma=10, glare=0.6, jpeg_quality=60)


def faces() -> list[dict]:
    out = []
    for spec in SPECIMENS:
        for gen in QRGeneration:
            data = CardFaceData.build(
                gen, personal_id=spec["personal_id"], full_name=spec["full_name"],
                date_of_birth=dt.date.fromisoformat(spec["date_of_birth"]), sex=spec["sex"],
                date_of_issue=dt.date.fromisoformat(spec["date_of_issue"]),
                place_of_residence=spec["place_of_residence"], place_of_birth=spec["place_of_birth"],
                cmnd=spec["cmnd"])
            for side, img in (("front", render_front(data, 600)), ("back", render_back(data, 600))):
                has_qr = (gen is QRGeneration.CCCD_2021) == (side == "front")
                out.append({"spec": spec, "gen": gen.value, "side": side, "qr": has_qr, "mrz": side == "back",
                            "image": np.asarray(img.convert("RGB"))[:, :, ::-1].copy()})
    return out


def image_sets(seeds: int) -> dict[str, list[dict]]:
    base = faces()
    sets = {"rendered": base}
    sets["photographed"] = [dict(f, image=photograph(f["image"], 100 + s)) for f in base for s in range(seeds)]
    sets["photographed-harsh"] = [dict(f, image=photograph(f["image"], 200 + s, HARSH))
                                  for f in base for s in range(max(1, seeds // 2))]
    desk = PhotoParams(background=(235, 238, 240))  # a white desk: no card outline to find
    sets["photographed-white-desk"] = [dict(f, image=photograph(f["image"], 300 + s, desk))
                                       for f in base for s in range(max(1, seeds // 2))]
    return sets


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def row(label: str, n: int, ok: int, times: list[float]) -> str:
    if not times:
        return f"{label:<44} {'n/a':>8}"
    ms = [t * 1000 for t in times]
    return (f"{label:<44} {ok:>3}/{n:<3} {100 * ok / max(n, 1):6.1f}%  median {statistics.median(ms):7.1f} ms"
            f"  mean {statistics.fmean(ms):7.1f} ms")


def bench_scan(sets: dict[str, list[dict]]) -> None:
    print("== card faces: read rate and time per image")
    for name, images in sets.items():
        print(f"-- {name} ({len(images)} images)")
        # (the 2024 front carries neither a QR nor an MRZ: nothing to read there, so it is left out)
        qr_faces = [f for f in images if f["qr"]]
        mrz_faces = [f for f in images if f["mrz"]]
        # floor: plain pyzbar (text mode, no preprocessing) on the QR faces
        ok, times = 0, []
        for f in qr_faces:
            found, t = timed(pyzbar.decode, cv2.cvtColor(f["image"], cv2.COLOR_BGR2GRAY),
                             symbols=[pyzbar.ZBarSymbol.QRCODE])
            times.append(t)
            ok += any(s.data.decode("utf-8", "replace").startswith(f["spec"]["personal_id"]) for s in found)
        print(row("plain pyzbar, QR faces (floor)", len(qr_faces), ok, times))
        ok_exact = 0
        for f in qr_faces:
            found = pyzbar.decode(cv2.cvtColor(f["image"], cv2.COLOR_BGR2GRAY), symbols=[pyzbar.ZBarSymbol.QRCODE])
            want = f["spec"]["qr_2021" if f["gen"] == "cccd2021" else "qr_2024"]
            ok_exact += any(s.data.decode("utf-8", "replace") == want for s in found)
        print(row("plain pyzbar, QR faces, text exactly right", len(qr_faces), ok_exact, times))
        for label, subset, mode in (
            ("scan_image mode=qr, QR faces", qr_faces, "qr"),
            ("scan_image mode=mrz, MRZ faces (backs)", mrz_faces, "mrz"),
            ("scan_image auto, faces with a QR or an MRZ", [f for f in images if f["qr"] or f["mrz"]], "auto"),
        ):
            ok, times = 0, []
            for f in subset:
                r, t = timed(scan_image, f["image"], mode=mode)
                times.append(t)
                good = r.ok and r.fields.get("personal_id") == f["spec"]["personal_id"]
                if r.ok and r.kind is not None and r.kind.value == "mrz":
                    good = good and r.access_keys.mrz_information == f["spec"]["mrz_information"]
                ok += good
            print(row(label, len(subset), ok, times))


def bench_charset(n: int) -> None:
    """Card QRs *without* an ECI designator (as real cards may be printed): zbar guesses the charset."""
    import io
    import random

    import segno
    from PIL import Image

    from reader.capture import decode_qr

    words = ("Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Văn Thị Hữu Đức Minh "
             "Hương Lợi Thừa Thiên Huế Quảng Ngãi Phường Xã Đà Nẵng").split()
    rng = random.Random(5)
    images, texts = [], []
    for _ in range(n):
        name = " ".join(rng.choice(words) for _ in range(3))
        addr = " ".join(rng.choice(words) for _ in range(rng.randint(1, 5)))
        text = f"079090012345||{name}|15031990|Nam|{addr}|01052021"
        buf = io.BytesIO()
        segno.make(text, encoding="utf-8", eci=False, error="m", micro=False).save(buf, kind="png", scale=4)
        images.append(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L")))
        texts.append(text)
    print(f"== card QRs without ECI ({n} payloads with random Vietnamese names/addresses)")
    for label, fn in (
        ("plain pyzbar (zbar's charset guess)",
         lambda im: [s.data.decode("utf-8", "replace") for s in pyzbar.decode(im)]),
        ("decode_qr text mode + repair", lambda im: [d.text for d in decode_qr(im, binary=False)]),
        ("decode_qr zbar binary mode, UTF-8", lambda im: [d.text for d in decode_qr(im)]),
    ):
        ok, times = 0, []
        for im, text in zip(images, texts, strict=True):
            got, t = timed(fn, im)
            times.append(t)
            ok += text in got
        print(row(label, n, ok, times))


def bench_portrait(n: int) -> None:
    print("== portrait pipeline (load, Haar face+eyes, 12 rules, token crop, JPEG under 18 KB)")
    data = sample_portrait_bytes()
    image = load_portrait(data)
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)  # a 780 × 1170 camera frame
    for label, src, fmt in (("sample 260x390, JPEG", data, "jpeg"), ("sample 260x390, JPEG 2000", data, "jp2"),
                            ("camera-size 780x1170, JPEG", big, "jpeg")):
        times = []
        result = None
        for _ in range(n):
            result, t = timed(process_portrait, src, fmt=fmt)
            times.append(t)
        ms = [t * 1000 for t in times]
        size = len(result.encoded) if result and result.encoded else 0
        print(f"{label:<44} median {statistics.median(ms):7.1f} ms  mean {statistics.fmean(ms):7.1f} ms  "
              f"passed={result.passed}  {size} bytes q={result.quality}")
    # floor: JPEG encoding alone of the same token
    token = process_portrait(data).token
    _, t = timed(lambda: [cv2.imencode(".jpg", token, [cv2.IMWRITE_JPEG_QUALITY, 85]) for _ in range(20)])
    print(f"{'floor: one cv2.imencode JPEG of the token':<44} {t / 20 * 1000:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="photographs per face (default 3)")
    parser.add_argument("--portrait-runs", type=int, default=5)
    args = parser.parse_args()
    _, t = timed(glyph_model)
    print(f"OCR-B glyph model trained in {t * 1000:.0f} ms (once per process)")
    sets = image_sets(args.seeds)
    bench_scan(sets)
    bench_charset(60)
    bench_portrait(args.portrait_runs)


if __name__ == "__main__":
    main()

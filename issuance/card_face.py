"""Card face proof: render the front and back of both card generations (PNG/PDF) for the printer and tests.

ID-1 size (ISO/IEC 7810: 85.60 mm × 53.98 mm). Printed fields in Vietnamese (DejaVu Sans, which covers
Vietnamese diacritics), the card QR made with ``segno`` *with an ECI designator* for UTF-8 (ISO/IEC 18004
§6.4.2), and the TD1 MRZ in OCR-B at 10 characters per inch (ICAO 9303-3 §4.1, 9303-5 §4.2).

Layouts (Decision: approximations of the public specimens, positions in mm kept in one table per side):

* 2021 CCCD: front has portrait, QR (top right) and the personal fields; back has identifying features,
  date of issue, issuing officer title, and the MRZ.
* 2024 card: front has portrait and name/ID fields; back has the QR, residence, place of birth registration,
  dates of issue/expiry, issuing authority, and the MRZ.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont, ImageOps

from reader.capture.qr_payload import CardQR, QRGeneration, format_qr_payload

ID1_WIDTH_MM = 85.60
ID1_HEIGHT_MM = 53.98
MRZ_PITCH_MM = 2.54  # ICAO 9303-3: 10 characters per 25.4 mm
MRZ_LINE_PITCH_MM = 4.0
OCRB_ADVANCE_EM = 0.7229  # advance width of every glyph of OCRB.otf, in em

FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/opentype/ocr-b",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
)
FONT_SANS = "DejaVuSans.ttf"
FONT_SANS_BOLD = "DejaVuSans-Bold.ttf"
FONT_OCRB = "OCRB.otf"


class CardFaceError(Exception):
    """A card face cannot be rendered (missing font, invalid MRZ or field)."""

    def __init__(self, detail: str, *, code: str = "card_face.invalid") -> None:
        self.code = code
        super().__init__(f"[{code}] {detail}")


@dataclass(frozen=True)
class CardFaceData:
    """What is printed on a card (independent of the database). Dates are ``datetime.date``."""

    generation: QRGeneration
    personal_id: str
    full_name: str  # with diacritics, as printed
    date_of_birth: dt.date
    sex: str  # "M" / "F"
    date_of_issue: dt.date
    date_of_expiry: dt.date | None  # None: no expiry ("Không thời hạn")
    mrz: tuple[str, str, str]  # TD1, 3 × 30, built by icao9303.mrz
    place_of_residence: str
    place_of_origin: str = ""  # quê quán (2021 front)
    place_of_birth: str = ""  # nơi đăng ký khai sinh (2024 back)
    nationality: str = "Việt Nam"
    cmnd: str = ""
    identifying_features: str = ""
    portrait: bytes | None = field(default=None, repr=False)  # JPEG/PNG/JP2 bytes

    def __repr__(self) -> str:
        return f"CardFaceData(generation={self.generation.value!r}, <redacted>)"

    @classmethod
    def build(cls, generation: QRGeneration, *, personal_id: str, full_name: str, date_of_birth: dt.date,
              sex: str, date_of_issue: dt.date, place_of_residence: str, place_of_origin: str = "",
              place_of_birth: str = "", cmnd: str = "", identifying_features: str = "",
              portrait: bytes | None = None, nationality: str = "Việt Nam") -> CardFaceData:
        """Card face data with the expiry from the age rules (``icao9303.vn.card_expiry``) and the TD1 MRZ
        from ``icao9303.mrz.MRZ.for_vn_card`` — the same functions composition uses for DG1."""
        from icao9303.mrz import MRZ
        from icao9303.vn import card_expiry

        expiry = card_expiry(date_of_birth, date_of_issue)
        mrz = MRZ.for_vn_card(personal_id, full_name, date_of_birth, sex, expiry)
        lines = mrz.lines
        return cls(generation=generation, personal_id=personal_id, full_name=full_name,
                   date_of_birth=date_of_birth, sex=sex, date_of_issue=date_of_issue, date_of_expiry=expiry,
                   mrz=(lines[0], lines[1], lines[2]), place_of_residence=place_of_residence,
                   place_of_origin=place_of_origin, place_of_birth=place_of_birth, nationality=nationality,
                   cmnd=cmnd, identifying_features=identifying_features, portrait=portrait)

    def qr(self) -> CardQR:
        return CardQR(
            personal_id=self.personal_id,
            cmnd=self.cmnd,
            full_name=self.full_name,
            date_of_birth=self.date_of_birth,
            sex=self.sex,
            address=self.place_of_residence,
            date_of_issue=self.date_of_issue,
            generation=self.generation,
        )

    def qr_payload(self) -> str:
        return format_qr_payload(self.qr())


@dataclass(frozen=True)
class CardFaceImages:
    front: Image.Image
    back: Image.Image
    dpi: int


def find_font(name: str) -> str:
    """Path of a font file from the Debian font packages (fonts-dejavu-core, fonts-ocr-b)."""
    extra = os.environ.get("CANCUOC_FONT_DIR")
    for directory in ((extra,) if extra else ()) + FONT_DIRS:
        path = Path(directory) / name
        if path.is_file():
            return str(path)
    raise CardFaceError(f"font {name} not found (install fonts-dejavu-core and fonts-ocr-b)",
                        code="card_face.font_missing")


class _Canvas:
    """An ID-1 canvas addressed in millimetres."""

    def __init__(self, dpi: int, background: tuple[int, int, int]) -> None:
        self.dpi = dpi
        self.image = Image.new("RGB", (self.px(ID1_WIDTH_MM), self.px(ID1_HEIGHT_MM)), background)
        self.draw = ImageDraw.Draw(self.image)
        self._fonts: dict[tuple[str, float], ImageFont.FreeTypeFont] = {}

    def px(self, mm: float) -> int:
        return round(mm * self.dpi / 25.4)

    def font(self, name: str, size_mm: float) -> ImageFont.FreeTypeFont:
        key = (name, size_mm)
        if key not in self._fonts:
            self._fonts[key] = ImageFont.truetype(find_font(name), max(4, self.px(size_mm)))
        return self._fonts[key]

    def text(self, x: float, y: float, text: str, size: float = 1.9, bold: bool = False,
             fill: tuple[int, int, int] = (20, 20, 20), max_width: float | None = None,
             anchor: str = "la") -> None:
        text = unicodedata.normalize("NFC", text)
        font = self.font(FONT_SANS_BOLD if bold else FONT_SANS, size)
        if max_width is not None:
            # shrink long values (addresses) rather than overflow the card edge
            while size > 1.0 and font.getlength(text) > self.px(max_width):
                size *= 0.93
                font = self.font(FONT_SANS_BOLD if bold else FONT_SANS, round(size, 2))
        self.draw.text((self.px(x), self.px(y)), text, font=font, fill=fill, anchor=anchor)

    def label_value(self, x: float, y: float, label: str, value: str, max_width: float) -> None:
        self.text(x, y, label, size=1.45, fill=(70, 70, 70))
        self.text(x, y + 2.0, value, size=2.1, bold=True, max_width=max_width)

    def paste(self, img: Image.Image, x: float, y: float, w: float, h: float) -> None:
        box = (self.px(w), self.px(h))
        # crop to the box's aspect ratio (centred) rather than distort the face
        fitted = ImageOps.fit(img.convert("RGB"), box, Image.Resampling.LANCZOS, centering=(0.5, 0.4))
        self.image.paste(fitted, (self.px(x), self.px(y)))

    def qr(self, payload: str, x: float, y: float, size: float) -> None:
        # Decision: error correction level M and an explicit ECI (UTF-8) designator, so a reader need not
        # guess the character set (zbar guesses Shift-JIS for UTF-8 bytes without ECI).
        code = segno.make(payload, error="m", encoding="utf-8", eci=True, micro=False)
        matrix = np.array([list(row) for row in code.matrix], dtype=np.uint8)
        matrix = np.pad(matrix, 2)  # quiet zone (partly; the card background is white around it)
        img = Image.fromarray(((1 - matrix) * 255).astype(np.uint8), "L")
        n = matrix.shape[0]
        side = self.px(size)
        side -= side % n  # integral module size keeps modules crisp
        img = img.resize((side, side), Image.Resampling.NEAREST)
        self.draw.rectangle([self.px(x), self.px(y), self.px(x) + side, self.px(y) + side], fill="white")
        self.image.paste(img.convert("RGB"), (self.px(x), self.px(y)))

    def mrz(self, lines: tuple[str, str, str]) -> None:
        """TD1 MRZ: 3 lines × 30 characters at 2.54 mm pitch, bottom of the back (ICAO 9303-5 §4.2)."""
        size_px = self.px(MRZ_PITCH_MM) / OCRB_ADVANCE_EM
        font = ImageFont.truetype(find_font(FONT_OCRB), round(size_px))
        zone_w = 30 * MRZ_PITCH_MM
        left = (ID1_WIDTH_MM - zone_w) / 2
        top = ID1_HEIGHT_MM - 3 * MRZ_LINE_PITCH_MM - 2.6
        band = [0, self.px(top - 1.6), self.image.width, self.image.height]
        self.draw.rectangle(band, fill=(250, 250, 247))
        for row, line in enumerate(lines):
            for col, ch in enumerate(line):
                self.draw.text((self.px(left + col * MRZ_PITCH_MM), self.px(top + row * MRZ_LINE_PITCH_MM)),
                               ch, font=font, fill=(0, 0, 0))


def _fmt(d: dt.date | None) -> str:
    return "Không thời hạn" if d is None else d.strftime("%d/%m/%Y")


def _portrait_image(data: CardFaceData) -> Image.Image:
    if data.portrait:
        try:
            with Image.open(io.BytesIO(data.portrait)) as img:
                return img.convert("RGB")
        except Exception as exc:
            raise CardFaceError("portrait is not a readable image",
                                code="card_face.portrait_invalid") from exc
    # Decision: no portrait (under-6s, 2023 law) → a neutral placeholder, never an empty hole.
    img = Image.new("RGB", (300, 400), (225, 228, 232))
    d = ImageDraw.Draw(img)
    d.ellipse([90, 70, 210, 210], fill=(190, 194, 200))
    d.ellipse([40, 230, 260, 470], fill=(190, 194, 200))
    return img


def _validate(data: CardFaceData) -> None:
    if len(data.mrz) != 3 or any(len(line) != 30 for line in data.mrz):
        raise CardFaceError("MRZ must be 3 lines of 30 characters (TD1)", code="card_face.mrz_invalid")
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
    if any(ch not in allowed for line in data.mrz for ch in line):
        raise CardFaceError("MRZ has characters outside A-Z 0-9 <", code="card_face.mrz_invalid")
    if len(data.personal_id) != 12 or not data.personal_id.isdigit():
        raise CardFaceError("personal ID must be 12 digits", code="card_face.field_invalid")
    if data.sex not in ("M", "F"):
        raise CardFaceError("sex must be M or F", code="card_face.field_invalid")


def _header(c: _Canvas, title_vi: str, title_en: str) -> None:
    c.text(ID1_WIDTH_MM / 2 + 8, 2.2, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", size=1.75, bold=True, anchor="ma")
    c.text(ID1_WIDTH_MM / 2 + 8, 4.6, "Độc lập - Tự do - Hạnh phúc", size=1.6, bold=True, anchor="ma")
    c.text(ID1_WIDTH_MM / 2 + 8, 7.6, title_vi, size=2.6, bold=True, fill=(170, 20, 20), anchor="ma")
    c.text(ID1_WIDTH_MM / 2 + 8, 10.7, title_en, size=1.6, fill=(170, 20, 20), anchor="ma")


def _emblem(c: _Canvas, x: float, y: float, r: float) -> None:
    cx, cy, rr = c.px(x), c.px(y), c.px(r)
    c.draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=(200, 30, 30), outline=(230, 190, 40), width=3)
    c.draw.regular_polygon((cx, cy, rr * 0.6), 5, rotation=0, fill=(240, 200, 40))


def render_front(data: CardFaceData, dpi: int = 600) -> Image.Image:
    """The card front at ``dpi`` (600 dpi → 2022 × 1275 px)."""
    _validate(data)
    c = _Canvas(dpi, (236, 244, 248))
    _emblem(c, 7.5, 7.0, 4.5)
    portrait = _portrait_image(data)
    if data.generation is QRGeneration.CCCD_2021:
        _header(c, "CĂN CƯỚC CÔNG DÂN", "Citizen Identity Card")
        c.qr(data.qr_payload(), 66.5, 12.6, 17.0)
        c.paste(portrait, 3.0, 17.0, 20.0, 26.7)
        x, w = 25.0, 40.0
        c.text(x, 13.5, "Số / No.:", size=1.7)
        c.text(x + 10.5, 13.0, data.personal_id, size=2.9, bold=True, fill=(170, 20, 20))
        c.label_value(x, 17.5, "Họ và tên / Full name:", data.full_name, w)
        c.label_value(x, 23.0, "Ngày sinh / Date of birth:", _fmt(data.date_of_birth), w)
        c.text(x + 24, 23.0, "Giới tính / Sex:", size=1.45, fill=(70, 70, 70))
        c.text(x + 24, 25.0, "Nam" if data.sex == "M" else "Nữ", size=2.1, bold=True)
        c.label_value(x, 28.5, "Quốc tịch / Nationality:", data.nationality, w)
        c.label_value(x, 34.0, "Quê quán / Place of origin:", data.place_of_origin, 58.0)
        c.label_value(x, 39.5, "Nơi thường trú / Place of residence:", data.place_of_residence, 58.0)
        c.text(3.0, 46.5, "Có giá trị đến:", size=1.4, fill=(70, 70, 70))
        c.text(3.0, 48.3, _fmt(data.date_of_expiry), size=1.8, bold=True)
    else:
        _header(c, "CĂN CƯỚC", "IDENTITY CARD")
        c.paste(portrait, 3.0, 15.0, 21.0, 28.0)
        x, w = 27.0, 55.0
        c.label_value(x, 14.0, "Số định danh cá nhân / Personal identification number:", "", w)
        c.text(x, 16.2, data.personal_id, size=3.0, bold=True, fill=(170, 20, 20))
        c.label_value(x, 21.5, "Họ, chữ đệm và tên khai sinh / Surname, middle name and given name:",
                      data.full_name.upper(), w)
        c.label_value(x, 27.5, "Ngày sinh / Date of birth:", _fmt(data.date_of_birth), w)
        c.text(x + 28, 27.5, "Giới tính / Sex:", size=1.45, fill=(70, 70, 70))
        c.text(x + 28, 29.5, "Nam" if data.sex == "M" else "Nữ", size=2.1, bold=True)
        c.label_value(x, 33.5, "Quốc tịch / Nationality:", data.nationality, w)
    return c.image


def render_back(data: CardFaceData, dpi: int = 600) -> Image.Image:
    """The card back at ``dpi``: fields, (2024) the QR, and the MRZ."""
    _validate(data)
    c = _Canvas(dpi, (240, 246, 250))
    # the contact chip (both generations carry one on the back)
    c.draw.rounded_rectangle([c.px(4), c.px(4), c.px(15), c.px(13)], radius=c.px(1.5),
                             fill=(212, 175, 55), outline=(150, 120, 30), width=2)
    if data.generation is QRGeneration.CCCD_2021:
        c.label_value(18.0, 3.0, "Đặc điểm nhân dạng / Personal identification:",
                      data.identifying_features or "Không", 64.0)
        c.label_value(18.0, 9.0, "Ngày, tháng, năm / Date, month, year:", _fmt(data.date_of_issue), 64.0)
        c.text(18.0, 15.0, "CỤC TRƯỞNG CỤC CẢNH SÁT", size=1.6, bold=True)
        c.text(18.0, 17.2, "QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI", size=1.6, bold=True)
        c.text(18.0, 23.0, "DIRECTOR GENERAL OF THE POLICE DEPARTMENT", size=1.2, fill=(70, 70, 70))
        c.text(18.0, 25.0, "FOR ADMINISTRATIVE MANAGEMENT OF SOCIAL ORDER", size=1.2, fill=(70, 70, 70))
    else:
        c.qr(data.qr_payload(), 66.0, 2.5, 17.5)
        c.label_value(18.0, 2.5, "Nơi cư trú / Place of residence:", data.place_of_residence, 46.0)
        c.label_value(18.0, 8.3, "Nơi đăng ký khai sinh / Place of birth:", data.place_of_birth, 46.0)
        c.label_value(4.0, 15.0, "Ngày, tháng, năm cấp / Date of issue:", _fmt(data.date_of_issue), 30.0)
        c.label_value(4.0, 20.5, "Ngày, tháng, năm hết hạn / Date of expiry:",
                      _fmt(data.date_of_expiry), 30.0)
        c.text(40.0, 15.2, "BỘ CÔNG AN", size=1.9, bold=True)
        c.text(40.0, 17.6, "MINISTRY OF PUBLIC SECURITY", size=1.3, fill=(70, 70, 70))
    c.mrz(data.mrz)
    return c.image


def render_card(data: CardFaceData, dpi: int = 600) -> CardFaceImages:
    return CardFaceImages(front=render_front(data, dpi), back=render_back(data, dpi), dpi=dpi)


def save_png(images: CardFaceImages, directory: Path | str, stem: str = "card") -> tuple[Path, Path]:
    """Write ``<stem>_front.png`` and ``<stem>_back.png`` (with their dpi) into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    front, back = out / f"{stem}_front.png", out / f"{stem}_back.png"
    images.front.save(front, dpi=(images.dpi, images.dpi))
    images.back.save(back, dpi=(images.dpi, images.dpi))
    return front, back


def save_pdf(images: CardFaceImages, path: Path | str) -> Path:
    """A two-page PDF (front, back), each page exactly ID-1 size at the images' resolution."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images.front.save(path, "PDF", resolution=float(images.dpi), save_all=True, append_images=[images.back])
    return path

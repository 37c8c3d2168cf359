"""`x-oss-process` image processing in the local OSS stand-in (NOT Alibaba Cloud OSS's IMG),
with Pillow.

A process is `image/<op>,<k>_<v>,…/<op>,…`, the operations applied in order. Modelled:

* `resize`: `w_`, `h_` (target width/height), `l_` / `s_` (target longest/shortest side),
  `p_` (percent, alone), `m_` mode: `lfit` (default: the largest size within the targets,
  keeping the ratio), `mfit` (the smallest size covering them), `fixed` (exactly w x h),
  `fill` (cover, then crop the centre to w x h), `pad` (fit, then pad to w x h with `color_`,
  default white); `limit_1` (default) returns the image unchanged rather than enlarge it. With
  one of `w_`/`h_` only, `fixed`, `fill` and `pad` make a square. Sizes are rounded to the
  nearest pixel (64x48 at `w_16` is 16x12).
* `format,png|jpg|jpeg|webp|bmp|gif`; `quality,q_N` / `Q_N` (the JPEG/WebP quality, 1-100:
  both are taken as absolute here); `info` (JSON: FileSize, Format, ImageHeight, ImageWidth,
  each `{"value": "…"}`, as OSS answers).

Limits, as OSS's: a source image over 30000 pixels a side or 250 million in all is 400
InvalidArgument (EC 0040-00000009), checked before it is decoded; a resize whose result (or the
scaled image a `fill` crops, or a `pad` canvas) would be over 16384 pixels a side or 4096 x 4096
pixels in all is 400 InvalidArgument (EC 0040-00000007), checked before any pixel is
allocated. A process of more than 10 operations is not available in the stand-in.

Anything else (other image operations, `style/`, `video/`, `doc/`, `imm/`, …) is 400
InvalidArgument saying it is not available in the local stand-in; an object Pillow cannot read
as an image is 400 BadRequest; a bad parameter is 400 InvalidArgument.
"""

import io
import json
from typing import Dict, List, Optional, Tuple

from PIL import Image, UnidentifiedImageError

from .refusals import Refused, not_available

FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "bmp": "BMP", "gif": "GIF"}
OSS_FORMAT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "BMP": "bmp", "GIF": "gif", "TIFF": "tiff"}
MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "BMP": "image/bmp",
        "GIF": "image/gif", "TIFF": "image/tiff"}
MAX_SIDE = 16384  # a resize target's side
MAX_PIXELS = 4096 * 4096  # a resize result's area
MAX_SOURCE_SIDE, MAX_SOURCE_PIXELS = 30000, 250_000_000
MAX_OPERATIONS = 10
NOT_AN_IMAGE = (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError)


def bad(message: str) -> Refused:
    return Refused(400, "InvalidArgument", message)


def parse(process: str) -> List[Tuple[str, Dict[str, str]]]:
    """`image/resize,w_16/format,png` -> [("resize", {"w": "16"}), ("format", {"png": ""})]."""
    kind, _, rest = process.partition("/")
    if kind != "image":
        raise not_available(f"x-oss-process {kind}/")
    steps = rest.split("/")
    if len(steps) > MAX_OPERATIONS:
        raise not_available(f"an x-oss-process of more than {MAX_OPERATIONS} operations")
    operations = []
    for text in steps:
        name, *params = text.split(",")
        if name not in ("resize", "format", "quality", "info"):
            raise not_available(f"x-oss-process image/{name}")
        operations.append((name, dict(p.partition("_")[::2] for p in params)))
    return operations


def number(params: Dict[str, str], name: str, low: int, high: int) -> Optional[int]:
    if name not in params:
        return None
    text = params[name]
    if not text.isdigit() or not low <= int(text) <= high:
        raise bad(f"resize/quality parameter {name}_{text} must be an integer from {low} to {high}")
    return int(text)


def image_info(data: bytes) -> Optional[Dict[str, str]]:
    """width, height and OSS's format name of an image, for callbacks; None if not an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return {"width": str(image.width), "height": str(image.height),
                    "format": OSS_FORMAT.get(image.format, (image.format or "").lower())}
    except NOT_AN_IMAGE:
        return None


def check_size(width: int, height: int) -> None:
    """A resize result within OSS's limits."""
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise Refused(400, "InvalidArgument", f"The resized image would be {width} x {height} pixels: over"
                      f" {MAX_SIDE} a side or 4096 x 4096 in all.", ec="0040-00000007")


def open_image(data: bytes) -> Image.Image:
    """The object as a decoded image, once its size is within OSS's limits for a source."""
    too_large = Refused(400, "InvalidArgument", "The source image is over 30000 pixels a side or 250 million"
                        " in all.", ec="0040-00000009")
    try:
        image = Image.open(io.BytesIO(data))
        if max(image.size) > MAX_SOURCE_SIDE or image.width * image.height > MAX_SOURCE_PIXELS:
            raise too_large
        image.load()
        return image
    except Image.DecompressionBombError:  # Pillow's own limit, past OSS's
        raise too_large from None
    except NOT_AN_IMAGE:
        raise Refused(400, "BadRequest", "The image format is not supported: the object is not an image"
                      " the stand-in can read.") from None


def process(data: bytes, text: str) -> Tuple[bytes, str]:
    """The processed bytes and their Content-Type."""
    operations = parse(text)
    image = open_image(data)
    target, quality = image.format or "PNG", None
    for name, params in operations:
        if name == "info":
            return info(image, len(data)), "application/json"
        if name == "resize":
            image = resize(image, params)
        elif name == "format":
            target = format_of(params)
        elif name == "quality":
            quality = number(params, "q", 1, 100) or number(params, "Q", 1, 100)
    return encode(image, target, quality), MIME.get(target, "application/octet-stream")


def format_of(params: Dict[str, str]) -> str:
    names = [name for name in params if name in FORMATS]
    if len(params) != 1 or not names:
        raise not_available(f"image/format,{','.join(params)}")
    return FORMATS[names[0]]


def info(image: Image.Image, size: int) -> bytes:
    fields = {"FileSize": str(size), "Format": OSS_FORMAT.get(image.format or "", "png"),
              "ImageHeight": str(image.height), "ImageWidth": str(image.width)}
    return json.dumps({k: {"value": v} for k, v in fields.items()}).encode()


def encode(image: Image.Image, target: str, quality: Optional[int]) -> bytes:
    if target in ("JPEG", "BMP") and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    options = {"quality": quality} if quality and target in ("JPEG", "WEBP") else {}
    image.save(out, format=target, **options)
    return out.getvalue()


def resize(image: Image.Image, params: Dict[str, str]) -> Image.Image:
    mode = params.get("m", "lfit")
    if mode not in ("lfit", "mfit", "fixed", "fill", "pad"):
        raise bad(f"resize mode m_{mode} is not one of lfit, mfit, fixed, fill, pad")
    w, h = number(params, "w", 1, MAX_SIDE), number(params, "h", 1, MAX_SIDE)
    longest, shortest = number(params, "l", 1, MAX_SIDE), number(params, "s", 1, MAX_SIDE)
    percent = number(params, "p", 1, 1000)
    enlarge = params.get("limit", "1") == "0"
    if percent is not None:
        if any(v is not None for v in (w, h, longest, shortest)):
            raise not_available("resize p_ together with w_, h_, l_ or s_")
        return scaled(image, percent / 100, enlarge)
    if mode in ("fixed", "fill", "pad"):
        if w is None and h is None:
            raise bad(f"resize m_{mode} needs w_ or h_")
        return boxed(image, mode, w or h, h or w, params.get("color", "FFFFFF"), enlarge)
    ratios = [r for r in (w and w / image.width, h and h / image.height,
                          longest and longest / max(image.size), shortest and shortest / min(image.size)) if r]
    if not ratios:
        raise bad("resize needs w_, h_, l_, s_ or p_")
    return scaled(image, min(ratios) if mode == "lfit" else max(ratios), enlarge)


def scaled(image: Image.Image, ratio: float, enlarge: bool) -> Image.Image:
    if ratio > 1 and not enlarge:
        return image
    size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
    check_size(*size)
    return image.resize(size, Image.LANCZOS)


def boxed(image: Image.Image, mode: str, w: int, h: int, color: str, enlarge: bool) -> Image.Image:
    if (w > image.width or h > image.height) and not enlarge:
        return image
    check_size(w, h)
    if mode == "fixed":
        return image.resize((w, h), Image.LANCZOS)
    cover = mode == "fill"
    ratio = (max if cover else min)(w / image.width, h / image.height)
    inner = scaled(image, ratio, True)
    if cover:
        left, top = (inner.width - w) // 2, (inner.height - h) // 2
        return inner.crop((left, top, left + w, top + h))
    try:
        background = tuple(bytes.fromhex(color))
    except ValueError:
        raise bad(f"resize color_{color} is not RRGGBB") from None
    if len(background) != 3:
        raise bad(f"resize color_{color} is not RRGGBB")
    canvas = Image.new("RGB", (w, h), background)
    canvas.paste(inner.convert("RGB"), ((w - inner.width) // 2, (h - inner.height) // 2))
    return canvas

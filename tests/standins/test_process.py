"""x-oss-process on GET: a PNG built with Pillow, processed through oss2 (`process=` and
`sign_url` params) and decoded with Pillow; what the stand-in cannot do says so."""

import io
import json

import requests
from PIL import Image

from support import StandInTestCase

KEY = "uploads/alice/photo.png"


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


class ProcessTest(StandInTestCase):
    def setUp(self):
        super().setUp()
        self.client = self.bucket()
        self.client.put_object(KEY, png(), headers={"Content-Type": "image/png"})

    def processed(self, process: str) -> Image.Image:
        return Image.open(io.BytesIO(self.client.get_object(KEY, process=process).read()))

    def test_resize_by_width_keeps_the_ratio(self):
        image = self.processed("image/resize,w_16")
        self.assertEqual((image.size, image.format), ((16, 12), "PNG"))

    def test_resize_modes(self):
        for process, size in [
            ("image/resize,h_24", (32, 24)),
            ("image/resize,m_lfit,w_32,h_32", (32, 24)),
            ("image/resize,m_mfit,w_32,h_32", (43, 32)),
            ("image/resize,m_fixed,w_10,h_30", (10, 30)),
            ("image/resize,m_fill,w_20,h_20", (20, 20)),
            ("image/resize,m_pad,w_20,h_10", (20, 10)),
            ("image/resize,l_32", (32, 24)),
            ("image/resize,s_24", (32, 24)),
            ("image/resize,p_50", (32, 24)),
            ("image/resize,w_128", (64, 48)),
            ("image/resize,w_128,limit_0", (128, 96)),
        ]:
            with self.subTest(process):
                self.assertEqual(self.processed(process).size, size)

    def test_a_chain_through_a_signed_url(self):
        url = self.client.sign_url("GET", KEY, 60, params={"x-oss-process": "image/resize,w_16/format,jpg/quality,q_80"})
        answer = requests.get(url, timeout=10)
        self.assertEqual((answer.status_code, answer.headers["Content-Type"]), (200, "image/jpeg"))
        image = Image.open(io.BytesIO(answer.content))
        self.assertEqual((image.size, image.format), ((16, 12), "JPEG"))
        self.assertEqual(self.processed("image/format,webp").format, "WEBP")

    def test_info(self):
        info = json.loads(self.client.get_object(KEY, process="image/info").read())
        self.assertEqual({k: v["value"] for k, v in info.items()},
                         {"FileSize": str(len(png())), "Format": "png", "ImageHeight": "48", "ImageWidth": "64"})

    def test_what_the_stand_in_cannot_process_says_so(self):
        for process in ("imm/detectface", "video/snapshot,t_1000", "doc/preview", "style/thumb",
                        "image/crop,w_10,h_10", "image/resize,m_lfit,w_10/watermark,text_aGk"):
            with self.subTest(process):
                self.assertRefused(lambda: self.client.get_object(KEY, process=process), 400, "InvalidArgument",
                                   "not available in the local stand-in")

    def test_bad_parameters_and_non_images(self):
        self.assertRefused(lambda: self.client.get_object(KEY, process="image/resize,w_0"), 400, "InvalidArgument")
        self.assertRefused(lambda: self.client.get_object(KEY, process="image/resize,m_zoom,w_10"), 400, "InvalidArgument")
        self.client.put_object("notes.txt", b"not an image")
        self.assertRefused(lambda: self.client.get_object("notes.txt", process="image/resize,w_16"), 400, "BadRequest")

    def test_results_over_oss_limits_are_refused_before_they_are_made(self):
        """OSS's limits: a resize result of at most 16384 pixels a side and 4096 x 4096 in all
        (EC 0040-00000007); at most 10 operations in the stand-in."""
        for process in ("image/resize,m_fixed,w_6000,h_6000,limit_0",
                        "image/resize,p_1000,limit_0/resize,p_1000,limit_0",
                        "image/resize,m_pad,w_16384,h_16384,limit_0",
                        "image/resize,m_fill,w_16384,h_1,limit_0",
                        "image/resize,w_16384,limit_0"):
            with self.subTest(process):
                error = self.assertRefused(lambda: self.client.get_object(KEY, process=process), 400, "InvalidArgument",
                                           "4096 x 4096")
                self.assertEqual(error.ec, "0040-00000007")
        self.assertEqual(self.processed("image/resize,m_fixed,w_4096,h_4096,limit_0").size, (4096, 4096))
        chain = "image/" + "/".join(["resize,w_32"] * 11)
        self.assertRefused(lambda: self.client.get_object(KEY, process=chain), 400, "InvalidArgument",
                           "more than 10 operations")
        self.assertEqual(self.processed("image/" + "/".join(["resize,w_32"] * 10)).size, (32, 24))

    def test_a_source_over_oss_limits_is_refused_before_it_is_decoded(self):
        out = io.BytesIO()
        Image.new("1", (30001, 1)).save(out, format="PNG")
        self.client.put_object("wide.png", out.getvalue())
        error = self.assertRefused(lambda: self.client.get_object("wide.png", process="image/resize,w_16"),
                                   400, "InvalidArgument", "30000")
        self.assertEqual(error.ec, "0040-00000009")

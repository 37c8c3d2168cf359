"""CORS as a browser meets it: preflights (OPTIONS) matched against README's rule, the headers
on actual responses (errors included), and a bucket with no CORS at all."""

import requests

from support import BUCKET, StandInTestCase

APP = "https://app.example.com"
RULE = {"origins": [APP, "https://*.example.org"], "methods": ["GET", "HEAD", "PUT", "POST"],
        "headers": ["content-type", "x-oss-*"], "expose": ["ETag", "x-oss-request-id"], "max_age": 600}


def preflight(endpoint: str, origin: str, method: str, headers: str = "") -> requests.Response:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    return requests.options(f"{endpoint}/{BUCKET}/uploads/a.txt", headers=asked, timeout=10)


class CorsTest(StandInTestCase):
    cors = [RULE]

    def test_an_allowed_preflight(self):
        answer = preflight(self.endpoint, APP, "PUT", "Content-Type, x-oss-meta-album")
        self.assertEqual(answer.status_code, 200, answer.text)
        self.assertEqual(answer.headers["Access-Control-Allow-Origin"], APP)
        self.assertIn("PUT", answer.headers["Access-Control-Allow-Methods"])
        self.assertEqual(answer.headers["Access-Control-Allow-Headers"], "content-type, x-oss-meta-album")
        self.assertEqual(answer.headers["Access-Control-Expose-Headers"], "ETag, x-oss-request-id")
        self.assertEqual(answer.headers["Access-Control-Max-Age"], "600")
        self.assertEqual(preflight(self.endpoint, "https://cdn.example.org", "GET").status_code, 200)

    def test_refused_preflights(self):
        for origin, method, headers in [
            ("https://evil.example.net", "PUT", ""),
            (APP, "DELETE", ""),
            (APP, "PUT", "authorization"),
            ("", "PUT", ""),
        ]:
            with self.subTest(origin=origin, method=method, headers=headers):
                answer = preflight(self.endpoint, origin, method, headers)
                self.assertXmlError(answer, 403, "AccessForbidden", "CORSResponse")
                self.assertNotIn("Access-Control-Allow-Origin", answer.headers)

    def test_actual_responses_carry_the_headers(self):
        self.bucket().put_object("uploads/a.txt", b"a")
        url = self.bucket().sign_url("GET", "uploads/a.txt", 60)
        answer = requests.get(url, headers={"Origin": APP}, timeout=10)
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(answer.headers["Access-Control-Allow-Origin"], APP)
        self.assertEqual(answer.headers["Access-Control-Expose-Headers"], "ETag, x-oss-request-id")
        self.assertTrue(answer.headers["x-oss-request-id"])
        refused = requests.get(f"{self.endpoint}/{BUCKET}/uploads/a.txt", headers={"Origin": APP}, timeout=10)
        self.assertEqual((refused.status_code, refused.headers["Access-Control-Allow-Origin"]), (403, APP))
        other = requests.get(url, headers={"Origin": "https://evil.example.net"}, timeout=10)
        self.assertNotIn("Access-Control-Allow-Origin", other.headers)


class NoCorsTest(StandInTestCase):
    def test_every_preflight_is_refused(self):
        self.assertXmlError(preflight(self.endpoint, APP, "PUT"), 403, "AccessForbidden", "CORS is not enabled")

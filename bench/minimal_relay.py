"""The floor: a minimal Tornado + curl relay (no auth, no billing, no logs).

Started by bench/run.py next to OneRelay so its figures show what Tornado's
curl client can do on this machine; OneRelay's overhead is the difference.
Usage: python bench/minimal_relay.py PORT UPSTREAM_BASE_URL
"""

import asyncio
import sys

import tornado.httpserver
import tornado.web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

AsyncHTTPClient.configure("tornado.curl_httpclient.CurlAsyncHTTPClient", max_clients=512)
UPSTREAM = sys.argv[2].rstrip("/")


class Relay(tornado.web.RequestHandler):
    async def post(self, prefix: str | None) -> None:
        url = UPSTREAM + (prefix or "") + "/v1/chat/completions"  # (/stream)? is None when absent
        headers = {"Content-Type": "application/json", "Authorization": "Bearer x"}
        if b'"stream":true' in self.request.body.replace(b" ", b""):
            self.set_header("Content-Type", "text/event-stream")

            def on_chunk(chunk: bytes) -> None:
                self.write(chunk)
                self.flush()

            await AsyncHTTPClient().fetch(HTTPRequest(url, method="POST", body=self.request.body, headers=headers,
                                                      streaming_callback=on_chunk), raise_error=False)
            self.finish()
            return
        resp = await AsyncHTTPClient().fetch(HTTPRequest(url, method="POST", body=self.request.body,
                                                         headers=headers), raise_error=False)
        self.set_header("Content-Type", "application/json")
        self.finish(resp.body)


async def main() -> None:
    app = tornado.web.Application([(r"(/stream)?/v1/chat/completions", Relay)])
    tornado.httpserver.HTTPServer(app).listen(int(sys.argv[1]), "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())

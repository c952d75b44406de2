"""The baseline: a bare aiohttp handler that reads the same multipart body and answers 200."""

import sys

from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        while await part.read_chunk(64 * 1024):
            pass
    return web.json_response({"ok": True})


if __name__ == "__main__":
    app = web.Application()
    app.router.add_post("/webhook/{secret}", handle)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)

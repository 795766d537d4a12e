#!/usr/bin/env python3
"""docs/tensorboard.png: real TensorBoard on a real run, in headless Chromium.

    python gan_2014.py --data mnist.npz --epochs 6000 --eval-every 1000 --seed 0 --sample-interval 500 \\
        --run-dir runs/keras-gan-seed0 --images runs/keras-gan-seed0/images
    tensorboard --logdir runs --port 6131 &
    python docs/tensorboard_screenshot.py http://127.0.0.1:6131/ docs/tensorboard.png

Needs Chromium (`apt-get install chromium`) and websocket-client (`pip install
websocket-client`: only for this picture, not a dependency of the project): it
drives Chromium over its DevTools protocol, because TensorBoard draws its
charts some seconds after the page loads, later than `chromium --screenshot`
waits.
"""
import base64
import json
import subprocess
import sys
import time
import urllib.request

import websocket

TAGS = "?tagFilter=loss%2Fd%24%7Closs%2Fg%7Csamples%7Cparzen#timeseries"  # loss/d$|loss/g|samples|parzen
CLOSE_SETTINGS = ("document.querySelectorAll('button').forEach(b => { const l = b.getAttribute('aria-label'); "
                  "if (l && l.includes('lose')) b.click(); })")


def main(url, out, wait=30.0):
    chrome = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--enable-unsafe-swiftshader",
                               "--use-angle=swiftshader", "--disable-background-networking",
                               "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1400,1180",
                               "--remote-debugging-port=9333", "about:blank"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                tabs = json.load(urllib.request.urlopen("http://127.0.0.1:9333/json"))
                break
            except OSError:
                time.sleep(0.2)
        page = next(t for t in tabs if t["type"] == "page")
        ws = websocket.create_connection(page["webSocketDebuggerUrl"], suppress_origin=True)
        calls = iter(range(1, 10 ** 6))

        def call(method, **params):
            n = next(calls)
            ws.send(json.dumps({"id": n, "method": method, "params": params}))
            while True:
                message = json.loads(ws.recv())
                if message.get("id") == n:
                    return message.get("result")

        call("Page.enable")
        call("Page.navigate", url=url.rstrip("/") + "/" + TAGS)
        time.sleep(wait)  # the charts load and draw
        call("Runtime.evaluate", expression=CLOSE_SETTINGS)  # the settings pane, open by default
        time.sleep(3)
        with open(out, "wb") as f:
            f.write(base64.b64decode(call("Page.captureScreenshot", format="png")["data"]))
    finally:
        chrome.terminate()


if __name__ == "__main__":
    main(*sys.argv[1:3])

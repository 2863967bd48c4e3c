"""A report page as a reader's browser shows it: real headless Chromium driven over the DevTools protocol
(``--remote-debugging-pipe``, no extra package), with every network request intercepted and failed."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmaudit.report.pdf import chromium_binary

LAYOUT_PROBE = """(() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > width + 0.5)
    .filter(e => !e.closest('.scroll') && !e.closest('details:not([open])'))
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string'
      ? '.' + e.className.split(' ').join('.') : ''));
  const charts = [...document.querySelectorAll('figure.chart svg')].map(s => {
    const box = s.getBoundingClientRect();
    return {title: s.getAttribute('aria-label'), width: box.width, height: box.height,
            marks: s.querySelectorAll('rect.bar, polyline, circle').length};
  });
  return JSON.stringify({
    scroll_width: document.documentElement.scrollWidth, width, wide: wide.slice(0, 20),
    sections: [...document.querySelectorAll('h2[id]')].map(h => h.id), charts,
  });
})()"""


@dataclass
class PageCheck:
    """What the browser saw: layout per viewport width, console errors, requests it had to block, PDF pages."""

    layouts: dict[int, dict[str, Any]] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    pdf_pages: int = 0


class DevTools:
    """A minimal DevTools-protocol client over Chromium's pipe (fd 3 in, fd 4 out, NUL-separated JSON)."""

    def __init__(self, binary: str, profile: str) -> None:
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()

        def wire() -> None:  # in the child: the pipe ends onto fds 3 and 4, kept open across exec
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_child, from_child)]
            for target, fd in zip((3, 4), high, strict=True):
                os.dup2(fd, target)
                os.set_inheritable(target, True)

        self.process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "about:blank",
            ],
            preexec_fn=wire,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def post(self, method: str, session: str | None = None, **params: Any) -> int:
        """Send one command without waiting for its reply (a navigation answers only once its request,
        which the Fetch domain holds, is let through); return its id."""
        self._next_id += 1
        message = {
            "id": self._next_id,
            "method": method,
            "params": params,
            **({"sessionId": session} if session else {}),
        }
        os.write(self._write, json.dumps(message).encode() + b"\0")
        return self._next_id

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its reply; events arriving meanwhile are kept in ``events``."""
        self.post(method, session, **params)
        while True:
            reply = self.receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def receive(self, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer")
            if not select.select([self._read], [], [], max(deadline - time.monotonic(), 0))[0]:
                continue
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    def close(self) -> None:
        """Ask the browser to quit (so its helper processes stop writing to the profile), then make sure."""
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.post("Browser.close")
            self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)


def check_page(page: Path, widths: tuple[int, ...] = (1280, 800)) -> PageCheck:
    """Load ``page`` at each viewport width, collect what a reader would hit, then print it to PDF (A4)."""
    binary = chromium_binary()
    assert binary is not None
    result = PageCheck()
    url = page.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="fmaudit-browser-", ignore_cleanup_errors=True) as profile:
        tools = DevTools(binary, profile)
        try:
            target = next(t for t in tools.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
            session = tools.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                tools.send(f"{domain}.enable", session)
            tools.send("Fetch.enable", session, patterns=[{"urlPattern": "*"}])
            for width in widths:
                tools.send(
                    "Emulation.setDeviceMetricsOverride",
                    session,
                    width=width,
                    height=900,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                tools.post("Page.navigate", session, url=url)
                _until_loaded(tools, session, url, result)
                probe = tools.send("Runtime.evaluate", session, expression=LAYOUT_PROBE, returnByValue=True)
                result.layouts[width] = json.loads(probe["result"]["value"])
            _drain(tools, session, url, result)
            pdf = tools.send("Page.printToPDF", session, paperWidth=8.27, paperHeight=11.69, printBackground=True)
            result.pdf_pages = len(re.findall(rb"/Type\s*/Page[^s]", base64.b64decode(pdf["data"])))
        finally:
            tools.close()
    return result


def _until_loaded(tools: DevTools, session: str, url: str, result: PageCheck) -> None:
    while True:
        _drain(tools, session, url, result)
        if any(e.get("method") == "Page.loadEventFired" for e in tools.events):
            tools.events = [e for e in tools.events if e.get("method") != "Page.loadEventFired"]
            return
        message = tools.receive()
        if "method" in message:  # replies to posted commands carry no method
            tools.events.append(message)


def _drain(tools: DevTools, session: str, url: str, result: PageCheck) -> None:
    """Handle the events received so far: let the page itself load, fail and record every other request."""
    pending, tools.events = tools.events, []
    for event in pending:
        method, params = event.get("method"), event.get("params", {})
        if method == "Fetch.requestPaused":
            request_url = params["request"]["url"]
            if request_url == url:
                tools.send("Fetch.continueRequest", session, requestId=params["requestId"])
            else:
                if request_url not in result.blocked:  # Network.requestWillBeSent may have recorded it first
                    result.blocked.append(request_url)
                tools.send("Fetch.failRequest", session, requestId=params["requestId"], errorReason="BlockedByClient")
        elif method == "Network.requestWillBeSent" and params["request"]["url"] not in (url, *result.blocked):
            result.blocked.append(params["request"]["url"])
        elif method == "Runtime.exceptionThrown":
            result.console_errors.append(str(params["exceptionDetails"].get("text")))
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning", "assert"):
            result.console_errors.append(" ".join(str(a.get("value")) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            result.console_errors.append(params["entry"]["text"])
        elif method == "Page.loadEventFired":
            tools.events.append(event)


def assert_reads_well(page: Path, sections: list[str], pages: range) -> None:
    """The checks every report must pass in the browser; shared with the end-to-end run's full report."""
    seen = check_page(page)
    assert seen.console_errors == [] and seen.blocked == []
    for width, layout in seen.layouts.items():
        assert layout["sections"] == sections, width
        assert layout["wide"] == [] and layout["scroll_width"] <= layout["width"], width
        assert layout["charts"], "no chart drawn"
        for chart in layout["charts"]:
            assert chart["width"] > 100 and chart["height"] > 20 and chart["marks"] > 0, (width, chart)
    assert seen.pdf_pages in pages

"""Fill in the respondent pages as a person would, through their HTML forms."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser

import httpx2 as httpx
from fastapi.testclient import TestClient


@dataclass
class Form:
    action: str = ""
    hidden: dict[str, list[str]] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)
    """Radio and checkbox groups: name -> option values, in page order."""
    checked: dict[str, list[str]] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action", "")))
        elif not self.forms:
            return
        elif tag == "input" and a.get("type") == "hidden":
            self.forms[-1].hidden.setdefault(a["name"], []).append(a.get("value", ""))
        elif tag == "input" and a.get("type") in {"radio", "checkbox"}:
            self.forms[-1].choices.setdefault(a["name"], []).append(a["value"])
            if "checked" in a:
                self.forms[-1].checked.setdefault(a["name"], []).append(a["value"])
        elif tag == "textarea":
            self.forms[-1].texts.append(a["name"])


def forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def summary_errors(html: str) -> list[str]:
    """The error summary's messages."""
    block = re.search(r'<ul class="error-summary__list">(.*?)</ul>', html, re.S)
    assert block, "no error summary"
    return [
        unescape(re.sub(r"\s+", " ", message).strip())
        for message in re.findall(r"<a [^>]*>(.*?)</a>", block.group(1), re.S)
    ]


def start(client: TestClient, base: str, code: str | None = None) -> httpx.Response:
    """Press "Start now" on the start page, with the access code when one is given."""
    page = client.get(base)
    (form,) = [f for f in forms(page.text) if f.action.endswith("/start")]
    data = {"csrf": form.hidden["csrf"][0]} | ({} if code is None else {"code": code})
    return client.post(form.action, data=data, follow_redirects=False)


def resume(client: TestClient, base: str, key: str) -> httpx.Response:
    """Send a resume key through the "Continue your answers" page."""
    page = client.get(f"{base}/resume")
    (form,) = [f for f in forms(page.text) if f.action.endswith("/resume")]
    data = {"csrf": form.hidden["csrf"][0], "key": key}
    return client.post(form.action, data=data, follow_redirects=False)


def answer_page(
    client: TestClient, url: str, chosen: dict[str, str], action: str = "continue"
) -> tuple[int, str]:
    """Send the page at `url` with `chosen` answers (else the first option); (status, location)."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    (form,) = [f for f in forms(page.text) if "csrf" in f.hidden]
    data: dict[str, str | list[str]] = {k: v for k, v in form.hidden.items()}
    for name, options in form.choices.items():
        data[name] = chosen.get(name, options[0])
    data["action"] = action
    reply = client.post(form.action, data=data, follow_redirects=False)
    return reply.status_code, reply.headers.get("location", "")


def complete_journey(
    client: TestClient,
    base: str,
    team: str,
    role: str,
    chosen: dict[str, str],
    started: bool = False,
) -> list[str]:
    """From the start page (or just after it) to the check page; returns the pages visited."""
    if not started:
        assert start(client, base).status_code == 303
    visited = [f"{base}/you"]
    status, location = answer_page(client, f"{base}/you", {"team": team, "role": role})
    assert status == 303, location
    while not location.endswith("/check"):
        visited.append(location)
        status, next_location = answer_page(client, location, chosen)
        if status == 200:  # a follow-up question appeared on the same page
            continue
        assert status == 303, (location, status)
        location = next_location
    visited.append(location)
    return visited

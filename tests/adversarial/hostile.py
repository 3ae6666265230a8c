"""The adversarial suite's kit: hostile payloads, hostile documents, misbehaving routes for
the test farm (tests/httpfarm.py), a planet runner, and inspectors that read outputs the way
a browser or a feed reader would (an HTML5 parser, an XML parser), never by substring.

Every URL a payload mentions points at 127.0.0.1 port 9 (the discard port, closed), so nothing
a test renders or loads can send traffic off this machine.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import html
import json
import os
import re
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import html5lib
from lxml import etree

from httpfarm import Farm, Request, Route
from planetkit import rss_feed

# --- payloads ------------------------------------------------------------------------------

# What a payload does if it ever runs: visible in the DOM Chromium dumps.
JS = "document.title=`PWNED`;document.documentElement.setAttribute(`data-pwned`,`1`)"
DEAD = "http://127.0.0.1:9"  # closed port: safe to mention anywhere

XSS_VECTORS: dict[str, str] = {
    "script": f"<script>{JS}</script>",
    "script-src": f"<SCRIPT SRC={DEAD}/xss.js></SCRIPT>",
    "script-slash-attr": f'<SCRIPT/XSS SRC="{DEAD}/xss.js"></SCRIPT>',
    "script-extra-brackets": f"<<SCRIPT>{JS}//<</SCRIPT>",
    "script-unclosed": f"<script>{JS}",
    "script-end-then-script": f"</script><script>{JS}</script>",
    "attr-break-double": f'"><script>{JS}</script>',
    "attr-break-single": f"'><script>{JS}</script>",
    "textarea-break": f"</textarea><script>{JS}</script>",
    "title-break": f"</title><script>{JS}</script>",
    "img-js-quoted": f'<IMG SRC="javascript:{JS}">',
    "img-js-unquoted": f"<IMG SRC=javascript:{JS}>",
    "img-js-case": f"<IMG SRC=JaVaScRiPt:{JS}>",
    "img-js-backtick": f"<IMG SRC=`javascript:{JS}`>",
    "img-onerror": f"<img src=x onerror={JS}>",
    "img-onerror-quoted": f'<img src="{DEAD}/x.png" onerror="{JS}">',
    "img-onmouseover": f'<IMG SRC=# onmouseover="{JS}">',
    "img-quote-confusion": f'<IMG """><SCRIPT>{JS}</SCRIPT>">',
    "img-eval-src": "<img src=x:alert(1) onerror=eval(src)>",
    "img-srcset-js": f'<img srcset="javascript:{JS} 1x, {DEAD}/a.png 2x">',
    "img-lowsrc": f'<img lowsrc="javascript:{JS}" dynsrc="javascript:{JS}">',
    "img-data-svg": (
        '<img src="data:image/svg+xml;base64,'
        'PHN2ZyBvbmxvYWQ9YWxlcnQoMSkgeG1sbnM9Imh0dHA6Ly93d3cudzMub3JnLzIwMDAvc3ZnIi8+">'
    ),
    "a-js": f'<a href="javascript:{JS}">click</a>',
    "a-js-leading-space": f'<a href=" javascript:{JS}">click</a>',
    "a-js-decimal-entities": (
        f'<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;{JS}">click</a>'
    ),
    "a-js-padded-entities": (
        '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114'
        f'&#0000105&#0000112&#0000116&#0000058{JS}">click</a>'
    ),
    "a-js-hex-entities": (
        f'<a href="&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A{JS}">click</a>'
    ),
    "a-js-tab": f'<a href="jav\tascript:{JS}">click</a>',
    "a-js-encoded-tab": f'<a href="jav&#x09;ascript:{JS}">click</a>',
    "a-js-encoded-newline": f'<a href="jav&#x0A;ascript:{JS}">click</a>',
    "a-js-encoded-cr": f'<a href="jav&#x0D;ascript:{JS}">click</a>',
    "a-js-newline-entity": f'<a href="java&NewLine;script:{JS}">click</a>',
    "a-js-colon-entity": f'<a href="javascript&colon;{JS}">click</a>',
    "a-js-meta-chars": f'<a href=" &#14;  javascript:{JS}">click</a>',
    "a-js-control-char": f'<a href="\x01javascript:{JS}">click</a>',
    "a-js-comment-newline": f'<a href="javascript://%0a{JS}">click</a>',
    "a-js-mixed-case-entity": f'<a href="jAvAsCrIpT&colon;{JS}">click</a>',
    "a-vbscript": '<a href="vbscript:msgbox(1)">click</a>',
    "a-livescript": '<a href="livescript:[code]">click</a>',
    "a-data-html": (
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>'
    ),
    "a-attr-quote-break": f'<a title=\'x"onmouseover="{JS}\' href="{DEAD}/">x</a>',
    "p-encoded-quote-break": f'<p title="&quot; onmouseover=&quot;{JS}">x</p>',
    "a-ping": f'<a href="{DEAD}/" ping="{DEAD}/ping">x</a>',
    "a-target-blank": f'<a href="{DEAD}/" target="_blank">tabnab</a>',
    "svg-onload": f"<svg onload={JS}>",
    "svg-slash-onload": f"<svg/onload={JS}>",
    "svg-script": f"<svg><script>{JS}</script></svg>",
    "svg-xlink": f'<svg><a xlink:href="javascript:{JS}"><text x="0" y="20">x</text></a></svg>',
    "svg-animate": f"<svg><animate onbegin={JS} attributeName=x dur=1s>",
    "svg-set-href": (
        f'<svg><a><set attributeName="href" to="javascript:{JS}"/><text y="9">x</text></a></svg>'
    ),
    "svg-foreignobject": (
        f'<svg><foreignObject><iframe srcdoc="&lt;script&gt;{JS}&lt;/script&gt;"></iframe>'
        "</foreignObject></svg>"
    ),
    "math-href": f'<math href="javascript:{JS}">CLICK</math>',
    "math-maction": (
        '<math><maction actiontype="statusline" '
        f'xlink:href="javascript:{JS}">CLICK</maction></math>'
    ),
    "mxss-math-mglyph": f"<math><mtext><table><mglyph><style><img src=x onerror={JS}>",
    "mxss-math-style": (
        f'<math><mtext><h1><a><h6></a></h6><mglyph><svg><mtext><style><a title="</style>'
        f'<img src onerror={JS}>"></style></h1>'
    ),
    "mxss-noscript": f'<noscript><p title="</noscript><img src=x onerror={JS}>">',
    "mxss-xmp": f'<xmp><p title="</xmp><img src=x onerror={JS}>">',
    "mxss-textarea": f'<textarea><p title="</textarea><img src=x onerror={JS}>">',
    "mxss-iframe-text": f'<iframe><p title="</iframe><img src=x onerror={JS}>">',
    "mxss-noembed": f'<noembed><p title="</noembed><img src=x onerror={JS}>">',
    "mxss-comment": f'<!--<img src="--><img src=x onerror={JS}//">',
    "mxss-cdata": f"<![CDATA[><img src=x onerror={JS}>]]>",
    "mxss-backtick": f'<img src="x` `<script>{JS}</script>"` `>',
    "mxss-form-nesting": (
        f'<form id=a><div></form><form><button formaction="javascript:{JS}">x</button></div>'
    ),
    "conditional-comment": f"<!--[if gte IE 4]><SCRIPT>{JS}</SCRIPT><![endif]-->",
    "template": f"<template><script>{JS}</script></template>",
    "body-onload": f"<BODY ONLOAD={JS}>",
    "body-background": f'<body background="javascript:{JS}">',
    "frameset": f"<frameset onload={JS}>",
    "details-ontoggle": f"<details open ontoggle={JS}>",
    "marquee": f"<marquee onstart={JS}>x</marquee>",
    "input-autofocus": f"<input onfocus={JS} autofocus>",
    "keygen": f"<keygen autofocus onfocus={JS}>",
    "isindex": f"<isindex action=javascript:{JS} type=submit>",
    "video-source-onerror": f"<video><source onerror={JS}></video>",
    "video-poster-js": f"<video poster=javascript:{JS}></video>",
    "audio-onerror": f"<audio src=x onerror={JS}></audio>",
    "picture-source-srcset": f'<picture><source srcset="javascript:{JS}"><img alt=x></picture>',
    "iframe-js": f'<iframe src="javascript:{JS}"></iframe>',
    "iframe-srcdoc": f'<iframe srcdoc="&lt;script&gt;{JS}&lt;/script&gt;"></iframe>',
    "iframe-allowed-host-srcdoc": (
        '<iframe src="https://www.youtube.com/embed/x" '
        f'srcdoc="&lt;script&gt;{JS}&lt;/script&gt;"></iframe>'
    ),
    "iframe-allowed-host-onload": (
        f'<iframe src="https://www.youtube.com/embed/x" onload="{JS}"></iframe>'
    ),
    "iframe-other-host": f'<iframe src="{DEAD}/evil"></iframe>',
    "iframe-http-allowed-host": '<iframe src="http://www.youtube.com/embed/x"></iframe>',
    "iframe-data": '<iframe src="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "frame": f'<frame src="javascript:{JS}">',
    "object-js": f'<object data="javascript:{JS}"></object>',
    "object-data-html": f'<object data="data:text/html,&lt;script&gt;{JS}&lt;/script&gt;">',
    "object-param": f'<object classid="clsid:x"><param name=url value="javascript:{JS}"></object>',
    "embed-data": (
        '<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==" type="text/html">'
    ),
    "applet": f'<applet code="x" codebase="{DEAD}/"></applet>',
    "form-action": f'<form action="javascript:{JS}"><button>go</button></form>',
    "button-formaction": f'<button formaction="javascript:{JS}">go</button>',
    "input-formaction": f"<form><input type=submit formaction=javascript:{JS}></form>",
    "base": '<base href="javascript:/">a<a href="x">x</a>',
    "base-dead": f'<base href="{DEAD}/">',
    "meta-refresh": f'<meta http-equiv="refresh" content="0;url=javascript:{JS}">',
    "meta-refresh-data": (
        '<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html;base64,'
        'PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">'
    ),
    "meta-set-cookie": '<meta http-equiv="Set-Cookie" content="pwned=1">',
    "link-stylesheet-js": f'<link rel="stylesheet" href="javascript:{JS}">',
    "link-import": f'<link rel="import" href="{DEAD}/x.html">',
    "style-import": f"<style>@import '{DEAD}/x.css';</style>",
    "style-import-escaped": f"<style>@im\\port'\\ja\\vasc\\ript:{JS}';</style>",
    "style-list-image": f'<STYLE>li {{list-style-image: url("javascript:{JS}");}}</STYLE><li>x',
    "style-attr-url-js": f'<div style="background-image: url(javascript:{JS})">x</div>',
    "style-attr-expression": f'<div style="width: expression({JS})">x</div>',
    "style-attr-expression-escaped": f'<div style="x:\\65 xpression({JS})">x</div>',
    "style-attr-behavior": f'<DIV STYLE="behavior: url({DEAD}/xss.htc);">x</DIV>',
    "style-attr-overlay": (
        '<div style="position:fixed;top:0;left:0;width:100%;height:100%;z-index:9999">overlay</div>'
    ),
    "style-attr-comment-obfuscation": (
        f'<div style="back/**/ground:url(java/**/script:{JS})">x</div>'
    ),
    "table-background": f'<TABLE BACKGROUND="javascript:{JS}"><tr><td>x</td></tr></TABLE>',
    "td-background": f'<table><tr><td BACKGROUND="javascript:{JS}">x</td></tr></table>',
    "blockquote-cite": f'<blockquote cite="javascript:{JS}">q</blockquote>',
    "xml-namespace-script": (
        f'<html xmlns:x="http://www.w3.org/1999/xhtml"><x:script>{JS}</x:script></html>'
    ),
    "portal": f'<portal src="{DEAD}/"></portal>',
    "null-byte-script": f"<scr\x00ipt>{JS}</scr\x00ipt>",
    "utf7-charset": "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
}

# Values for fields that hold a URL (links, enclosures, feed links, images, avatars).
URL_VECTORS: dict[str, str] = {
    "js": f"javascript:{JS}",
    "js-case": f"JaVaScRiPt:{JS}",
    "js-leading-space": f"  javascript:{JS}",
    "js-tab": f"java\tscript:{JS}",
    "js-newline": f"java\nscript:{JS}",
    "js-control": f"\x01javascript:{JS}",
    "js-percent-colon": f"javascript%3A{JS}",
    "vbscript": "vbscript:msgbox(1)",
    "data-html": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data-svg": "data:image/svg+xml,<svg onload=alert(1)>",
    "file": "file:///etc/passwd",
    "attr-break-double": f'{DEAD}/"><script>{JS}</script>',
    "attr-break-single": f"{DEAD}/'><script>{JS}</script>",
    "attr-break-onmouseover": f'{DEAD}/" onmouseover="{JS}',
    "tag-break": f"{DEAD}/<script>{JS}</script>",
    "js-in-query": f"{DEAD}/?q=<img src=x onerror={JS}>",
}

# Expected to be unchanged by every sanitizer: proves the cases do not just drop all input.
MARKER = "Kilroy{n}was-here"


def marker(n: int | str) -> str:
    return MARKER.format(n=n)


# --- hostile documents ---------------------------------------------------------------------


@dataclass
class Item:
    """One entry of a hostile feed. Values go in raw; the builders escape them for XML."""

    guid: str
    title: str = "A title"
    link: str = f"{DEAD}/post"
    content: str = "<p>content</p>"
    summary: str | None = None
    author: str = "An author"
    categories: tuple[str, ...] = ()
    enclosure: str | None = None
    published: str = "2026-11-20T10:00:00Z"
    title_type: str = "html"  # Atom only


def _rfc822(iso: str) -> str:
    from datetime import datetime
    from email.utils import format_datetime

    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")))


@dataclass
class Feed:
    """A hostile feed: feed-level fields and items."""

    title: str = "Hostile feed"
    link: str = f"{DEAD}/"
    image: str | None = None
    author: str | None = None
    items: list[Item] = field(default_factory=list)

    def rss(self) -> bytes:
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>',
            f"<title>{escape(self.title)}</title><link>{escape(self.link)}</link>",
            "<description>hostile</description>",
        ]
        if self.image:
            out.append(
                f"<image><url>{escape(self.image)}</url><title>x</title>"
                f"<link>{escape(self.link)}</link></image>"
            )
        if self.author:
            out.append(f"<dc:creator>{escape(self.author)}</dc:creator>")
        for it in self.items:
            out.append("<item>")
            out.append(f"<guid isPermaLink='false'>{escape(it.guid)}</guid>")
            out.append(f"<title>{escape(it.title)}</title><link>{escape(it.link)}</link>")
            out.append(f"<dc:creator>{escape(it.author)}</dc:creator>")
            out.append(f"<pubDate>{_rfc822(it.published)}</pubDate>")
            if it.summary is not None:
                out.append(f"<description>{escape(it.summary)}</description>")
            out.append(f"<content:encoded>{escape(it.content)}</content:encoded>")
            for c in it.categories:
                out.append(f"<category>{escape(c)}</category>")
            if it.enclosure:
                out.append(
                    f"<enclosure url={quoteattr(it.enclosure)} length='1' type='audio/mpeg'/>"
                )
            out.append("</item>")
        out.append("</channel></rss>")
        return "\n".join(out).encode("utf-8")

    def atom(self) -> bytes:
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<feed xmlns="http://www.w3.org/2005/Atom">',
            f'<title type="html">{escape(self.title)}</title>',
            f"<link rel='alternate' href={quoteattr(self.link)}/>",
            f"<id>urn:hostile:{abs(hash(self.title))}</id><updated>2026-11-20T10:00:00Z</updated>",
        ]
        if self.image:
            out.append(f"<logo>{escape(self.image)}</logo>")
        if self.author:
            out.append(f"<author><name>{escape(self.author)}</name></author>")
        for it in self.items:
            out.append("<entry>")
            out.append(f"<id>{escape(it.guid)}</id>")
            out.append(f"<title type={quoteattr(it.title_type)}>{escape(it.title)}</title>")
            out.append(f"<link rel='alternate' href={quoteattr(it.link)}/>")
            out.append(f"<author><name>{escape(it.author)}</name></author>")
            out.append(f"<published>{it.published}</published><updated>{it.published}</updated>")
            if it.summary is not None:
                out.append(f'<summary type="html">{escape(it.summary)}</summary>')
            out.append(f'<content type="html">{escape(it.content)}</content>')
            for c in it.categories:
                out.append(f"<category term={quoteattr(c)}/>")
            if it.enclosure:
                out.append(f"<link rel='enclosure' href={quoteattr(it.enclosure)} length='1'/>")
            out.append("</entry>")
        out.append("</feed>")
        return "\n".join(out).encode("utf-8")

    def json(self) -> bytes:
        doc: dict[str, object] = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": self.title,
            "home_page_url": self.link,
            "items": [],
        }
        if self.image:
            doc["icon"] = self.image
        if self.author:
            doc["authors"] = [{"name": self.author, "url": self.link}]
        for it in self.items:
            item: dict[str, object] = {
                "id": it.guid,
                "url": it.link,
                "title": it.title,
                "content_html": it.content,
                "date_published": it.published,
                "authors": [{"name": it.author}],
                "tags": list(it.categories),
            }
            if it.summary is not None:
                item["summary"] = it.summary
            if it.enclosure:
                item["attachments"] = [{"url": it.enclosure, "mime_type": "audio/mpeg"}]
            doc["items"].append(item)  # type: ignore[union-attr]
        return json.dumps(doc).encode("utf-8")

    def render(self, kind: str) -> bytes:
        """The feed as RSS, Atom or JSON Feed. XML formats cannot carry NUL or C0 controls
        at all, so those are left out of them (test_garbage sends them raw)."""
        if kind == "json":
            return self.json()
        data = {"rss": self.rss, "atom": self.atom}[kind]().decode("utf-8")
        return _XML_INVALID.sub("", data).encode("utf-8")


CONTENT_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
CONTENT_TYPES["json"] = "application/feed+json"


_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


HEALTHY_DATE = 1_795_168_800  # 2026-11-20 10:00 UTC, the date of every hostile item


def healthy_rss(name: str, n: int = 3) -> bytes:
    """A well-behaved feed of ``n`` posts (planetkit's builder), its links on the closed port."""
    posts = [(str(i), f"{name} post {i}", HEALTHY_DATE) for i in range(n)]
    return rss_feed(name, f"{DEAD}/{name}/", posts)


# --- inspecting outputs --------------------------------------------------------------------

BAD_SCHEMES = {"javascript", "vbscript", "data", "livescript", "mocha", "jar", "file", "feed"}
URL_ATTRS = {
    "href",
    "src",
    "action",
    "formaction",
    "poster",
    "data",
    "background",
    "lowsrc",
    "dynsrc",
    "codebase",
    "classid",
    "cite",
    "ping",
    "manifest",
    "icon",
    "longdesc",
    "usemap",
    "profile",
    "archive",
    "to",
    "from",
    "values",
    "by",
}
FORBIDDEN_TAGS = {
    "script",
    "base",
    "form",
    "object",
    "embed",
    "applet",
    "frame",
    "frameset",
    "isindex",
    "keygen",
    "portal",
    "foreignobject",
    "animate",
    "set",
    "handler",
    "listener",
    "param",
    "noscript",  # parsed as markup here, as raw text by a browser with scripting on
}
_WS = re.compile(r"[\t\n\r]")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})\s?|\\(.)", re.S)
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see: leading C0/space stripped, tabs/newlines removed."""
    value = _WS.sub("", value).lstrip("".join(chr(c) for c in range(0x21)))
    m = _SCHEME.match(value)
    return m.group(1).lower() if m else None


def css_text(value: str) -> str:
    """CSS as a browser reads it: comments removed, escapes decoded, lower case."""
    value = _CSS_COMMENT.sub("", value)

    def unescape(m: re.Match[str]) -> str:
        if m.group(1):
            try:
                return chr(int(m.group(1), 16))
            except (ValueError, OverflowError):
                return ""
        return m.group(2)

    return _CSS_ESCAPE.sub(unescape, value).lower()


def css_problems(value: str, where: str) -> list[str]:
    text = css_text(value)
    found = []
    squeezed = re.sub(r"\s", "", text)
    for bad in ("expression(", "javascript:", "vbscript:", "-moz-binding", "@import"):
        if bad in squeezed:
            found.append(f"{where}: CSS with {bad}: {value[:80]!r}")
    if re.search(r"(?<![\w-])behavior:", squeezed):  # IE's HTC behaviours, not scroll-behavior
        found.append(f"{where}: CSS with behavior: {value[:80]!r}")
    if re.search(r"position\s*:\s*(fixed|absolute|sticky)", text):
        found.append(f"{where}: CSS positions content over the page: {value[:80]!r}")
    return found


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


@dataclass(frozen=True)
class Allowances:
    """What the theme itself may contain that feed content may not."""

    scripts: frozenset[str] = frozenset()  # exact text of the theme's own inline scripts
    iframe_hosts: frozenset[str] = frozenset(
        {"www.youtube.com", "youtube.com", "www.youtube-nocookie.com", "player.vimeo.com"}
    )
    data_images: bool = False  # the theme's own avatar badges as data:image/ URIs


def tree_problems(root, where: str, allow: Allowances) -> list[str]:
    found: list[str] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = _local(el.tag)
        attrs = {_local(k): v for k, v in el.attrib.items()}
        text = "".join(el.itertext()) if tag in ("script", "style") else ""
        if tag in FORBIDDEN_TAGS and not (tag == "script" and text in allow.scripts):
            found.append(f"{where}: <{tag}> element {attrs!r} {text[:60]!r}")
        if tag == "style":
            found += css_problems(text, f"{where}: <style>")
        if tag == "meta" and attrs.get("http-equiv", "").strip().lower() in (
            "refresh",
            "set-cookie",
        ):
            found.append(f"{where}: <meta http-equiv={attrs['http-equiv']!r}>")
        if tag == "iframe":
            if "srcdoc" in attrs:
                found.append(f"{where}: <iframe srcdoc>")
            src = attrs.get("src", "")
            parts = urlsplit(src.strip())
            if parts.scheme != "https" or (parts.hostname or "") not in allow.iframe_hosts:
                found.append(f"{where}: <iframe> from a host not allowed: {src!r}")
            if "sandbox" not in attrs:
                found.append(f"{where}: <iframe> without sandbox")
        if tag == "link" and "import" in attrs.get("rel", "").lower():
            found.append(f"{where}: <link rel=import>")
        if tag == "a" and attrs.get("target", "").lower() == "_blank":
            rel = attrs.get("rel", "").lower().split()
            if "noopener" not in rel and "noreferrer" not in rel:
                found.append(f"{where}: target=_blank without rel=noopener")
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append(f"{where}: event handler <{tag} {name}={value[:60]!r}>")
            elif name == "style":
                found += css_problems(value, f"{where}: <{tag} style>")
            elif name in ("srcset", "imagesrcset"):
                for candidate in value.split(","):
                    url = candidate.strip().split(" ")[0] if candidate.strip() else ""
                    if url_scheme(url) in BAD_SCHEMES:
                        found.append(f"{where}: <{tag} srcset> with {url[:60]!r}")
            elif name in URL_ATTRS:
                scheme = url_scheme(value)
                if scheme in BAD_SCHEMES:
                    if (
                        scheme == "data"
                        and allow.data_images
                        and tag == "img"
                        and name == "src"
                        and re.match(r"\s*data:image/(png|gif|jpeg|webp|svg\+xml)", value, re.I)
                    ):
                        continue
                    found.append(f"{where}: <{tag} {name}={value[:60]!r}>")
    return found


def html_problems(
    markup: str | bytes,
    where: str = "html",
    *,
    fragment: bool = False,
    allow: Allowances | None = None,
) -> list[str]:
    """Everything dangerous in ``markup`` as an HTML5 parser (a browser) builds it; for a
    fragment, then the same for the tree serialised and parsed again (mutation XSS). Whole
    pages are parsed once: Chromium checks them as a browser does."""
    allow = allow or Allowances()
    found = []
    for attempt in range(2 if fragment else 1):
        if fragment:
            tree = html5lib.parseFragment(markup, container="div", namespaceHTMLElements=True)
            root = tree
        else:
            root = html5lib.parse(markup, namespaceHTMLElements=True)
        found += tree_problems(root, where if attempt == 0 else where + " (re-parsed)", allow)
        if found:
            break
        walker = html5lib.getTreeWalker("etree")
        markup = html5lib.serializer.HTMLSerializer(
            quote_attr_values="always", omit_optional_tags=False
        ).render(walker(root))
    return found


def parse_xml(data: bytes, where: str):
    """Parse an output XML file as a cautious reader would: no DTD, no entities, no network."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(data, parser)
    doctype = root.getroottree().docinfo.doctype
    assert not doctype, f"{where}: output XML has a DOCTYPE {doctype!r}"
    return root


_HTML_XML_ELEMENTS = {"content", "summary", "description", "encoded", "subtitle", "rights"}
_URL_XML_ELEMENTS = {"link", "uri", "url", "icon", "logo", "comments", "docs"}
_URL_XML_ATTRS = {"href", "url", "src", "htmlurl", "xmlurl", "avatar", "uri"}


def xml_problems(data: bytes, where: str, *, allow: Allowances | None = None) -> list[str]:
    """Dangerous URLs and embedded HTML in an Atom, RSS or OPML output."""
    root = parse_xml(data, where)
    found: list[str] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = _local(el.tag)
        for name, value in el.attrib.items():
            if _local(name) in _URL_XML_ATTRS and url_scheme(value) not in (None, "http", "https"):
                found.append(f"{where}: <{tag} {_local(name)}={value[:60]!r}>")
        text = el.text or ""
        if (
            tag in _URL_XML_ELEMENTS
            and text.strip()
            and url_scheme(text) not in ("http", "https", "mailto", "tag", "urn")
        ):
            found.append(f"{where}: <{tag}>{text[:60]!r}")
        permalink = tag == "guid" and el.get("isPermaLink", "true").lower() != "false"
        if permalink and url_scheme(text) not in ("http", "https"):
            found.append(f"{where}: permalink <guid>{text[:60]!r}")
        kind = el.get("type", "")
        is_html = tag in ("description", "encoded") or (
            tag in _HTML_XML_ELEMENTS | {"title"} and kind == "html"
        )
        if is_html and text:
            found += html_problems(text, f"{where}: <{tag}>", fragment=True, allow=allow)
        if tag in _HTML_XML_ELEMENTS | {"title"} and kind == "xhtml":
            inner = "".join(etree.tostring(c, encoding="unicode") for c in el)
            found += html_problems(inner, f"{where}: <{tag} xhtml>", fragment=True, allow=allow)
    return found


_JSON_URL_KEYS = {
    "url",
    "external_url",
    "home_page_url",
    "feed_url",
    "image",
    "banner_image",
    "icon",
    "favicon",
    "avatar",
    "next_url",
}


def json_problems(data: bytes, where: str, *, allow: Allowances | None = None) -> list[str]:
    doc = json.loads(data)
    found: list[str] = []

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k in _JSON_URL_KEYS and isinstance(v, str):
                    if url_scheme(v) not in ("http", "https"):
                        found.append(f"{where}: {path}.{k} = {v[:60]!r}")
                elif k == "content_html" and isinstance(v, str):
                    found.extend(
                        html_problems(v, f"{where}: {path}.{k}", fragment=True, allow=allow)
                    )
                else:
                    walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    walk(doc, "$")
    return found


def site_problems(public: Path, *, allow: Allowances | None = None) -> list[str]:
    """Inspect every file the planet wrote."""
    found: list[str] = []
    files = [p for p in sorted(public.rglob("*")) if p.is_file()]
    assert files, f"no output in {public}"
    for p in files:
        rel = str(p.relative_to(public))
        data = p.read_bytes()
        if p.suffix in (".html", ".htm"):
            found += html_problems(data, rel, allow=allow)
        elif p.suffix == ".xml" or p.suffix == ".opml":
            found += xml_problems(data, rel, allow=allow)
        elif p.suffix == ".json":
            found += json_problems(data, rel, allow=allow)
        elif p.suffix == ".css":
            found += [f for f in css_problems(data.decode(), rel) if "position" not in f]
    return found


@functools.cache
def page_texts(public: Path) -> str:
    """All the text of every HTML page, as a browser would show it (entities decoded)."""
    texts = []
    for p in sorted(public.rglob("*.html")):
        root = html5lib.parse(p.read_bytes(), namespaceHTMLElements=False)
        texts.append(" ".join(root.itertext()))
    return "\n".join(texts)


def theme_allowances(public: Path) -> Allowances:
    """What a benign planet's own pages contain: their inline scripts, data: images."""
    scripts: set[str] = set()
    data_images = False
    for p in public.rglob("*.html"):
        root = html5lib.parse(p.read_bytes(), namespaceHTMLElements=False)
        for el in root.iter("script"):
            scripts.add("".join(el.itertext()))
        for el in root.iter("img"):
            if (el.get("src") or "").startswith("data:image/"):
                data_images = True
    return Allowances(scripts=frozenset(scripts), data_images=data_images)


# --- misbehaving routes for the farm (tests/httpfarm.py) --------------------------------------

ENDLESS = 1 << 30  # an "endless" body ends after 1 GiB: far past any max_bytes, and bounded


def endless(chunk: bytes = b"<item>" * 10000) -> Route:
    """200 without Content-Length, then bytes for as long as anyone reads."""

    async def write(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nConnection: close\r\n\r\n"
        )
        writer.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
        for _ in range(ENDLESS // len(chunk)):
            writer.write(chunk)
            await writer.drain()

    return Route(raw=write)


def endless_chunked() -> Route:
    """200 with chunked framing, and chunks for as long as anyone reads."""
    piece = b"<item><title>x</title></item>" * 2000
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"

    async def write(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(ENDLESS // len(frame)):
            writer.write(frame)
            await writer.drain()

    return Route(raw=write)


def trickle_headers(interval: float = 0.1) -> Route:
    """The status line and headers, a byte at a time, for ever."""

    async def write(request: Request, writer: asyncio.StreamWriter) -> None:
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 100000
        for i in range(len(head)):
            writer.write(head[i : i + 1])
            await writer.drain()
            await asyncio.sleep(interval)

    return Route(raw=write)


def compressed(body: bytes, encoding: str) -> Route:
    """``body`` sent as it is, labelled with Content-Encoding ``encoding``."""
    return Route(body, content_type="application/xml", headers={"Content-Encoding": encoding})


def bomb(size: int, encoding: str) -> bytes:
    """``size`` bytes of a feed-looking document, compressed (gzip, deflate or raw zlib)."""
    wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}[encoding]
    comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
    parts = [comp.compress(head)]
    block = b" " * (1 << 20)
    for _ in range(size >> 20):
        parts.append(comp.compress(block))
    parts.append(comp.flush())
    return b"".join(parts)


def double_gzip_bomb(size: int) -> bytes:
    return gzip.compress(bomb(size, "gzip"), 9)


def huge_headers(count: int, length: int) -> Route:
    """A healthy feed behind ``count`` headers of ``length`` bytes each."""
    headers = {f"X-H{i}": "a" * length for i in range(count)}
    return Route(healthy_rss("headers"), content_type="application/xml", headers=headers)


def redirect_chain(farm: Farm, prefix: str, status: int = 302) -> Route:
    """/prefix/N redirects to /prefix/N+1, for ever."""

    def hop(request: Request) -> Route:
        host = farm.addresses.index(request.address)
        following = f"{prefix}/{int(request.path.rsplit('/', 1)[1] or 0) + 1}"
        farm.add(following, chain, host=host)
        return Route(status=status, location=farm.url(following, host), content_type="text/plain")

    chain = Route(handler=hop)
    return chain


# --- running the planet ----------------------------------------------------------------------


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    folder: Path
    max_rss_kb: int = 0  # the planet process and its parse workers, whichever was largest

    @property
    def public(self) -> Path:
        return self.folder / "public"

    @property
    def db(self) -> Path:
        return self.folder / "planet.db"

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def feed_rows(self) -> dict[str, dict]:
        import sqlite3

        with sqlite3.connect(self.db) as conn:
            conn.row_factory = sqlite3.Row
            return {r["url"]: dict(r) for r in conn.execute("SELECT * FROM feeds")}

    def entry_rows(self, feed_url: str | None = None) -> list[dict]:
        import sqlite3

        with sqlite3.connect(self.db) as conn:
            conn.row_factory = sqlite3.Row
            sql = "SELECT * FROM entries" + (" WHERE feed_url = ?" if feed_url else "")
            return [dict(r) for r in conn.execute(sql, [feed_url] if feed_url else [])]


def write_planet(
    folder: Path,
    opml_text: str,
    *,
    timeout: float = 5.0,
    max_bytes: int = 1 << 20,
    max_redirects: int = 5,
    items: int = 60,
    extra: str = "",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feeds.opml").write_text(opml_text, encoding="utf-8")
    config = folder / "campplanet.toml"
    config.write_text(
        "[planet]\n"
        'url = "https://planet.example.org/"\n'
        'name = "Hostile planet"\n'
        f"items = {items}\n"
        "[fetch]\n"
        f"timeout = {timeout}\nmax_bytes = {max_bytes}\nmax_redirects = {max_redirects}\n"
        "concurrency = 40\nper_host = 40\n" + extra
    )
    return config


def planet_args(folder: Path, command: str = "refresh", *, private: bool = True) -> list[str]:
    args = [
        command,
        "--config",
        str(folder / "campplanet.toml"),
        "--opml",
        str(folder / "feeds.opml"),
        "--db",
        str(folder / "planet.db"),
        "--output",
        str(folder / "public"),
    ]
    return [*args, "--allow-private-networks"] if private else args


_WRAPPER = """
import json, resource, sys
from campplanet.cli import main
try:
    main(sys.argv[2:], prog_name="campplanet")
finally:
    who = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    usage = [resource.getrusage(w).ru_maxrss for w in who]
    with open(sys.argv[1], "w") as f:
        json.dump(usage, f)
"""


def run_planet(
    folder: Path, command: str = "refresh", *, private: bool = True, limit: float = 60
) -> Run:
    """Run the real ``campplanet`` command in a child process, measuring its peak RSS; it
    fails (subprocess.TimeoutExpired) if the run is not over after ``limit`` seconds."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        usage_file = f.name
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "200"}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _WRAPPER,
            usage_file,
            *planet_args(folder, command, private=private),
        ],
        capture_output=True,
        text=True,
        timeout=limit,
        env=env,
        cwd=folder,
        stdin=subprocess.DEVNULL,
    )
    try:
        usage = json.loads(Path(usage_file).read_text() or "[0, 0]")
    except (OSError, ValueError):
        usage = [0, 0]
    finally:
        os.unlink(usage_file)
    return Run(proc.returncode, proc.stdout, proc.stderr, folder, max(usage))


def run_planet_inprocess(folder: Path, command: str = "refresh", *, private: bool = True) -> Run:
    """The real CLI in this process (click's CliRunner): faster, no memory figure."""
    from click.testing import CliRunner

    from campplanet.cli import main

    result = CliRunner().invoke(main, planet_args(folder, command, private=private))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr, folder)


# --- a real browser ----------------------------------------------------------------------------

from planetkit import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402


def chromium_args(page: Path, profile: Path, budget_ms: int) -> list[str]:
    return [
        CHROMIUM,
        *CHROMIUM_FLAGS,
        "--disable-dev-shm-usage",
        # Nothing may resolve or go anywhere but loopback.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget_ms}",
        "--dump-dom",
        page.as_uri(),
    ]


def chromium_doms(pages: list[Path], tmp: Path, *, budget_ms: int = 2000) -> list[str]:
    """The DOM of each page after Chromium loaded it and ran whatever it would run (the
    pages load in parallel, each in its own profile)."""
    procs = [
        subprocess.Popen(
            chromium_args(page, tmp / f"profile-{i}", budget_ms),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for i, page in enumerate(pages)
    ]
    return [proc.communicate(timeout=60)[0] for proc in procs]


def text_of(value: str) -> str:
    return html.unescape(value)

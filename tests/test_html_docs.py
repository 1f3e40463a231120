"""Docs as a folder of HTML pages and as a help-center export, and ``format = "auto"`` for every format."""

import json

import pytest

from embtune_core.core.config import DocsConfig, DocsFields, load_config
from embtune_core.core.errors import ConfigError, InputError
from embtune_core.core.html_text import common_title_suffix, decode_html, extract_html
from embtune_core.core.sources import load_docs, resolve_doc_id

CHROME = """<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header"><h1>Acme Help</h1><nav><a href="/">Home</a> <a href="/guide/">Guide</a></nav></header>
<div class="layout"><aside class="sidebar"><ul><li>Sidebar: all articles</li></ul></aside>"""
FOOTER = """</div><footer class="site-footer">&copy; Acme Inc. Terms</footer>
<script>window.analytics = "tracking";</script></body></html>"""

INSTALL = f"""<!DOCTYPE html>
<html class="js sidebar-visible"><head><meta charset="utf-8"><title>Install &amp; set up | Acme Help</title>
<link rel="canonical" href="https://help.acme.test/hc/en-us/articles/install">
<style>body {{ color: red }}</style></head><body>{CHROME}
<main id="main"><nav class="breadcrumbs"><a>Home</a> › <a>Guide</a></nav>
<article><header><h1>Install &amp; set&nbsp;up</h1><div class="meta">Updated 3 days ago</div></header>
<p>Acme&#8217;s installer takes   a few   minutes. It checks your system, downloads the latest release
and asks where to put it.</p>
<div class="callout"><h2>Before you start</h2>
<p>You need <b>admin</b> rights on the machine &amp; about two gigabytes of free disk space for the
application, its cache and the sample workspace it creates on first run.</p>
<ul><li>Windows 11 or macOS 14</li><li><p>A network connection</p></li></ul>
<div><h3>Check the version<a class="headerlink" href="#v">¶</a></h3>
<pre>$ acme --version
## comment in a shell script</pre>
<p>The version must be 4.2 or later; older releases cannot read workspaces created by this one.</p></div></div>
<h2>Run the installer</h2>
<ol><li><h3>Download</h3><p>Download the installer from the account page and open it.</p></li></ol>
<table><thead><tr><th>Plan</th><th>Seats</th></tr></thead><tbody><tr><td>Team</td><td>10</td></tr></tbody></table>
<div class="article-toc">On this page</div><button>Copy link</button>
<footer>Was this article helpful?</footer></article></main>{FOOTER}"""

PAGES = {
    "index.html": f"""<html><head><title>Welcome | Acme Help</title>
<link rel="canonical" href="https://help.acme.test/"></head><body>{CHROME}
<div role="main"><p>Start here: install Acme, then invite your team.</p></div>{FOOTER}""",
    "guide/install.html": INSTALL,
    "guide/index.html": f"""<html><head><title>Guide overview | Acme Help</title></head><body>{CHROME}
<article><p>Everything about running Acme day to day.</p></article>{FOOTER}""",
    "guide/billing.htm": """<html><head><title>Billing | Acme Help</title></head><body>
<main><h1>Billing and invoices</h1><p>Invoices are sent on the 1st of each month.</p></main></body></html>""",
    "old-page.html": """<html><head><title>Redirecting…</title>
<meta http-equiv="refresh" content="0; url=/guide/install.html"></head><body></body></html>""",
    "empty.html": f"""<html><head><title>Nothing | Acme Help</title></head><body>{CHROME}{FOOTER}""",
}
#: cp1252 bytes, no declared charset.
CAFE = (b"<html><head><title>Caf\xe9 menu | Acme Help</title></head><body><main><h1>Caf\xe9 \x93specials\x94</h1>"
        b"<p>Cr\xe8me br\xfbl\xe9e costs 5\x80 at the caf\xe9.</p></main></body></html>")


def make_site(root):
    """A small saved help center: chrome everywhere, a redirect, an empty page, a cp1252 page, a stylesheet."""
    for rel, html in PAGES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(html, encoding="utf-8")
    (root / "legacy").mkdir()
    (root / "legacy" / "cafe.html").write_bytes(CAFE)
    (root / "assets").mkdir()
    (root / "assets" / "site.css").write_text("body {}")
    return root


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path / "site")


def test_html_folder_ids_titles_urls_and_skipped_pages(site):
    c = load_docs(site)
    assert c.format == "html"
    assert c.doc_ids() == ["guide/billing", "guide/index", "guide/install", "index", "legacy/cafe"]
    assert c.titles() == {"guide/billing": "Billing and invoices", "guide/index": "Guide overview",
                          "guide/install": "Install & set up", "index": "Welcome",
                          "legacy/cafe": "Café “specials”"}
    urls = dict(zip(c.docs["doc_id"], c.docs["url"], strict=True))
    assert urls["guide/install"] == "https://help.acme.test/hc/en-us/articles/install"
    assert urls["guide/billing"] == "guide/billing.htm" and urls["index"] == "https://help.acme.test/"
    clicked = "https://help.acme.test/hc/de/articles/install/?utm_source=mail#top"
    assert resolve_doc_id(clicked, c.url_index()) == "guide/install"
    assert len(c.skipped) == 2
    assert any("old-page.html: redirect page" in s for s in c.skipped)
    assert any("empty.html: no text" in s for s in c.skipped)


def test_html_text_has_no_chrome_and_decoded_entities(site):
    docs = load_docs(site).docs
    text = dict(zip(docs["doc_id"], docs["text"], strict=True))["guide/install"]
    for chrome in ("Skip to content", "Acme Help", "Sidebar", "Home", "Updated 3 days", "Terms", "analytics",
                   "color: red", "On this page", "Copy link", "helpful", "¶"):
        assert chrome not in text, chrome
    assert "Acme’s installer takes a few minutes." in text  # &#8217; and collapsed spaces
    assert "admin rights on the machine & about" in text
    assert "Install & set up" not in text  # the title is not repeated in the body
    assert "\n- Windows 11 or macOS 14\n- A network connection\n" in text
    assert "\nPlan | Seats\nTeam | 10" in text
    assert "$ acme --version\n ## comment" in text  # a code line is never a heading
    assert "\xa0" not in text and "&amp;" not in text


def test_nested_html_headings_split_a_long_page(site):
    c = load_docs(site, "html", split_min_words=20)
    secs = c.sections.filter(c.sections["doc_id"] == "guide/install")
    assert secs["heading"].to_list() == ["Before you start", "Check the version", "Run the installer", "Download"]
    assert secs["section_id"].to_list() == [f"guide/install#{i}" for i in range(1, 5)]
    first = secs["text"][0]
    assert first.startswith("Install & set up - Before you start\nAcme’s installer")  # intro joins section 1
    assert "comment in a shell script" in secs["text"][1]
    assert load_docs(site, "html", split=False).sections.height == 5


def test_cp1252_page_and_declared_encodings():
    assert decode_html(CAFE)[1] == "cp1252"
    page = extract_html(decode_html(CAFE)[0])
    assert page.title == "Café “specials”" and "Crème brûlée costs 5€ at the café." in page.text
    assert decode_html(b'<meta charset="ISO-8859-1"><p>caf\xe9')[0].endswith("café")
    assert decode_html(b'<meta http-equiv="Content-Type" content="text/html; charset=utf-8"><p>\xc3\xa9')[0][-1] == "é"
    assert decode_html("\ufeff<p>é".encode())[0] == "<p>é"
    assert decode_html("<p>é".encode("utf-16"))[0] == "<p>é"
    text, enc = decode_html(b'<meta charset="no-such-codec"><p>\x81\xff')  # never raises
    assert enc == "cp1252" and text.endswith("\ufffdÿ")


def test_title_suffix_only_when_most_pages_share_it():
    assert common_title_suffix(["A | Acme", "B | Acme", "C — Other"]) == " | Acme"
    assert common_title_suffix(["A | Acme", "B | Docs", "C"]) == ""
    assert common_title_suffix(["Only | Acme"]) == ""


def test_all_pages_skipped_says_so(tmp_path):
    (tmp_path / "r.html").write_text(PAGES["old-page.html"])
    with pytest.raises(InputError, match=r"no documents found: .*all 1 skipped \(first: .*r.html: redirect page"):
        load_docs(tmp_path)


def test_empty_folder_says_what_it_looked_for(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    with pytest.raises(InputError, match=r"docs: no documents found: looked for \*\.md, \*\.markdown, \*\.html, "
                                         r"\*\.htm; found no files"):
        load_docs(docs)
    for i in range(3):
        (docs / f"manual-{i}.pdf").write_bytes(b"%PDF")
    (docs / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"looked for \*\.md, \*\.markdown, \*\.html, \*\.htm; found 3 \*\.pdf, "
                                         r"1 \*\.txt"):
        load_docs(docs)
    with pytest.raises(InputError, match=r"looked for \*\.html, \*\.htm; found 3 \*\.pdf"):
        load_docs(docs, "html")


# --------------------------------------------------------------------------------------------------
# Help-center exports

ZENDESK = {"articles": [
    {"id": 101, "title": "Reset your password", "locale": "en-us", "draft": False,
     "html_url": "https://acme.zendesk.test/hc/en-us/articles/101-Reset-your-password",
     "body": "<p>Click <strong>Forgot password</strong>&nbsp;on the sign-in page.</p><h2>No email?</h2>"
             "<p>Check your spam folder &amp; wait five minutes.</p>"},
    {"id": 102, "title": "Upcoming: passkeys", "locale": "en-us", "draft": True, "html_url": "x",
     "body": "<p>Not yet.</p>"},
    {"id": 103, "title": "Delete your account", "locale": "en-us", "draft": False, "html_url": "y",
     "body": "<p>Account deletion is permanent.</p>"},
], "next_page": None, "count": 3}

INTERCOM = [
    {"type": "article", "id": "9001", "title": "Connect Slack", "state": "published",
     "url": "https://intercom.help/acme/en/articles/9001-connect-slack",
     "body": "<p>Open <b>Integrations</b> &rarr; Slack.</p><ul><li>Pick a channel</li><li>Save</li></ul>"},
    {"type": "article", "id": "9002", "title": "Teams (beta)", "state": "draft", "url": "", "body": "<p>Soon.</p>"},
    {"type": "article", "id": 9003, "title": "Plain text", "state": "published", "url": "",
     "body": "First line.\n\nSecond   line."},
]


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_zendesk_json_export(tmp_path):
    p = tmp_path / "articles.json"
    p.write_text(json.dumps(ZENDESK))
    c = load_docs(p)
    assert c.format == "export" and c.doc_ids() == ["101", "103"]
    assert c.titles()["101"] == "Reset your password"
    text = c.docs["text"][0]
    assert text.startswith("Click Forgot password on the sign-in page.\n\n## No email?\nCheck your spam folder & wait")
    assert c.docs["url"][0].endswith("/articles/101-Reset-your-password")
    assert c.skipped == (f"{p} articles[1]: draft (id '102')",)


def test_intercom_jsonl_export_and_a_bare_list(tmp_path):
    c = load_docs(write_jsonl(tmp_path / "intercom.jsonl", INTERCOM))
    assert c.format == "export" and c.doc_ids() == ["9001", "9003"]
    assert c.docs["text"][0] == "Open Integrations → Slack.\n- Pick a channel\n- Save"
    assert c.docs["text"][1] == "First line.\nSecond line."  # plain-text bodies keep their lines
    assert c.docs["url"][0].startswith("https://intercom.help/")
    assert c.skipped == (f"{tmp_path / 'intercom.jsonl'}:2: state 'draft' (id '9002')",)
    p = tmp_path / "intercom.json"
    p.write_text(json.dumps({"type": "list", "data": INTERCOM}))
    assert load_docs(p).doc_ids() == ["9001", "9003"]
    p.write_text(json.dumps(INTERCOM))
    assert load_docs(p, "export").doc_ids() == ["9001", "9003"]


def test_export_field_mapping(tmp_path):
    p = write_jsonl(tmp_path / "kb.jsonl", [{"key": "a1", "headline": "Seats", "html": "<p>Add seats.</p>",
                                             "permalink": "/kb/a1"}])
    c = load_docs(p, "export", fields=DocsFields(id="key", title="headline", url="permalink"))
    assert c.doc_ids() == ["a1"] and c.docs["url"][0] == "/kb/a1" and c.docs["text"][0] == "Add seats."
    with pytest.raises(InputError) as e:
        load_docs(p, "export", fields=DocsFields(title="headline", body="content"))
    assert e.value.line == 1 and e.value.field == "id" and "set [docs.fields] id" in str(e.value)
    with pytest.raises(InputError) as e:
        load_docs(p, "export", fields=DocsFields(id="key", title="headline", body="content"))
    assert e.value.field == "content" and "check [docs.fields]" in str(e.value)


@pytest.mark.parametrize("record, field, msg", [
    ({"id": "2", "title": "T"}, "body", "missing field"),
    ({"id": "2", "title": 7, "body": "<p>x</p>"}, "title", "must be a non-empty string"),
    ({"id": "2", "title": "T", "body": ["<p>x</p>"]}, "body", "must be a string (HTML), got list"),
    ({"id": True, "title": "T", "body": "<p>x</p>"}, "id", "must be a non-empty string or an integer"),
    ({"id": "1", "title": "T", "body": "<p>x</p>"}, "id", "duplicate id '1'"),
    ('{"id": "2", "title": "T", ', None, "malformed JSON"),
])
def test_bad_export_records_name_file_line_field(tmp_path, record, field, msg):
    good = {"id": "1", "title": "One", "body": "<p>One.</p>"}
    p = write_jsonl(tmp_path / "export.jsonl", [good, record])
    with pytest.raises(InputError) as e:
        load_docs(p, "export")
    assert e.value.line == 2 and e.value.field == field and msg in str(e.value)
    assert str(e.value).startswith(f"{p}:2")


def test_bad_json_export_names_the_record(tmp_path):
    p = tmp_path / "articles.json"
    p.write_text(json.dumps({"articles": [ZENDESK["articles"][0], {"id": 5, "title": None, "body": "<p>x</p>"}]}))
    with pytest.raises(InputError) as e:
        load_docs(p)
    assert e.value.field == "title" and str(e.value).startswith(f"{p} (field 'title'): articles[1]: ")
    p.write_text(json.dumps({"pages": []}))
    with pytest.raises(InputError, match="not a help-center export"):
        load_docs(p)
    p.write_text('{"articles": [')
    with pytest.raises(InputError, match=r"articles.json:1: malformed JSON"):
        load_docs(p)


# --------------------------------------------------------------------------------------------------
# auto detection and the config


def test_auto_detects_every_format(tmp_path, site):
    md = tmp_path / "md"
    md.mkdir()
    (md / "a.md").write_text("# A\n\nBody.\n")
    (md / "b.markdown").write_text("# B\n\nBody.\n")
    (site / "README.md").write_text("# Read me\n\nNot an article.\n")  # one Markdown file among HTML pages
    jl = write_jsonl(tmp_path / "docs.jsonl", [{"id": "a", "title": "A", "text": "Body."}])
    beir = write_jsonl(tmp_path / "corpus.jsonl", [{"_id": "d1", "title": "D", "text": "Body."}])
    beir2 = write_jsonl(tmp_path / "passages.jsonl", [{"_id": "d1", "title": "D", "text": "Body."}])
    zd = tmp_path / "zendesk.json"
    zd.write_text(json.dumps(ZENDESK))
    ic = write_jsonl(tmp_path / "intercom.jsonl", INTERCOM)
    found = {p.name: (c.format, c.docs.height) for p in (md, site, jl, beir, beir2, zd, ic) for c in [load_docs(p)]}
    assert found == {"md": ("markdown", 2), "site": ("html", 5), "docs.jsonl": ("jsonl", 1),
                     "corpus.jsonl": ("beir", 1), "passages.jsonl": ("beir", 1), "zendesk.json": ("export", 2),
                     "intercom.jsonl": ("export", 2)}


def test_docs_config_formats_and_fields(tmp_path):
    assert DocsConfig(format="html").format == "html" and DocsConfig(format="export").fields == DocsFields()
    with pytest.raises(ConfigError, match="did you mean 'html'"):
        DocsConfig(format="htm")
    p = tmp_path / "embtune.toml"
    p.write_text('[docs]\npath = "a.json"\nformat = "export"\n[docs.fields]\nbody = "content"\nurl = "link"\n')
    cfg = load_config(p)
    assert cfg.docs.fields == DocsFields(body="content", url="link")
    p.write_text('[docs.fields]\nbdy = "content"\n')
    with pytest.raises(ConfigError, match=r"docs\.fields\.bdy'; did you mean 'body'"):
        load_config(p)

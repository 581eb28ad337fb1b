"""The browser code is plain ES modules with no build step: every relative import must resolve."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

STATIC = Path(__file__).resolve().parents[2] / "frontend" / "static"
MODULES = sorted((STATIC / "frontend").rglob("*.js"))
IMPORT = re.compile(r"""^\s*import\s[^;]*?from\s+["'](\.{1,2}/[^"']+)["']""", re.M | re.S)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(STATIC)))
def test_every_relative_import_resolves_to_a_static_file(module):
    relative = module.relative_to(STATIC)
    imports = IMPORT.findall(module.read_text())
    for target in imports:
        resolved = (Path("/") / relative.parent / target).resolve().relative_to("/")
        assert finders.find(str(resolved)), f"{relative} imports {target}, which is not a static file"


def module_graph(entry: Path) -> set[Path]:
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        module = todo.pop()
        if module in seen or not module.exists() or "vendor" in module.parts:
            continue
        seen.add(module)
        todo += [(module.parent / target).resolve() for target in IMPORT.findall(module.read_text())]
    return seen


def test_the_case_page_preloads_exactly_the_modules_its_entry_imports(browser_client, members, make_case):
    case = make_case()
    html = browser_client(members["annotator"]).get(f"/cases/{case.pk}/").content.decode()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', html))
    entry = STATIC / "frontend" / "case" / "main.js"
    imported = {str(p.relative_to(STATIC)) for p in module_graph(entry) if p != entry}
    assert preloaded == imported | {"vendor/niivue/index.js"}

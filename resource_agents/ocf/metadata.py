"""The agent's meta-data XML, derived from its declaration and built with lxml.

Debian's /usr/share/resource-agents/ra-api-1.dtd predates OCF 1.1: it knows neither the
`reloadable` and `unique-group` parameter attributes nor the `reload-agent` action. The
DOCTYPE therefore carries an internal subset declaring exactly those OCF 1.1 additions, so
`xmllint --valid` (and ocf-tester) validate the document against the installed DTD plus them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from resource_agents.ocf.agent import Agent

OCF_1_1_SUBSET = """<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd" [
<!ATTLIST parameter reloadable (1|0) "0" unique-group CDATA #IMPLIED>
<!ATTLIST action name CDATA #REQUIRED>
]>"""


def _desc(parent: etree._Element, tag: str, text: str) -> None:
    el = etree.SubElement(parent, tag, lang="en")
    el.text = text


def build(agent: Agent) -> bytes:
    root = etree.Element("resource-agent", name=agent.name, version=agent.version)
    etree.SubElement(root, "version").text = "1.1"  # the OCF API version we implement
    _desc(root, "longdesc", agent.longdesc.strip())
    _desc(root, "shortdesc", agent.shortdesc)
    params = etree.SubElement(root, "parameters")
    for p in agent.parameters:
        attrs = {"name": p.name, "required": "1" if p.required else "0"}
        if p.unique_group:
            attrs["unique-group"] = p.unique_group
        if p.reloadable:
            attrs["reloadable"] = "1"
        el = etree.SubElement(params, "parameter", attrs)
        longdesc = p.longdesc or p.shortdesc
        if p.deprecated:
            longdesc = f"DEPRECATED: {p.deprecated}. {longdesc}"
        if p.choices:
            longdesc += f" One of: {', '.join(p.choices)}."
        _desc(el, "longdesc", longdesc)
        _desc(el, "shortdesc", p.shortdesc)
        content = {"type": p.ocf_type}
        if p.default is not None:
            content["default"] = _text(p.default)
        etree.SubElement(el, "content", content)
    actions = etree.SubElement(root, "actions")
    for a in agent.actions:
        attrs = {"name": a.name, "timeout": f"{a.timeout:g}s"}
        if a.interval:
            attrs["interval"] = f"{a.interval:g}s"
        if a.depth:
            attrs["depth"] = str(a.depth)
        etree.SubElement(actions, "action", attrs)
    # No encoding in the declaration: crmsh parses the text as a str with lxml, which
    # refuses a str that declares an encoding.
    body = etree.tostring(root, pretty_print=True, encoding="unicode", doctype=OCF_1_1_SUBSET)
    return ('<?xml version="1.0"?>\n' + body).encode()


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)

"""JUnit XML for CI systems: one testsuite per provider, one testcase per check."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .suite import Result


def junit_xml(provider: str, base_url: str, results: list[Result]) -> bytes:
    failures = sum(not r.passed for r in results)
    suite = ET.Element("testsuite", name=f"contract.{provider}", tests=str(len(results)),
                       failures=str(failures), errors="0",
                       time=f"{sum(r.seconds for r in results):.3f}")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="base_url", value=base_url)
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"contract.{provider}", name=r.check.id,
                             time=f"{r.seconds:.3f}")
        if not r.passed:
            failure = ET.SubElement(case, "failure", message=r.reason)
            failure.text = f"{r.check.title}\n{r.reason}"
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_junit(path: Path, provider: str, base_url: str, results: list[Result]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(provider, base_url, results))

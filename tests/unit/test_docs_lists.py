"""The lists the help pages and the README write by hand, against the registries that define them (keep modes in
sampling/keep.py, the rules and settings in sampling/rules.py, renorm modes in sampling/guidance.py): a mode or
rule added, renamed or removed without its documentation fails here."""
import re

from devtools.host import PACK_ROOT

from sampling.guidance import RENORM_MODES
from sampling.keep import KEEP_MODES
from sampling.rules import INPUTS

GUIDER_PAGE = (PACK_ROOT / "web" / "docs" / "TruncatedCFGGuider.md").read_text()
RENORM_PAGE = (PACK_ROOT / "web" / "docs" / "TruncatedCFGRenorm.md").read_text()
README = (PACK_ROOT / "README.md").read_text()


def section(text: str, starts: str) -> str:
    """From the line that starts with ``starts`` to the next heading."""
    begin = text.index(starts)
    following = re.search(r"^#", text[begin + len(starts):], flags=re.M)
    return text[begin:begin + len(starts) + following.start()] if following else text[begin:]


def test_the_guider_page_lists_every_keep_mode_in_the_registrys_order_and_no_other():
    listed = re.findall(r"^- \*\*(\w+)\*\*:", section(GUIDER_PAGE, "A step is truncated when"), flags=re.M)
    assert listed == list(KEEP_MODES)


def test_the_guider_page_names_every_rule_and_setting():
    inputs = section(GUIDER_PAGE, "## Inputs in short")
    missing = [row.name for row in INPUTS if f"`{row.name}`" not in inputs]
    assert not missing, f"the guider's help page does not describe {missing}"


def test_the_renorm_page_lists_every_renorm_mode_and_no_other():
    modes = section(RENORM_PAGE, "- `mode`:")
    assert set(re.findall(r"`(\w+)` is", modes)) == set(RENORM_MODES)


def test_every_keep_value_the_readme_names_is_a_keep_mode():
    named = set(re.findall(r"`keep` (?:to |at |as )?\*{0,2}`?(\w+)", README))
    assert named and named <= set(KEEP_MODES), named - set(KEEP_MODES)


def test_the_readme_s_nodes_section_names_every_keep_mode_and_only_rules_that_exist():
    nodes = section(README, "## The nodes")
    returns = nodes[nodes.index("says what it returns:"):]
    returns = returns[:returns.index(". ")]
    assert set(re.findall(r"`(\w+)`", returns)) == set(KEEP_MODES)
    rules = nodes[nodes.index("rule that is on says so ("):]
    rules = rules[:rules.index("), and")]
    named = set(re.findall(r"`(\w+)`", rules))
    assert named and named <= {row.name for row in INPUTS}, named - {row.name for row in INPUTS}


def test_the_patch_page_names_every_keep_mode_and_only_inputs_that_exist():
    page = (PACK_ROOT / "web" / "docs" / "TruncatedCFGModelPatch.md").read_text()
    inputs = section(page, "Every input means")
    keep = inputs[inputs.index("`keep` ") + len("`keep` "):]
    keep = keep[:keep.index(";")]
    assert set(re.split(r",\s*|\s+or\s+", keep.strip())) == set(KEEP_MODES)
    named = set(re.findall(r"`(\w+)`", inputs))
    assert named <= {row.name for row in INPUTS} | {"cfg"}, named - {row.name for row in INPUTS}

"""PHI in the catalog: which columns hold protected health information, told from their
names and, in HIPAA mode, from their values on import.

The names follow the 18 Safe Harbor identifiers (45 CFR 164.514(b)(2)); de-identification
uses the same patterns. Value checks look at a sample of a text column and flag it when
most of its values look like social security numbers, e-mail addresses, phone numbers or
medical record numbers. Detection is a first guess on the safe side: an admin confirms or
overrides each flag (`PATCH /api/v1/datasets/{name}/columns`), and a flag set by hand is
kept by later imports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD_START, _WORD_END = r"(?:^|_)(?:", r")(?:_|$)"
DIRECT_IDENTIFIER = re.compile(
    _WORD_START
    + "|".join(
        (
            r"(?:first|last|middle|full|given|family|maiden|nick|user|sur)?names?",
            r"mrn|medical_records?|ssn|social_security",
            r"e_?mails?|(?:tele|cell)?phones?|mobile|fax",
            r"address(?:es)?|addr|street|city|county|precinct|geocode|latitude|longitude",
            r"accounts?|acct|licen[cs]es?|vehicles?|vin|plates?|devices?|serial",
            r"urls?|uri|website|ip|ipv[46]",
            r"health_plan|beneficiary|subscriber|member_id|policy_number|insurance_id",
            r"certificates?|photos?|photograph|picture|portrait|biometrics?|fingerprints?|retina|voice_?print",
            r"patient_id",
        )
    )
    + _WORD_END
)
BIRTH = re.compile(_WORD_START + r"dob|birth|birthdate|birthday|born" + _WORD_END)
DATE_NAME = re.compile(_WORD_START + r"dates?|dob|birth|birthdate|birthday|datetime|timestamp" + _WORD_END + "|_at$")
ZIP = re.compile(r"zip|postal|postcode")
AGE = re.compile(r"^age$|_age$|^age_(?:at|in|on|years?|yrs)(?:_|$)")

# Names that are PHI wherever they appear, beyond the direct identifiers: dates of birth and
# ZIP codes are identifiers until reduced (de-identification keeps their reduced form).
PHI_NAME = re.compile(f"{DIRECT_IDENTIFIER.pattern}|{BIRTH.pattern}|{ZIP.pattern}")

VALUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "social security numbers": re.compile(r"\d{3}-\d{2}-\d{4}"),
    "e-mail addresses": re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"),
    "phone numbers": re.compile(r"(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}"),
    "medical record numbers": re.compile(r"(?i:mrn)[ :#-]?\d{5,10}|[A-Z]{1,3}-\d{6,10}"),
}
# A column is flagged when this share of its sampled non-empty values match one pattern.
VALUE_SHARE = 0.8
SAMPLE_SIZE = 1000


def phi_reason(name: str, values: Sequence[str | None] = ()) -> str | None:
    """Why a column looks like PHI (its name, or what most of its text values look like), or None."""
    if PHI_NAME.search(name.lower()):
        return "its name is a HIPAA identifier"
    sample = [value.strip() for value in values[:SAMPLE_SIZE] if value is not None and value.strip()]
    if not sample:
        return None
    for kind, pattern in VALUE_PATTERNS.items():
        if sum(1 for value in sample if pattern.fullmatch(value)) >= VALUE_SHARE * len(sample):
            return f"its values look like {kind}"
    return None

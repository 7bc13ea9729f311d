"""PHI detection: flagged from column names and, in HIPAA mode, from what most values look like."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bi_agent.catalog import datasets
from bi_agent.catalog.phi import phi_reason
from tests.catalog.conftest import Importer


@pytest.mark.parametrize(
    "name",
    ["patient_name", "First Name", "mrn", "ssn", "date_of_birth", "dob", "zip", "postal_code", "email", "phone",
     "fax_number", "home_address", "ip", "account_number", "device_id", "license", "health_plan"],
)  # fmt: skip
def test_identifier_names_are_phi(name: str) -> None:
    assert phi_reason(name.lower().replace(" ", "_")) == "its name is a HIPAA identifier"


@pytest.mark.parametrize("name", ["region", "department", "charges", "visit_date", "length_of_stay", "payer"])
def test_ordinary_names_are_not(name: str) -> None:
    assert phi_reason(name) is None


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["123-45-6789", "987-65-4321", None, ""], "social security numbers"),
        (["ann@example.org", "bo@mail.example.com"], "e-mail addresses"),
        (["(555) 123-4567", "555-987-6543", "+1 555 222 3333"], "phone numbers"),
        (["MRN-0012345", "MRN-0099887", "mrn 1234567"], "medical record numbers"),
    ],
)
def test_values_that_look_like_identifiers(values: list[str | None], kind: str) -> None:
    assert phi_reason("ref", values) == f"its values look like {kind}"


def test_a_few_lookalikes_are_not_enough() -> None:
    values = ["123-45-6789", "north", "south", "east", "west"]
    assert phi_reason("code", values) is None


CSV = (
    b"visit_date,Patient Name,contact,ref,region,charges\n"
    b"2024-01-01,Ann Lee,ann@example.org,123-45-6789,north,100\n"
    b"2024-01-02,Bo Chan,bo@example.org,987-65-4321,south,50\n"
)


def test_hipaa_import_flags_and_keeps_an_admins_choice(load: Importer, engine: Engine) -> None:
    load("visits", "visits.csv", CSV, detect_phi=True)
    with engine.connect() as connection:
        flags = {column.name: column.phi for column in datasets.get_columns(connection, "visits")}
    assert flags == {
        "visit_date": False,
        "patient_name": True,
        "contact": True,
        "ref": True,
        "region": False,
        "charges": False,
    }
    with engine.begin() as connection:
        datasets.update_columns(connection, "visits", [datasets.ColumnChange("contact", phi=False)])
    load("visits", "visits.csv", CSV + b"2024-01-03,Cy Dee,cy@example.org,111-22-3333,east,10\n", detect_phi=True)
    with engine.connect() as connection:
        assert not next(c for c in datasets.get_columns(connection, "visits") if c.name == "contact").phi


def test_outside_hipaa_mode_nothing_is_flagged(load: Importer, engine: Engine) -> None:
    load("visits", "visits.csv", CSV)
    with engine.connect() as connection:
        assert not any(column.phi for column in datasets.get_columns(connection, "visits"))

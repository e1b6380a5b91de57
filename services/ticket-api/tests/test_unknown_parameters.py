"""Every list of ticket-api refuses a query parameter it does not declare, naming it.

A misspelt filter answered with the whole list makes an integrator believe the filter worked.
"""

from __future__ import annotations

import pytest

from conftest import ADMIN, AGENT, Api, is_problem


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/tickets", AGENT),
        ("/v1/tenants", ADMIN),
        ("/v1/tenants/acme/contacts", ADMIN),
        ("/v1/policies", AGENT),
    ],
)
def test_an_unknown_parameter_on_any_list_is_a_400_naming_it(
    api: Api, path: str, headers: dict[str, str]
) -> None:
    assert api.client.get(path, headers=headers).status_code == 200
    refused = api.client.get(
        path, params={"stauts": "open"}, headers={**headers, "Accept-Language": "en"}
    )
    assert is_problem(refused, 400), refused.text
    assert refused.json()["code"] == "unknown-parameter"
    assert "'stauts'" in refused.json()["detail"]

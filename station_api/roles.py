"""Operator roles and their permissions, kept as data (STYLE §8): the least-privilege policy of the API."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    """The operator roles of issue 8."""

    ENROLLMENT_OFFICER = "enrollment_officer"
    SUPERVISOR = "supervisor"
    PERSONALIZATION_OPERATOR = "personalization_operator"
    VERIFIER = "verifier"
    PKI_OPERATOR = "pki_operator"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Permission(StrEnum):
    """One permission per kind of action; every API route requires exactly one."""

    CITIZENS_READ = "citizens:read"
    CARDS_READ = "cards:read"
    CARDS_REPORT = "cards:report"  # report lost / stolen
    CARDS_REVOKE = "cards:revoke"
    CARDS_REPLACE = "cards:replace"
    VERIFICATIONS = "verifications:run"
    AUDIT_READ = "audit:read"
    OPERATORS_MANAGE = "operators:manage"
    PKI_READ = "pki:read"
    PKI_OPERATE = "pki:operate"
    PKI_APPROVE = "pki:approve"
    APPLICATIONS_CREATE = "applications:create"
    APPLICATIONS_READ = "applications:read"
    APPLICATIONS_DECIDE = "applications:decide"  # approve / reject (four eyes)
    PORTRAIT_UPLOAD = "portrait:upload"
    JOBS_RUN = "personalization:run"
    JOBS_READ = "personalization:read"
    SELF = "self:read"  # "who am I": any authenticated operator


#: Role → permissions. Decision: an admin manages accounts and agencies only; it is not a super-user
#: (it can neither read citizens nor run PKI operations nor verify cards), so that a stolen admin token
#: does not open the population data; the auditor reads and verifies the audit log and nothing else.
ROLE_PERMISSIONS: MappingProxyType[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.ENROLLMENT_OFFICER: frozenset(
            {
                Permission.SELF,
                Permission.CITIZENS_READ,
                Permission.CARDS_READ,
                Permission.CARDS_REPORT,
                Permission.CARDS_REPLACE,
                Permission.APPLICATIONS_CREATE,
                Permission.APPLICATIONS_READ,
                Permission.PORTRAIT_UPLOAD,
            }
        ),
        Role.SUPERVISOR: frozenset(
            {
                Permission.SELF,
                Permission.CITIZENS_READ,
                Permission.CARDS_READ,
                Permission.CARDS_REPORT,
                Permission.CARDS_REVOKE,
                Permission.CARDS_REPLACE,
                Permission.APPLICATIONS_CREATE,
                Permission.APPLICATIONS_READ,
                Permission.APPLICATIONS_DECIDE,
                Permission.PORTRAIT_UPLOAD,
                Permission.JOBS_READ,
            }
        ),
        Role.PERSONALIZATION_OPERATOR: frozenset(
            {
                Permission.SELF,
                Permission.CARDS_READ,
                Permission.APPLICATIONS_READ,
                Permission.JOBS_RUN,
                Permission.JOBS_READ,
            }
        ),
        Role.VERIFIER: frozenset({Permission.SELF, Permission.VERIFICATIONS}),
        Role.PKI_OPERATOR: frozenset(
            {Permission.SELF, Permission.PKI_READ, Permission.PKI_OPERATE, Permission.PKI_APPROVE}
        ),
        Role.AUDITOR: frozenset({Permission.SELF, Permission.AUDIT_READ}),
        Role.ADMIN: frozenset({Permission.SELF, Permission.OPERATORS_MANAGE}),
    }
)


def role_has(role: Role | str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


#: The fields of a verification answer an agency can be granted (names after VN DG13, VN_CARD.md).
AGENCY_FIELDS: tuple[str, ...] = (
    "personal_id",
    "full_name",
    "date_of_birth",
    "sex",
    "nationality",
    "ethnicity",
    "religion",
    "place_of_origin",
    "place_of_residence",
    "identifying_features",
    "date_of_issue",
    "date_of_expiry",
    "father_name",
    "mother_name",
    "spouse_name",
    "old_id_number",
    "portrait",
)

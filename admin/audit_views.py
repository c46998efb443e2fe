"""The audit log (admin only)."""

from __future__ import annotations

from flask import render_template, request

from admin import bp
from admin.access import permission_required
from admin.auditlog import AuditFilter, audit_page


@bp.get("/audit")
@permission_required("audit.read")
def audit_log():
    """Who changed what and when, with before and after (?entity=, ?entity_id=, ?actor=, ?action=, ?page=)."""
    args = request.args
    filters = AuditFilter(
        entity=args.get("entity") or None, entity_id=args.get("entity_id") or None,
        actor=args.get("actor") or None, action=args.get("action") or None,
    )
    return render_template("admin/audit.html", page=audit_page(filters, args.get("page", 1, type=int)), filters=filters)

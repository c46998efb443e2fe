"""The audit log (admin only; a scoped admin reads its subtree's entries, admin.auditlog)."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from admin import audit_text, bp
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
    return render_template("admin/audit.html", page=audit_page(current_user, filters, args.get("page", 1, type=int)), filters=filters,
                           actions=sorted(audit_text.ACTION_LABELS.items(), key=lambda kv: kv[0]))

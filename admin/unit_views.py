"""Units: the tree, one unit with its population margins, and the CSV import."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user

from admin import bp, units
from admin.access import permission_required
from admin.formflow import attempt
from admin.forms import UnitsImportForm


@bp.get("/units")
@permission_required("read")
def units_tree():
    return render_template("admin/units.html", roots=units.tree(current_user))


@bp.route("/units/import", methods=["GET", "POST"])
@permission_required("units.manage")
def units_import():
    """Upload units.csv (and population.csv); a bad row is named by file, line and column."""
    form = UnitsImportForm()
    outcome = None
    if form.is_submitted():
        outcome = attempt(form, lambda: units.import_uploads(current_user, form.units.data, form.population.data))
        if outcome:
            flash(f"导入完成。{outcome.value}")
            return redirect(url_for("admin.units_tree"))
    status = outcome.status if outcome is not None else 200
    return render_template("admin/units_import.html", form=form, error=outcome.error if outcome is not None else None), status


@bp.get("/units/template.csv")
@permission_required("units.manage")
def units_template():
    """The units file to fill in: Chinese headers (代码,名称,类型,上级代码) and kinds, example rows."""
    return Response(units.template_csv(), mimetype="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="units-template.csv"', "Cache-Control": "private, no-store",
    })


@bp.get("/units/<unit_code>")
@permission_required("read")
def unit(unit_code: str):
    return render_template("admin/unit.html", detail=units.unit_detail(current_user, unit_code))

"""Turning stored results into files people read: exports, charts, PDFs and boards.

    reports.build     build_report(wave, kind) -> PDF bytes; report_filename; KINDS
    reports.data      the one place that reads the database: stored results, the trend of the
                      series, residents' comments, 约谈 case dates, poster links (ReportData)
    reports.model     the report's shape from a WaveResult: peer groups, headlines, interview list
    reports.charts    matplotlib charts (SVG, Noto Sans CJK SC): ranked dot plot, trend, answers
    reports.render    render_{quarterly,interviews,board}_html (Jinja, autoescaped); html_to_pdf
    reports.posters   render_posters_html: QR posters and door-to-door cards
    reports.exports   JSON / CSV / XLSX of the stored results (`analysis export`)
    reports.cli       `flask --app app report build`

Nothing here knows how the results were computed; `reports.data` is the only module that queries.
"""

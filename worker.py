"""The background worker's entry point (docs/jobs.md):

    .venv/bin/huey_consumer worker.huey --workers 2

Creates the app (its configuration from the environment, as gunicorn's: DATABASE_URL, JOBS_DIR,
JOBS_QUEUE_URL …) so that each job runs in its app context, and hands Huey the queue.
"""

from app import create_app
from jobs.queue import huey

app = create_app()
# The worker is not a web server: loading a wave's responses may pause the garbage collector
# (survey.results.bulk_loading); the web process leaves PAUSE_GC_WHILE_LOADING off.
app.config["PAUSE_GC_WHILE_LOADING"] = True

__all__ = ["app", "huey"]

"""Background jobs: analysis runs and document builds, on Huey (docs/jobs.md).

    jobs.queue      the Huey instance (SQLite file by default, Redis with JOBS_QUEUE_URL), the one
                    task `run_job(job_id)`, and the start-up recovery of interrupted jobs
    jobs.state      the fingerprint of a job's inputs and of the data they are read from
    jobs.service    asking for a job (get or create by fingerprint, enqueue), reading it back
    jobs.runner     what a worker does with a job: claim it, build, store the file, record the outcome
    jobs.retention  which built files are kept: a newer build deletes the file it supersedes;
                    `prune` (`flask --app app jobs prune`, jobs.cli) what is no longer in use
    jobs.charts     the results page's charts, drawn after a run and kept as files

The worker is the top-level module `worker.py` (`huey_consumer worker.huey`): the app and the queue.
A web request only asks for a job and reads its row; the work happens in the worker.
"""

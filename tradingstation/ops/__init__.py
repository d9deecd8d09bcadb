"""Operations tooling with no Dagster at module level: alerts (log, webhook, e-mail; secrets
redacted), structured logs, health verdicts and deployment verification, live run progress,
Markdown tables of frames for the UI (``tables``)."""

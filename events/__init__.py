"""After the call: the job queue's workers, webhook deliveries, texts, e-mails, summaries."""

"""Outgoing e-mail: an outbox written with the state change, French templates, and a worker
that delivers through SMTP. It knows nothing of cheques: a domain hands it an event name,
a recipient and template data."""

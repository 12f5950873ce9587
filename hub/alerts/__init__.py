"""Care-home staff alerts: fall events become alerts with state, escalation, staff accounts,
Web Push and live updates. The hub entry point is :mod:`hub.services.falls`."""

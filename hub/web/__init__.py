"""Static files of the care-staff PWA, served by hub.alerts.api at /app/ (shipped as package data)."""

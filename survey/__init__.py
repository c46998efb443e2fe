"""Units, questionnaires, waves, QR links, the resident form and response intake."""

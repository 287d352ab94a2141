"""A trust as every party that stands for one sees it: its catalogue laid over the calendar, its weekly
clinic templates, and the FHIR resources (Organization, HealthcareService, Schedule, Slot) it is shown as."""

"""Before and after a meeting: plans, invitations (iCalendar, SMS text), room codes, drop-in lines and opening
hours, repair diagnoses and the summary for the journal."""

"""Meetups (events, named so they never clash with interaction events): online or offline, capacity and a
waitlist, optional fees through checkout (purpose 'meetup'), venue check-in, reminders."""

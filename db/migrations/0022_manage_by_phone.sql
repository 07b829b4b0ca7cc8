-- Callers cancel and move their own bookings by phone (matched by caller ID, confirmed
-- before acting): on by default, and for every client that books through the agent.
ALTER TABLE clients ALTER COLUMN enabled_tools
    SET DEFAULT ARRAY['get_available_slots', 'book_appointment', 'end_call', 'take_message',
                      'find_appointments', 'cancel_appointment', 'reschedule_appointment'];
UPDATE clients
    SET enabled_tools = enabled_tools || ARRAY(
        SELECT t FROM unnest(ARRAY['find_appointments', 'cancel_appointment',
                                   'reschedule_appointment']) AS t
        WHERE NOT t = ANY (enabled_tools))
    WHERE enabled_tools @> ARRAY['book_appointment'];

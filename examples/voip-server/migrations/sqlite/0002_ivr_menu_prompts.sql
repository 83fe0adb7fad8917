-- What the IVR machine's menus have beyond the seed's columns, so menus
-- live entirely in the database.
--
-- Prompt columns (welcome_message, invalid_message, exit_message,
-- say_message) hold words to speak, or `file:PATH` for a WAV file.

-- played instead of welcome_message when set (`file:/path/greeting.wav`)
ALTER TABLE ivr_menus ADD COLUMN greeting TEXT;
-- 1: a key stops the greeting; 0: the greeting always plays to the end
ALTER TABLE ivr_menus ADD COLUMN barge_in INTEGER NOT NULL DEFAULT 1;
-- what happens once max_failures or max_timeouts is reached (after
-- exit_message): an action_type/action_value pair, hangup when NULL
ALTER TABLE ivr_menus ADD COLUMN exit_action_type TEXT;
ALTER TABLE ivr_menus ADD COLUMN exit_action_value TEXT;
-- said before the option's action ("Transferring to sales")
ALTER TABLE ivr_menu_options ADD COLUMN say_message TEXT;

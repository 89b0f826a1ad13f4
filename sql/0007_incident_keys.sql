-- Incident keys in the shapes people use: INC-117, INC-2026-117, SEC-2026-11-3 (2 to 4
-- parts of letters and digits joined by "-", the first starting with a letter), stored
-- upper-case (cl_incident_key normalises what is typed), at most 40 characters.
ALTER TABLE incidents DROP CONSTRAINT incidents_key_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_key_check
    CHECK (length(key) <= 40 AND key ~ '^[A-Z][A-Z0-9]{0,15}(-[A-Z0-9]{1,16}){1,3}$');
